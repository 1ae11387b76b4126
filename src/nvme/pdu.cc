// The NVMe/TCP PDU codec: validation of received common headers and PDU headers (with the
// FES/FEI a termination request must carry when they are wrong) and the encoders of every PDU
// header. Field offsets and rules are those of the NVMe/TCP transport specification; the
// receiver reports the lowest wrong field first, as the specification asks.
//
// Choices where the specification leaves room (the target and host rely on them):
// - Termination requests are accepted before the ICReq/ICResp exchange too (a controller
//   answers a bad ICReq with a C2HTermReq, and the host must be able to read it).
// - A PDU type that may carry data has data exactly when PLEN is larger than the header and its
//   digest; PDO is 0 then, otherwise at least the header size, aligned to the receiver's PDA.
//   H2CData and C2HData must carry data.
// - FEI: for InvalidHeaderField the byte offset of the field; for HeaderDigestError the digest
//   received; 0 otherwise.
// - encode_term_req writes the whole PDU (header and the echoed bytes) and returns its length.
#include "nvme/pdu.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/crc32c.h"

namespace ms::nvme::tcp {
namespace {

// Byte offsets of fields in PDU headers.
namespace off {
inline constexpr uint32_t kType = 0;
inline constexpr uint32_t kFlags = 1;
inline constexpr uint32_t kHlen = 2;
inline constexpr uint32_t kPdo = 3;
inline constexpr uint32_t kPlen = 4;
// ICReq / ICResp.
inline constexpr uint32_t kPfv = 8;
inline constexpr uint32_t kPda = 10;  // HPDA (ICReq), CPDA (ICResp)
inline constexpr uint32_t kDgst = 11;
inline constexpr uint32_t kMaxr2t = 12;      // ICReq
inline constexpr uint32_t kMaxh2cdata = 12;  // ICResp
// Termination requests.
inline constexpr uint32_t kFes = 8;
inline constexpr uint32_t kFei = 10;
// CapsuleCmd / CapsuleResp: the SQE / CQE.
inline constexpr uint32_t kCapsule = 8;
// H2CData / C2HData / R2T.
inline constexpr uint32_t kCccid = 8;
inline constexpr uint32_t kTtag = 10;
inline constexpr uint32_t kDatao = 12;  // R2TO for R2T
inline constexpr uint32_t kDatal = 16;  // R2TL for R2T
}  // namespace off

inline constexpr uint8_t kDgstHdgst = 0x01;  // ICReq/ICResp DGST byte
inline constexpr uint8_t kDgstDdgst = 0x02;
inline constexpr uint32_t kMaxPda = 31;
inline constexpr uint32_t kMinMaxh2cdata = 4096;

template <typename T>
T load(std::span<const uint8_t> b, std::size_t at) {
    T v;
    std::memcpy(&v, b.data() + at, sizeof(T));
    return v;
}

template <typename T>
void store(std::span<uint8_t> b, std::size_t at, T v) {
    std::memcpy(b.data() + at, &v, sizeof(T));
}

std::unexpected<PduError> fail(Fes fes, uint32_t fei, std::string message) {
    return std::unexpected(PduError{fes, fei, std::move(message)});
}

std::unexpected<PduError> bad_field(uint32_t fei, std::string message) {
    return fail(Fes::InvalidHeaderField, fei, std::move(message));
}

bool known_type(uint8_t t) {
    return t <= 0x07 || t == 0x09;
}

// Host-to-controller PDU types are even, controller-to-host ones odd (R2T = 9 included).
bool to_target(PduType t) {
    return (static_cast<uint8_t>(t) & 1) == 0;
}

uint8_t expected_hlen(PduType t) {
    switch (t) {
        case PduType::ICReq:
            return kICReqHlen;
        case PduType::ICResp:
            return kICRespHlen;
        case PduType::H2CTermReq:
        case PduType::C2HTermReq:
            return kTermReqHlen;
        case PduType::CapsuleCmd:
            return kCapsuleCmdHlen;
        case PduType::CapsuleResp:
            return kCapsuleRespHlen;
        case PduType::H2CData:
        case PduType::C2HData:
            return kDataHlen;
        case PduType::R2T:
            return kR2THlen;
    }
    return 0;
}

bool is_term_req(PduType t) {
    return t == PduType::H2CTermReq || t == PduType::C2HTermReq;
}

bool is_ic(PduType t) {
    return t == PduType::ICReq || t == PduType::ICResp;
}

// Types whose header may be followed by a header digest.
bool carries_hdgst(PduType t) {
    return !is_ic(t) && !is_term_req(t);
}

// Types that may carry data protected by a data digest.
bool may_carry_data(PduType t) {
    return t == PduType::CapsuleCmd || t == PduType::H2CData || t == PduType::C2HData;
}

uint8_t valid_flags(PduType t) {
    switch (t) {
        case PduType::CapsuleCmd:
            return flags::kHdgst | flags::kDdgst;
        case PduType::CapsuleResp:
        case PduType::R2T:
            return flags::kHdgst;
        case PduType::H2CData:
            return flags::kHdgst | flags::kDdgst | flags::kDataLast;
        case PduType::C2HData:
            return flags::kHdgst | flags::kDdgst | flags::kDataLast | flags::kDataSuccess;
        default:
            return 0;
    }
}

// Data alignment in bytes of PDUs received by `who` (the PDA the receiver asked for).
uint32_t receive_alignment(const ConnectionParams& params, Receiver who) {
    uint32_t pda = who == Receiver::Target ? params.cpda : params.hpda;
    return (pda + 1) * 4;
}

uint32_t header_digest_of(std::span<const uint8_t> header) {
    return ms::crc32c(header);
}

void write_common(std::span<uint8_t> out, PduType type, uint8_t fl, uint8_t hlen, uint8_t pdo,
                  uint32_t plen) {
    out[off::kType] = static_cast<uint8_t>(type);
    out[off::kFlags] = fl;
    out[off::kHlen] = hlen;
    out[off::kPdo] = pdo;
    store<uint32_t>(out, off::kPlen, plen);
}

// Writes a header of `hlen` bytes (zeroed, then common header) for a PDU of `type` that carries
// `data_len` bytes of data sent to `peer`, and returns the header size with digest. The caller
// fills the type specific fields and then calls finish_header().
struct HeaderPlan {
    uint32_t header_size;
    bool hdgst;
};

HeaderPlan begin_header(std::span<uint8_t> out, const ConnectionParams& params, PduType type, Receiver peer,
                        uint8_t extra_flags, uint32_t data_len) {
    uint8_t hlen = expected_hlen(type);
    bool hdgst = params.hdgst && carries_hdgst(type);
    bool ddgst = params.ddgst && data_len != 0 && may_carry_data(type);
    uint32_t header_size = hlen + (hdgst ? kDigestSize : 0);
    uint8_t fl = extra_flags;
    if (hdgst) {
        fl |= flags::kHdgst;
    }
    if (ddgst) {
        fl |= flags::kDdgst;
    }
    uint32_t pdo = 0;
    uint32_t plen = header_size;
    if (data_len != 0) {
        pdo = header_size + header_padding(params, peer, header_size);
        plen = pdo + data_len + (ddgst ? kDigestSize : 0);
    }
    std::memset(out.data(), 0, hlen);
    write_common(out, type, fl, hlen, static_cast<uint8_t>(pdo), plen);
    return HeaderPlan{header_size, hdgst};
}

std::size_t finish_header(std::span<uint8_t> out, PduType type, const HeaderPlan& plan) {
    uint8_t hlen = expected_hlen(type);
    if (plan.hdgst) {
        store<uint32_t>(out, hlen, header_digest_of(out.first(hlen)));
    }
    return plan.header_size;
}

}  // namespace

std::string_view to_string(PduType t) {
    switch (t) {
        case PduType::ICReq:
            return "ICReq";
        case PduType::ICResp:
            return "ICResp";
        case PduType::H2CTermReq:
            return "H2CTermReq";
        case PduType::C2HTermReq:
            return "C2HTermReq";
        case PduType::CapsuleCmd:
            return "CapsuleCmd";
        case PduType::CapsuleResp:
            return "CapsuleResp";
        case PduType::H2CData:
            return "H2CData";
        case PduType::C2HData:
            return "C2HData";
        case PduType::R2T:
            return "R2T";
    }
    return "unknown";
}

PduResult<PduLayout> check_common_header(std::span<const uint8_t> bytes, Receiver who,
                                         const ConnectionParams& params) {
    if (bytes.size() < kCommonHeaderSize) {
        return bad_field(off::kType, fmt::format("common header truncated to {} bytes", bytes.size()));
    }
    CommonHeader ch;
    uint8_t raw_type = bytes[off::kType];
    ch.flags = bytes[off::kFlags];
    ch.hlen = bytes[off::kHlen];
    ch.pdo = bytes[off::kPdo];
    ch.plen = load<uint32_t>(bytes, off::kPlen);

    // PDU-Type: known, of this direction, and in sequence.
    if (!known_type(raw_type)) {
        return bad_field(off::kType, fmt::format("unknown PDU type {:#x}", raw_type));
    }
    ch.type = static_cast<PduType>(raw_type);
    if (to_target(ch.type) != (who == Receiver::Target)) {
        return bad_field(off::kType, fmt::format("{} received by the {}", to_string(ch.type),
                                                 who == Receiver::Target ? "controller" : "host"));
    }
    if (!params.established && !is_ic(ch.type) && !is_term_req(ch.type)) {
        return fail(Fes::PduSequenceError, 0,
                    fmt::format("{} before the connection was initialized", to_string(ch.type)));
    }
    if (params.established && is_ic(ch.type)) {
        return fail(Fes::PduSequenceError, 0,
                    fmt::format("{} on an initialized connection", to_string(ch.type)));
    }

    // FLAGS: no unknown bits, digests as negotiated, SUCCESS only with LAST.
    uint8_t allowed = valid_flags(ch.type);
    if ((ch.flags & ~allowed) != 0) {
        return bad_field(off::kFlags, fmt::format("{} with flags {:#x}", to_string(ch.type), ch.flags));
    }
    bool hdgstf = (ch.flags & flags::kHdgst) != 0;
    bool ddgstf = (ch.flags & flags::kDdgst) != 0;
    bool want_hdgst = params.hdgst && carries_hdgst(ch.type);
    if (hdgstf != want_hdgst) {
        return bad_field(off::kFlags, fmt::format("{} HDGSTF {} but header digests {}", to_string(ch.type),
                                                  int{hdgstf}, want_hdgst ? "enabled" : "disabled"));
    }
    uint32_t header_size = uint32_t{ch.hlen} + (hdgstf ? kDigestSize : 0);
    bool data_present = may_carry_data(ch.type) && ch.plen > header_size;
    bool want_ddgst = params.ddgst && data_present;
    if (ddgstf != want_ddgst) {
        return bad_field(off::kFlags, fmt::format("{} DDGSTF {} but data digests {}", to_string(ch.type),
                                                  int{ddgstf}, want_ddgst ? "expected" : "not expected"));
    }
    if (ch.type == PduType::C2HData && (ch.flags & flags::kDataSuccess) != 0 &&
        (ch.flags & flags::kDataLast) == 0) {
        return bad_field(off::kFlags, "C2HData with SUCCESS but not LAST_PDU");
    }

    // HLEN: fixed per type.
    if (ch.hlen != expected_hlen(ch.type)) {
        return bad_field(off::kHlen, fmt::format("{} with HLEN {} (expected {})", to_string(ch.type), ch.hlen,
                                                 expected_hlen(ch.type)));
    }

    // PDO: 0 without data; with data after the header and its digest, aligned, within PLEN.
    if (!data_present) {
        if (ch.pdo != 0) {
            return bad_field(off::kPdo,
                             fmt::format("{} without data has PDO {}", to_string(ch.type), ch.pdo));
        }
    } else {
        uint32_t align = receive_alignment(params, who);
        if (ch.pdo < header_size || ch.pdo % align != 0 || ch.pdo > ch.plen) {
            return bad_field(off::kPdo, fmt::format("{} PDO {} (header {} bytes, alignment {}, PLEN {})",
                                                    to_string(ch.type), ch.pdo, header_size, align, ch.plen));
        }
    }

    // PLEN.
    if (ch.plen < header_size) {
        return bad_field(off::kPlen,
                         fmt::format("{} PLEN {} shorter than its header", to_string(ch.type), ch.plen));
    }
    PduLayout layout;
    layout.ch = ch;
    layout.header_size = header_size;
    if (is_term_req(ch.type)) {
        if (ch.plen > uint32_t{kTermReqHlen} + kTermReqMaxData) {
            return bad_field(off::kPlen, fmt::format("{} PLEN {} too long", to_string(ch.type), ch.plen));
        }
        layout.data_offset = ch.hlen;
        layout.data_size = ch.plen - ch.hlen;
        return layout;
    }
    if (!data_present) {
        if (ch.plen != header_size) {
            return bad_field(off::kPlen, fmt::format("{} PLEN {} (expected {})", to_string(ch.type), ch.plen,
                                                     header_size));
        }
        if (ch.type == PduType::H2CData || ch.type == PduType::C2HData) {
            return bad_field(off::kPlen, fmt::format("{} without data", to_string(ch.type)));
        }
        layout.data_offset = ch.plen;
        return layout;
    }
    uint32_t digest = ddgstf ? kDigestSize : 0;
    if (ch.plen - ch.pdo <= digest) {
        return bad_field(off::kPlen, fmt::format("{} PLEN {} leaves no data after PDO {}", to_string(ch.type),
                                                 ch.plen, ch.pdo));
    }
    layout.data_offset = ch.pdo;
    layout.data_size = ch.plen - ch.pdo - digest;
    layout.data_digest_size = digest;
    if (params.max_data != 0 && layout.data_size > params.max_data) {
        return fail(Fes::DataTransferLimitExceeded, 0,
                    fmt::format("{} carries {} bytes of data, more than the {} allowed", to_string(ch.type),
                                layout.data_size, params.max_data));
    }
    return layout;
}

PduResult<Pdu> decode_header(std::span<const uint8_t> bytes, const PduLayout& layout, Receiver who,
                             const ConnectionParams& params) {
    const CommonHeader& ch = layout.ch;
    if (bytes.size() < layout.header_size || bytes.size() < kCommonHeaderSize ||
        layout.header_size < uint32_t{ch.hlen} || ch.hlen != expected_hlen(ch.type)) {
        return bad_field(off::kHlen, fmt::format("PDU header truncated to {} bytes", bytes.size()));
    }
    if (bytes[off::kType] != static_cast<uint8_t>(ch.type) || bytes[off::kFlags] != ch.flags ||
        bytes[off::kHlen] != ch.hlen || bytes[off::kPdo] != ch.pdo ||
        load<uint32_t>(bytes, off::kPlen) != ch.plen) {
        return bad_field(off::kType, "PDU header does not match its checked common header");
    }
    if (to_target(ch.type) != (who == Receiver::Target)) {
        return bad_field(off::kType, fmt::format("{} received by the wrong side", to_string(ch.type)));
    }
    if ((ch.flags & flags::kHdgst) != 0) {
        uint32_t got = load<uint32_t>(bytes, ch.hlen);
        uint32_t want = header_digest_of(bytes.first(ch.hlen));
        if (got != want) {
            return fail(
                Fes::HeaderDigestError, got,
                fmt::format("{} header digest {:#010x}, computed {:#010x}", to_string(ch.type), got, want));
        }
    }

    Pdu pdu;
    pdu.layout = layout;
    switch (ch.type) {
        case PduType::ICReq:
        case PduType::ICResp: {
            uint16_t pfv = load<uint16_t>(bytes, off::kPfv);
            if (pfv != 0) {
                return bad_field(off::kPfv, fmt::format("{} PFV {}", to_string(ch.type), pfv));
            }
            uint8_t pda = bytes[off::kPda];
            if (pda > kMaxPda) {
                return bad_field(off::kPda,
                                 fmt::format("{} PDA {} above {}", to_string(ch.type), pda, kMaxPda));
            }
            uint8_t dgst = bytes[off::kDgst];
            if (ch.type == PduType::ICReq) {
                ICReq r;
                r.pfv = pfv;
                r.hpda = pda;
                r.hdgst = (dgst & kDgstHdgst) != 0;
                r.ddgst = (dgst & kDgstDdgst) != 0;
                r.maxr2t = load<uint32_t>(bytes, off::kMaxr2t);  // 0's based: every value is valid
                pdu.body = r;
            } else {
                ICResp r;
                r.pfv = pfv;
                r.cpda = pda;
                r.hdgst = (dgst & kDgstHdgst) != 0;
                r.ddgst = (dgst & kDgstDdgst) != 0;
                r.maxh2cdata = load<uint32_t>(bytes, off::kMaxh2cdata);
                if (r.maxh2cdata < kMinMaxh2cdata || r.maxh2cdata % 4 != 0) {
                    return bad_field(off::kMaxh2cdata, fmt::format("ICResp MAXH2CDATA {}", r.maxh2cdata));
                }
                pdu.body = r;
            }
            break;
        }
        case PduType::H2CTermReq:
        case PduType::C2HTermReq: {
            TermReq t;
            uint16_t fes = load<uint16_t>(bytes, off::kFes);
            if (fes < static_cast<uint16_t>(Fes::InvalidHeaderField) ||
                fes > static_cast<uint16_t>(Fes::UnsupportedParameter)) {
                return bad_field(off::kFes, fmt::format("{} FES {:#x}", to_string(ch.type), fes));
            }
            t.fes = static_cast<Fes>(fes);
            t.fei = load<uint32_t>(bytes, off::kFei);
            // The echoed header follows the termination request's header: as much of it as
            // the caller passed.
            std::size_t avail = std::min<std::size_t>(layout.data_size, bytes.size() - ch.hlen);
            t.offending = bytes.subspan(ch.hlen, avail);
            pdu.body = t;
            break;
        }
        case PduType::CapsuleCmd: {
            CapsuleCmd c;
            std::memcpy(&c.sqe, bytes.data() + off::kCapsule, sizeof(Sqe));
            pdu.body = c;
            break;
        }
        case PduType::CapsuleResp: {
            CapsuleResp c;
            std::memcpy(&c.cqe, bytes.data() + off::kCapsule, sizeof(Cqe));
            pdu.body = c;
            break;
        }
        case PduType::H2CData:
        case PduType::C2HData: {
            DataHeader h;
            h.cccid = load<uint16_t>(bytes, off::kCccid);
            h.ttag = load<uint16_t>(bytes, off::kTtag);
            h.datao = load<uint32_t>(bytes, off::kDatao);
            h.datal = load<uint32_t>(bytes, off::kDatal);
            h.last = (ch.flags & flags::kDataLast) != 0;
            h.success = (ch.flags & flags::kDataSuccess) != 0;
            if (h.datal != layout.data_size) {
                return bad_field(off::kDatal, fmt::format("{} DATAL {} but {} bytes of data",
                                                          to_string(ch.type), h.datal, layout.data_size));
            }
            if (uint64_t{h.datao} + h.datal > UINT32_MAX) {
                return bad_field(off::kDatao, fmt::format("{} DATAO {} + DATAL {} overflows",
                                                          to_string(ch.type), h.datao, h.datal));
            }
            pdu.body = h;
            break;
        }
        case PduType::R2T: {
            R2T r;
            r.cccid = load<uint16_t>(bytes, off::kCccid);
            r.ttag = load<uint16_t>(bytes, off::kTtag);
            r.r2to = load<uint32_t>(bytes, off::kDatao);
            r.r2tl = load<uint32_t>(bytes, off::kDatal);
            if (r.r2tl == 0) {
                return bad_field(off::kDatal, "R2T with R2TL 0");
            }
            if (uint64_t{r.r2to} + r.r2tl > UINT32_MAX) {
                return bad_field(off::kDatao, fmt::format("R2T R2TO {} + R2TL {} overflows", r.r2to, r.r2tl));
            }
            pdu.body = r;
            break;
        }
    }
    (void)params;
    return pdu;
}

uint32_t data_digest(std::span<const iovec> data) {
    uint32_t crc = 0;
    for (const iovec& v : data) {
        crc = ms::crc32c(std::span<const uint8_t>(static_cast<const uint8_t*>(v.iov_base), v.iov_len), crc);
    }
    return crc;
}

bool data_digest_ok(std::span<const iovec> data, std::span<const uint8_t, kDigestSize> digest) {
    uint32_t got;
    std::memcpy(&got, digest.data(), sizeof(got));
    return got == data_digest(data);
}

std::size_t encode_icreq(std::span<uint8_t> out, const ICReq& r) {
    std::memset(out.data(), 0, kICReqHlen);
    write_common(out, PduType::ICReq, 0, kICReqHlen, 0, kICReqHlen);
    store<uint16_t>(out, off::kPfv, r.pfv);
    out[off::kPda] = r.hpda;
    out[off::kDgst] = static_cast<uint8_t>((r.hdgst ? kDgstHdgst : 0) | (r.ddgst ? kDgstDdgst : 0));
    store<uint32_t>(out, off::kMaxr2t, r.maxr2t);
    return kICReqHlen;
}

std::size_t encode_icresp(std::span<uint8_t> out, const ICResp& r) {
    std::memset(out.data(), 0, kICRespHlen);
    write_common(out, PduType::ICResp, 0, kICRespHlen, 0, kICRespHlen);
    store<uint16_t>(out, off::kPfv, r.pfv);
    out[off::kPda] = r.cpda;
    out[off::kDgst] = static_cast<uint8_t>((r.hdgst ? kDgstHdgst : 0) | (r.ddgst ? kDgstDdgst : 0));
    store<uint32_t>(out, off::kMaxh2cdata, r.maxh2cdata);
    return kICRespHlen;
}

std::size_t encode_term_req(std::span<uint8_t> out, PduType type, Fes fes, uint32_t fei,
                            std::span<const uint8_t> offending) {
    std::size_t room = out.size() > kTermReqHlen ? out.size() - kTermReqHlen : 0;
    std::size_t n = std::min({offending.size(), kTermReqMaxData, room});
    uint32_t plen = static_cast<uint32_t>(kTermReqHlen + n);
    std::memset(out.data(), 0, kTermReqHlen);
    write_common(out, type, 0, kTermReqHlen, 0, plen);
    store<uint16_t>(out, off::kFes, static_cast<uint16_t>(fes));
    store<uint32_t>(out, off::kFei, fei);
    if (n != 0) {
        std::memmove(out.data() + kTermReqHlen, offending.data(), n);
    }
    return plen;
}

std::size_t encode_capsule_cmd(std::span<uint8_t> out, const ConnectionParams& params, const Sqe& sqe,
                               uint32_t data_len) {
    HeaderPlan plan = begin_header(out, params, PduType::CapsuleCmd, Receiver::Target, 0, data_len);
    std::memcpy(out.data() + off::kCapsule, &sqe, sizeof(Sqe));
    return finish_header(out, PduType::CapsuleCmd, plan);
}

std::size_t encode_capsule_resp(std::span<uint8_t> out, const ConnectionParams& params, const Cqe& cqe) {
    HeaderPlan plan = begin_header(out, params, PduType::CapsuleResp, Receiver::Host, 0, 0);
    std::memcpy(out.data() + off::kCapsule, &cqe, sizeof(Cqe));
    return finish_header(out, PduType::CapsuleResp, plan);
}

std::size_t encode_data(std::span<uint8_t> out, PduType type, const ConnectionParams& params,
                        const DataHeader& h) {
    uint8_t fl = h.last ? flags::kDataLast : 0;
    if (type == PduType::C2HData && h.success) {
        fl |= flags::kDataSuccess;
    }
    Receiver peer = type == PduType::H2CData ? Receiver::Target : Receiver::Host;
    HeaderPlan plan = begin_header(out, params, type, peer, fl, h.datal);
    store<uint16_t>(out, off::kCccid, h.cccid);
    store<uint16_t>(out, off::kTtag, h.ttag);
    store<uint32_t>(out, off::kDatao, h.datao);
    store<uint32_t>(out, off::kDatal, h.datal);
    return finish_header(out, type, plan);
}

std::size_t encode_r2t(std::span<uint8_t> out, const ConnectionParams& params, const R2T& r) {
    HeaderPlan plan = begin_header(out, params, PduType::R2T, Receiver::Host, 0, 0);
    store<uint16_t>(out, off::kCccid, r.cccid);
    store<uint16_t>(out, off::kTtag, r.ttag);
    store<uint32_t>(out, off::kDatao, r.r2to);
    store<uint32_t>(out, off::kDatal, r.r2tl);
    return finish_header(out, PduType::R2T, plan);
}

uint32_t header_padding(const ConnectionParams& params, Receiver peer, uint32_t header_size) {
    uint32_t align = receive_alignment(params, peer);
    uint32_t rem = header_size % align;
    return rem == 0 ? 0 : align - rem;
}

}  // namespace ms::nvme::tcp
