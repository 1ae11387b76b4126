// NVMe definitions shared by our NVMe/TCP target (src/target/nvmf) and host (src/bdev/nvmf):
// the 64-byte submission and 16-byte completion queue entries, opcodes, status codes, the
// fabrics commands, controller properties, and the byte offsets of the identify, log-page and
// discovery structures that either side builds or reads. Values are from the NVMe Base and
// NVMe over Fabrics specifications; everything on the wire is little-endian (as is x86-64).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ms::nvme {

// ---- queue entries -------------------------------------------------------------------------

// Scatter-gather list descriptor (16 bytes), the command's data pointer over fabrics.
struct SglDescriptor {
    uint64_t address;
    uint32_t length;
    uint8_t reserved[3];
    uint8_t type;  // (descriptor type << 4) | subtype
};
static_assert(sizeof(SglDescriptor) == 16);

// SGL types used by NVMe/TCP.
inline constexpr uint8_t kSglDataBlockOffset = 0x01;     // in-capsule data at `address` (offset)
inline constexpr uint8_t kSglTransportDataBlock = 0x5A;  // data moved by C2HData / R2T+H2CData
inline constexpr uint8_t kSglFlagsPsdtSgl = 0x40;        // Sqe::flags bits 7:6 = 01b (SGL)

struct Sqe {
    uint8_t opcode;
    uint8_t flags;  // bits 1:0 fused, bits 7:6 PSDT
    uint16_t cid;
    uint32_t nsid;  // fabrics commands: byte 4 is fctype
    uint32_t cdw2;
    uint32_t cdw3;
    uint64_t mptr;
    SglDescriptor dptr;
    uint32_t cdw10;
    uint32_t cdw11;
    uint32_t cdw12;
    uint32_t cdw13;
    uint32_t cdw14;
    uint32_t cdw15;

    uint8_t fctype() const { return static_cast<uint8_t>(nsid & 0xff); }
};
static_assert(sizeof(Sqe) == 64);

struct Cqe {
    uint32_t dw0;  // command specific result
    uint32_t dw1;
    uint16_t sqhd;
    uint16_t sqid;
    uint16_t cid;
    uint16_t status;  // bit 0 phase, bits 8:1 SC, 11:9 SCT, 13:12 CRD, 14 More, 15 DNR
};
static_assert(sizeof(Cqe) == 16);

// ---- status -------------------------------------------------------------------------------

enum class Sct : uint8_t { Generic = 0, CommandSpecific = 1, MediaError = 2, Path = 3, Vendor = 7 };

struct Status {
    Sct sct = Sct::Generic;
    uint8_t sc = 0;
    bool dnr = false;
    bool ok() const { return sct == Sct::Generic && sc == 0; }
    // The 15 status bits of Cqe::status above the phase bit (phase left 0).
    uint16_t encode() const {
        return static_cast<uint16_t>((uint16_t{sc} << 1) | (uint16_t(static_cast<uint8_t>(sct)) << 9) |
                                     (dnr ? 0x8000 : 0));
    }
    static Status decode(uint16_t s) {
        return Status{static_cast<Sct>((s >> 9) & 0x7), static_cast<uint8_t>((s >> 1) & 0xff),
                      (s & 0x8000) != 0};
    }
};

// Generic command status (SCT 0).
namespace sc {
inline constexpr uint8_t kSuccess = 0x00;
inline constexpr uint8_t kInvalidOpcode = 0x01;
inline constexpr uint8_t kInvalidField = 0x02;
inline constexpr uint8_t kCommandIdConflict = 0x03;
inline constexpr uint8_t kDataTransferError = 0x04;
inline constexpr uint8_t kAbortedPowerLoss = 0x05;
inline constexpr uint8_t kInternalError = 0x06;
inline constexpr uint8_t kAbortedByRequest = 0x07;
inline constexpr uint8_t kAbortedSqDeletion = 0x08;
inline constexpr uint8_t kInvalidNamespaceOrFormat = 0x0B;
inline constexpr uint8_t kCommandSequenceError = 0x0C;
inline constexpr uint8_t kInvalidSglOffset = 0x16;
inline constexpr uint8_t kTransientTransportError = 0x22;  // e.g. a data digest mismatch
inline constexpr uint8_t kDataSglLengthInvalid = 0x0F;
inline constexpr uint8_t kSglDescriptorTypeInvalid = 0x11;
inline constexpr uint8_t kKeepAliveExpired = 0x1A;
inline constexpr uint8_t kLbaOutOfRange = 0x80;
inline constexpr uint8_t kCapacityExceeded = 0x81;
inline constexpr uint8_t kNamespaceNotReady = 0x82;
inline constexpr uint8_t kNamespaceIsWriteProtected = 0x20;
}  // namespace sc

