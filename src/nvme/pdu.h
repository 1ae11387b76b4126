// The NVMe/TCP PDU codec (NVMe over TCP Transport specification): typed PDU headers from
// bytes and bytes from typed headers. Pure: no I/O, no allocation on the hot path, no state
// beyond what the caller passes, so that the target and the host share it and a fuzzer can
// drive it (tests/fuzz/nvmf_pdu_fuzz.cc).
//
// A PDU on the wire: common header (8 bytes) | rest of the PDU header (hlen - 8) | header
// digest (4, if negotiated and the PDU type carries one) | padding up to PDO | data | data
// digest (4, if negotiated and the PDU carries data). A receiver reads the 8-byte common
// header, calls check_common_header() to learn the layout (or the fatal error to report in a
// termination request), reads the rest of the header, calls decode_header(), then reads the
// padding and the data, and checks the data digest with data_digest().
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <variant>

#include <sys/uio.h>  // iovec

#include "nvme/spec.h"

namespace ms::nvme::tcp {

enum class PduType : uint8_t {
    ICReq = 0x00,
    ICResp = 0x01,
    H2CTermReq = 0x02,
    C2HTermReq = 0x03,
    CapsuleCmd = 0x04,
    CapsuleResp = 0x05,
    H2CData = 0x06,
    C2HData = 0x07,
    R2T = 0x09,
};
std::string_view to_string(PduType t);

namespace flags {
inline constexpr uint8_t kHdgst = 0x01;        // a header digest follows the header
inline constexpr uint8_t kDdgst = 0x02;        // a data digest follows the data
inline constexpr uint8_t kDataLast = 0x04;     // H2CData/C2HData: last PDU of the transfer
inline constexpr uint8_t kDataSuccess = 0x08;  // C2HData: command succeeded, no CapsuleResp follows
}  // namespace flags

inline constexpr std::size_t kCommonHeaderSize = 8;
inline constexpr std::size_t kDigestSize = 4;
inline constexpr uint8_t kICReqHlen = 128;
inline constexpr uint8_t kICRespHlen = 128;
inline constexpr uint8_t kTermReqHlen = 24;
inline constexpr uint8_t kCapsuleCmdHlen = 72;
inline constexpr uint8_t kCapsuleRespHlen = 24;
inline constexpr uint8_t kDataHlen = 24;  // H2CData, C2HData
inline constexpr uint8_t kR2THlen = 24;
// A termination request carries at most this many bytes of the offending PDU's header.
inline constexpr std::size_t kTermReqMaxData = 128;
// Largest header any PDU has (ICReq/ICResp) plus its digest: a receive buffer of this size
// always holds a whole header.
inline constexpr std::size_t kMaxHeaderSize = 128 + kDigestSize;

// Fatal error status of a termination request (FES).
enum class Fes : uint16_t {
    InvalidHeaderField = 0x01,
    PduSequenceError = 0x02,
    HeaderDigestError = 0x03,
    DataTransferOutOfRange = 0x04,
    DataTransferLimitExceeded = 0x05,  // R2T limit exceeded
    UnsupportedParameter = 0x06,
};

// Something wrong in received bytes: the connection must be terminated with a termination
// request carrying `fes` and `fei` (for InvalidHeaderField: the byte offset of the bad field
// in the PDU header), then closed. `message` says what was wrong, for the log.
struct PduError {
    Fes fes = Fes::InvalidHeaderField;
    uint32_t fei = 0;
    std::string message;
};
template <typename T>
using PduResult = std::expected<T, PduError>;

// Who receives the bytes being decoded: a target accepts only host-to-controller PDU types
// (ICReq, H2CTermReq, CapsuleCmd, H2CData), a host only controller-to-host ones.
enum class Receiver : uint8_t { Target, Host };

// What ICReq/ICResp negotiated for a connection. Before the exchange `established` is false
// and only ICReq (at a target) or ICResp (at a host) is acceptable.
struct ConnectionParams {
    bool established = false;
    bool hdgst = false;
    bool ddgst = false;
    // Data alignment in dwords, 0's based: HPDA (asked by the host in ICReq) for PDUs carrying
    // data from the controller to the host, CPDA (asked by the controller in ICResp) for PDUs
    // carrying data from the host to the controller.
    uint8_t hpda = 0;
    uint8_t cpda = 0;
    // Largest data a received PDU may carry (in-capsule data for a CapsuleCmd, H2CData
    // length at a target; C2HData length at a host). 0 = no limit beyond plen.
    uint32_t max_data = 0;
};

struct CommonHeader {
    PduType type{};
    uint8_t flags = 0;
    uint8_t hlen = 0;
    uint8_t pdo = 0;
    uint32_t plen = 0;
};

// Where the parts of a PDU are, from its common header. Offsets from the first byte of the PDU.
struct PduLayout {
    CommonHeader ch;
    uint32_t header_size = 0;       // hlen + header digest
    uint32_t data_offset = 0;       // start of data (PDO), or plen if none
    uint32_t data_size = 0;         // data bytes (without digest)
    uint32_t data_digest_size = 0;  // 0 or 4
    bool has_data() const { return data_size != 0; }
};

// Validates the 8-byte common header of a PDU received by `who` under `params`: known type for
// that direction, hlen of that type, digest flags as negotiated, pdo/plen consistent (pdo
// aligned as negotiated, data within plen, data no larger than params.max_data), and returns
// the layout. Errors carry the FES/FEI to report.
PduResult<PduLayout> check_common_header(std::span<const uint8_t> bytes, Receiver who,
                                         const ConnectionParams& params);

// ---- typed headers ------------------------------------------------------------------------

struct ICReq {
    uint16_t pfv = 0;     // PDU format version, 0
    uint8_t hpda = 0;     // host PDU data alignment, dwords 0's based (0..31)
    bool hdgst = false;   // header digest requested
    bool ddgst = false;   // data digest requested
    uint32_t maxr2t = 0;  // max outstanding R2Ts per command, 0's based
};

struct ICResp {
    uint16_t pfv = 0;
    uint8_t cpda = 0;          // controller PDU data alignment, dwords 0's based
    bool hdgst = false;        // header digest enabled
    bool ddgst = false;        // data digest enabled
    uint32_t maxh2cdata = 0;   // max H2CData PDU data length, bytes (>= 4096, multiple of 4)
};

struct TermReq {
    Fes fes = Fes::InvalidHeaderField;
    uint32_t fei = 0;
    // The offending header bytes the peer echoed (points into the decoded buffer).
    std::span<const uint8_t> offending;
};

struct CapsuleCmd {
    Sqe sqe{};
};

struct CapsuleResp {
    Cqe cqe{};
};

// H2CData and C2HData.
struct DataHeader {
    uint16_t cccid = 0;   // command capsule CID
    uint16_t ttag = 0;    // transfer tag (H2CData: from the R2T; C2HData: reserved)
    uint32_t datao = 0;   // offset of this PDU's data in the command's data
    uint32_t datal = 0;   // data length in this PDU
    bool last = false;    // flags::kDataLast
    bool success = false; // flags::kDataSuccess (C2HData only)
};

struct R2T {
    uint16_t cccid = 0;
    uint16_t ttag = 0;
    uint32_t r2to = 0;  // offset of the data requested
    uint32_t r2tl = 0;  // length of the data requested
};

using PduBody = std::variant<ICReq, ICResp, TermReq, CapsuleCmd, CapsuleResp, DataHeader, R2T>;

struct Pdu {
    PduLayout layout;
    PduBody body;
};

// Decodes a whole PDU header: `bytes` holds at least layout.header_size bytes from the start
// of the PDU (header and its digest, if any), where `layout` came from check_common_header on
// the same bytes. Checks the header digest and every field (reserved bytes must be zero where
// the spec says so, DATAL consistent with plen, C2HData SUCCESS only with LAST, ICReq PFV 0 and
// HPDA <= 31, ...).
PduResult<Pdu> decode_header(std::span<const uint8_t> bytes, const PduLayout& layout, Receiver who,
                             const ConnectionParams& params);

// Checks a received data digest (the 4 bytes after the data) against the data.
bool data_digest_ok(std::span<const iovec> data, std::span<const uint8_t, kDigestSize> digest);
uint32_t data_digest(std::span<const iovec> data);

// ---- encoding -------------------------------------------------------------------------------
// Each encoder writes a whole PDU header (with the header digest if params.hdgst and the PDU type
// carries one; ICReq, ICResp and termination requests never do) into `out` and returns its size; for PDUs with data, plen includes the data
// (`data_len`), padding to the negotiated alignment, and the data digest if params.ddgst. The
// caller sends the header, any padding (header_padding()), the data, then data_digest() if
// enabled. `out` must hold kMaxHeaderSize bytes.

std::size_t encode_icreq(std::span<uint8_t> out, const ICReq& r);
std::size_t encode_icresp(std::span<uint8_t> out, const ICResp& r);
// H2CTermReq (host) or C2HTermReq (target); `offending` truncated to kTermReqMaxData.
std::size_t encode_term_req(std::span<uint8_t> out, PduType type, Fes fes, uint32_t fei,
                            std::span<const uint8_t> offending);
// In-capsule data of `data_len` bytes follows (placed at the aligned PDO).
std::size_t encode_capsule_cmd(std::span<uint8_t> out, const ConnectionParams& params, const Sqe& sqe,
                               uint32_t data_len);
std::size_t encode_capsule_resp(std::span<uint8_t> out, const ConnectionParams& params, const Cqe& cqe);
// H2CData (host) or C2HData (target) carrying h.datal bytes.
std::size_t encode_data(std::span<uint8_t> out, PduType type, const ConnectionParams& params,
                        const DataHeader& h);
std::size_t encode_r2t(std::span<uint8_t> out, const ConnectionParams& params, const R2T& r);

// Padding bytes between the header (with digest) and the data for a PDU sent to `peer`: a
// target pads C2HData to the host's HPDA, a host pads in-capsule data and H2CData to the
// controller's CPDA. 0 when no padding.
uint32_t header_padding(const ConnectionParams& params, Receiver peer, uint32_t header_size);

}  // namespace ms::nvme::tcp