// Command specific status (SCT 1).
namespace csc {
inline constexpr uint8_t kInvalidQueueIdentifier = 0x01;
inline constexpr uint8_t kInvalidQueueSize = 0x02;
inline constexpr uint8_t kAsyncEventRequestLimitExceeded = 0x05;
inline constexpr uint8_t kInvalidLogPage = 0x09;
inline constexpr uint8_t kFeatureIdNotSaveable = 0x0D;
inline constexpr uint8_t kFeatureNotChangeable = 0x0E;
// Fabrics Connect.
inline constexpr uint8_t kConnectIncompatibleFormat = 0x80;
inline constexpr uint8_t kConnectControllerBusy = 0x81;
inline constexpr uint8_t kConnectInvalidParameters = 0x82;
inline constexpr uint8_t kConnectRestartDiscovery = 0x83;
inline constexpr uint8_t kConnectInvalidHost = 0x84;
}  // namespace csc

// Path related status (SCT 3): ANA.
namespace psc {
inline constexpr uint8_t kAsymmetricAccessPersistentLoss = 0x01;
inline constexpr uint8_t kAsymmetricAccessInaccessible = 0x02;
inline constexpr uint8_t kAsymmetricAccessTransition = 0x03;
}  // namespace psc

// ---- opcodes ------------------------------------------------------------------------------

enum class AdminOpc : uint8_t {
    GetLogPage = 0x02,
    Identify = 0x06,
    Abort = 0x08,
    SetFeatures = 0x09,
    GetFeatures = 0x0A,
    AsyncEventRequest = 0x0C,
    KeepAlive = 0x18,
    FabricsCommand = 0x7F,
    // Mayastor's vendor-specific command: snapshot every replica behind a nexus; the Unix time
    // in seconds is carried in cdw10 (low 32 bits) and cdw11 (high 32 bits).
    VendorCreateSnapshot = 0xC0,
};

enum class NvmOpc : uint8_t {
    Flush = 0x00,
    Write = 0x01,
    Read = 0x02,
    WriteZeroes = 0x08,
    DatasetManagement = 0x09,
    FabricsCommand = 0x7F,
};

enum class FabricsType : uint8_t {
    PropertySet = 0x00,
    Connect = 0x01,
    PropertyGet = 0x04,
    AuthenticationSend = 0x05,
    AuthenticationReceive = 0x06,
    Disconnect = 0x08,
};

// ---- fabrics Connect ----------------------------------------------------------------------
// Command: cdw10 = recfmt (15:0, must be 0) | qid (31:16); cdw11 = sqsize (15:0, 0's based) |
// cattr (23:16); cdw12 = kato in ms (admin queue only). Data: ConnectData, 1024 bytes,
// in-capsule. Response dw0 bits 15:0 = controller ID.

struct ConnectData {
    uint8_t hostid[16];
    uint16_t cntlid;  // 0xFFFF: dynamic controller model (admin queue); the admin's ID for I/O
    uint8_t reserved1[238];
    char subnqn[256];
    char hostnqn[256];
    uint8_t reserved2[256];
};
static_assert(sizeof(ConnectData) == 1024);

inline constexpr uint16_t kDynamicCntlid = 0xFFFF;
inline constexpr uint16_t kMinCntlid = 1;
inline constexpr uint16_t kMaxCntlid = 0xFFEF;

// ---- controller properties (Property Get/Set: cdw10 bits 2:0 = size, 0 = 4 bytes, 1 = 8;
// cdw11 = offset; Set's value in cdw12 (and cdw13); Get's value in Cqe dw0 (and dw1)) ---------

namespace prop {
inline constexpr uint32_t kCap =
    0x00;  // 8 bytes: MQES 15:0 (0's based), CQR 16, TO 31:24 (500 ms units), CSS 44:37
inline constexpr uint32_t kVs = 0x08;  // 4 bytes: MJR 31:16, MNR 15:8
inline constexpr uint32_t kCc =
    0x14;  // 4 bytes: EN 0, CSS 6:4, MPS 10:7, AMS 13:11, SHN 15:14, IOSQES 19:16, IOCQES 23:20
inline constexpr uint32_t kCsts =
    0x1C;  // 4 bytes: RDY 0, CFS 1, SHST 3:2 (0 normal, 1 occurring, 2 complete)
inline constexpr uint32_t kNssr = 0x20;  // 4 bytes
}  // namespace prop

inline constexpr uint32_t kVersion_1_3 = 0x00010300;
inline constexpr uint32_t kVersion_1_4 = 0x00010400;

// ---- identify (Identify: cdw10 bits 7:0 = CNS; 4096 bytes of data) ---------------------------

inline constexpr std::size_t kIdentifySize = 4096;

namespace cns {
inline constexpr uint8_t kNamespace = 0x00;
inline constexpr uint8_t kController = 0x01;
inline constexpr uint8_t kActiveNamespaceList = 0x02;
inline constexpr uint8_t kNamespaceIdDescriptors = 0x03;
}  // namespace cns

// Byte offsets in the identify-controller data (sizes in the comments).
namespace idctrl {
inline constexpr std::size_t kVid = 0;      // 2
inline constexpr std::size_t kSsvid = 2;    // 2
inline constexpr std::size_t kSn = 4;       // 20, ASCII, space padded
inline constexpr std::size_t kMn = 24;      // 40, ASCII, space padded
inline constexpr std::size_t kFr = 64;      // 8, ASCII, space padded
inline constexpr std::size_t kRab = 72;     // 1
inline constexpr std::size_t kIeee = 73;    // 3
inline constexpr std::size_t kCmic = 76;    // 1: bit 3 = ANA reporting, bit 1 = multi-controller
inline constexpr std::size_t kMdts = 77;    // 1: max transfer = 2^MDTS * 4 KiB (min page size), 0 = none
inline constexpr std::size_t kCntlid = 78;  // 2
inline constexpr std::size_t kVer = 80;     // 4
inline constexpr std::size_t kOaes = 92;    // 4: bit 8 namespace attribute notices, bit 11 ANA change notices
inline constexpr std::size_t kCtratt = 96;  // 4
inline constexpr std::size_t kCntrltype = 111;  // 1: 1 I/O controller, 2 discovery controller
inline constexpr std::size_t kOacs = 256;       // 2
inline constexpr std::size_t kAcl = 258;        // 1 (0's based)
inline constexpr std::size_t kAerl = 259;       // 1 (0's based)
inline constexpr std::size_t kFrmw = 260;       // 1
inline constexpr std::size_t kLpa = 261;        // 1: bit 2 extended data for get log page
inline constexpr std::size_t kElpe = 262;       // 1 (0's based)
inline constexpr std::size_t kKas = 320;        // 2: keep-alive granularity in 100 ms units
inline constexpr std::size_t kAnatt = 343;      // 1: ANA transition time, seconds
inline constexpr std::size_t kAnacap = 344;     // 1: bit 0..4 states reported, bit 6 ANAGRPID not changing
inline constexpr std::size_t kAnagrpmax = 345;  // 4
inline constexpr std::size_t kNanagrpid = 349;  // 4
inline constexpr std::size_t kSqes = 512;       // 1: 0x66 (64-byte SQEs)
inline constexpr std::size_t kCqes = 513;       // 1: 0x44 (16-byte CQEs)
inline constexpr std::size_t kMaxcmd = 514;     // 2
inline constexpr std::size_t kNn = 516;         // 4: highest namespace ID
inline constexpr std::size_t kOncs = 520;       // 2: bit 2 DSM, bit 3 write zeroes
inline constexpr std::size_t kFuses = 522;      // 2
inline constexpr std::size_t kVwc = 525;        // 1: bit 0 volatile write cache present
inline constexpr std::size_t kSgls = 536;       // 4: bits 1:0 = 01b SGLs supported, bit 20 offset addressing
inline constexpr std::size_t kMnan = 540;       // 4
inline constexpr std::size_t kSubnqn = 768;     // 256, NUL terminated
inline constexpr std::size_t kIoccsz = 1792;    // 4: I/O command capsule size in 16-byte units
inline constexpr std::size_t kIorcsz = 1796;    // 4: I/O response capsule size in 16-byte units
inline constexpr std::size_t kIcdoff = 1800;    // 2: in-capsule data offset, 16-byte units
inline constexpr std::size_t kFcatt = 1802;     // 1: 0 dynamic controller model
inline constexpr std::size_t kMsdbd = 1803;     // 1: max SGL data block descriptors
}  // namespace idctrl

// Byte offsets in the identify-namespace data.
namespace idns {
inline constexpr std::size_t kNsze = 0;       // 8, blocks
inline constexpr std::size_t kNcap = 8;       // 8
inline constexpr std::size_t kNuse = 16;      // 8
inline constexpr std::size_t kNsfeat = 24;    // 1
inline constexpr std::size_t kNlbaf = 25;     // 1 (0's based)
inline constexpr std::size_t kFlbas = 26;     // 1: bits 3:0 = LBA format index
inline constexpr std::size_t kNmic = 30;      // 1: bit 0 may be shared
inline constexpr std::size_t kDlfeat = 33;    // 1: bits 2:0 = 001b deallocated reads zeroes
inline constexpr std::size_t kAnagrpid = 92;  // 4
inline constexpr std::size_t kNguid = 104;    // 16
inline constexpr std::size_t kEui64 = 120;    // 8
inline constexpr std::size_t kLbaf0 = 128;  // 4 per format: MS 15:0, LBADS 23:16 (log2 block size), RP 25:24
}  // namespace idns

// Namespace identification descriptor types (CNS 03h): 4-byte header {type, length, 0, 0}.
namespace nidt {
inline constexpr uint8_t kEui64 = 1;  // length 8
inline constexpr uint8_t kNguid = 2;  // length 16
inline constexpr uint8_t kUuid = 3;   // length 16
}  // namespace nidt

// ---- log pages (Get Log Page: cdw10 bits 7:0 = LID, bits 31:16 = NUMDL (dwords, 0's based),
// cdw11 bits 15:0 = NUMDU; cdw12/13 = offset in bytes) -------------------------------------------

namespace lid {
inline constexpr uint8_t kErrorInformation = 0x01;      // 64 bytes per entry
inline constexpr uint8_t kSmartHealth = 0x02;           // 512 bytes
inline constexpr uint8_t kFirmwareSlot = 0x03;          // 512 bytes
inline constexpr uint8_t kChangedNamespaceList = 0x04;  // 1024 nsids (4096 bytes)
inline constexpr uint8_t kAna = 0x0C;
inline constexpr uint8_t kDiscovery = 0x70;
}  // namespace lid

// ANA log: 16-byte header {change count u64, group descriptor count u16, 6 reserved}, then per
// group {ANAGRPID u32, NNSID u32, change count u64, state u8, 15 reserved, NSIDs u32[NNSID]}.
// With cdw10 bit 8 (RGO) set only the groups, no NSIDs.
enum class AnaState : uint8_t {
    Optimized = 0x1,
    NonOptimized = 0x2,
    Inaccessible = 0x3,
    PersistentLoss = 0x4,
    Change = 0xF,
};

// Discovery log: 1024-byte header {generation u64, record count u64, record format u16},
// then 1024-byte entries.
namespace disc {
inline constexpr std::size_t kHeaderSize = 1024;
inline constexpr std::size_t kEntrySize = 1024;
inline constexpr std::size_t kGenctr = 0;   // 8
inline constexpr std::size_t kNumrec = 8;   // 8
inline constexpr std::size_t kRecfmt = 16;  // 2
// Entry offsets.
inline constexpr std::size_t kTrtype = 0;    // 1: 3 = TCP
inline constexpr std::size_t kAdrfam = 1;    // 1: 1 = IPv4, 2 = IPv6
inline constexpr std::size_t kSubtype = 2;   // 1: 2 = NVM subsystem, 3 = current discovery subsystem
inline constexpr std::size_t kTreq = 3;      // 1: bits 1:0 secure channel (2 = not required)
inline constexpr std::size_t kPortid = 4;    // 2
inline constexpr std::size_t kCntlid = 6;    // 2
inline constexpr std::size_t kAsqsz = 8;     // 2
inline constexpr std::size_t kTrsvcid = 32;  // 32, ASCII port number, space padded
inline constexpr std::size_t kSubnqn = 256;  // 256
inline constexpr std::size_t kTraddr = 512;  // 256, ASCII address, space padded
inline constexpr std::size_t kTsas = 768;    // 256: TCP byte 0 = SECTYPE (0 none)
inline constexpr uint8_t kTrtypeTcp = 3;
inline constexpr uint8_t kAdrfamIpv4 = 1;
inline constexpr uint8_t kAdrfamIpv6 = 2;
inline constexpr uint8_t kSubtypeNvm = 2;
inline constexpr uint8_t kSubtypeCurrentDiscovery = 3;
}  // namespace disc

// ---- features (Get/Set Features: cdw10 bits 7:0 = FID) ------------------------------------

namespace fid {
inline constexpr uint8_t kArbitration = 0x01;
inline constexpr uint8_t kPowerManagement = 0x02;
inline constexpr uint8_t kTemperatureThreshold = 0x04;
inline constexpr uint8_t kVolatileWriteCache = 0x06;
inline constexpr uint8_t kNumberOfQueues = 0x07;  // cdw11/dw0: NSQR 15:0, NCQR 31:16 (0's based)
inline constexpr uint8_t kInterruptCoalescing = 0x08;
inline constexpr uint8_t kAsyncEventConfig = 0x0B;
inline constexpr uint8_t kKeepAliveTimer = 0x0F;  // cdw11/dw0: KATO in ms
inline constexpr uint8_t kHostIdentifier = 0x81;
}  // namespace fid

// Asynchronous event completion dw0: type 2:0, info 15:8, log page 23:16.
namespace aen {
inline constexpr uint8_t kTypeNotice = 0x2;
inline constexpr uint8_t kInfoNamespaceAttributeChanged = 0x00;
inline constexpr uint8_t kInfoAnaChange = 0x03;
inline constexpr uint8_t kInfoDiscoveryLogChange = 0xF0;
}  // namespace aen

// Dataset Management: cdw10 bits 7:0 = number of ranges (0's based), cdw11 bit 2 = deallocate;
// data = ranges of 16 bytes {context attributes u32, length in blocks u32, starting LBA u64}.
struct DsmRange {
    uint32_t attributes;
    uint32_t length;
    uint64_t slba;
};
static_assert(sizeof(DsmRange) == 16);

// ---- names --------------------------------------------------------------------------------

inline constexpr std::string_view kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";
inline constexpr std::string_view kMayastorNqnPrefix = "nqn.2019-05.io.openebs:";
inline constexpr std::string_view kModelNumber = "Mayastor NVMe controller";
inline constexpr uint16_t kReplicaPort = 8420;
inline constexpr uint16_t kNexusPort = 4421;
inline constexpr std::size_t kNqnMaxLength = 223;

}  // namespace ms::nvme
