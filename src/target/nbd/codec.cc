#include "target/nbd/codec.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace ms::nbd {

namespace {

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
void put32(uint8_t* p, uint32_t v) {
    for (int i = 3; i >= 0; --i) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}
void put64(uint8_t* p, uint64_t v) {
    for (int i = 7; i >= 0; --i) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}
uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t get32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t get64(const uint8_t* p) {
    return (uint64_t{get32(p)} << 32) | get32(p + 4);
}

void append16(std::vector<uint8_t>& out, uint16_t v) {
    uint8_t b[2];
    put16(b, v);
    out.insert(out.end(), b, b + 2);
}
void append32(std::vector<uint8_t>& out, uint32_t v) {
    uint8_t b[4];
    put32(b, v);
    out.insert(out.end(), b, b + 4);
}
void append64(std::vector<uint8_t>& out, uint64_t v) {
    uint8_t b[8];
    put64(b, v);
    out.insert(out.end(), b, b + 8);
}
void append_bytes(std::vector<uint8_t>& out, std::string_view s) {
    out.insert(out.end(), s.begin(), s.end());
}

// A protocol string: at most kMaxString bytes, no NUL.
Result<std::string> take_string(const uint8_t* p, std::size_t n, const char* what) {
    if (n > kMaxString) {
        return errorf(EINVAL, "{} of {} bytes is longer than {}", what, n, kMaxString);
    }
    if (std::memchr(p, 0, n) != nullptr) {
        return errorf(EINVAL, "{} contains a NUL byte", what);
    }
    return std::string(reinterpret_cast<const char*>(p), n);
}

std::string_view cut(std::string_view s, std::size_t max) {
    return s.substr(0, std::min(s.size(), max));
}

}  // namespace

// ---- handshake ------------------------------------------------------------------------------

void encode_greeting(std::span<uint8_t, kGreetingSize> out, uint16_t handshake_flags) {
    put64(out.data(), kInitMagic);
    put64(out.data() + 8, kOptionMagic);
    put16(out.data() + 16, handshake_flags);
}

Result<uint16_t> decode_greeting(std::span<const uint8_t> in) {
    if (in.size() != kGreetingSize) {
        return errorf(EINVAL, "greeting of {} bytes, expected {}", in.size(), kGreetingSize);
    }
    if (get64(in.data()) != kInitMagic) {
        return make_error(EPROTO, "greeting without NBDMAGIC");
    }
    if (get64(in.data() + 8) != kOptionMagic) {
        return make_error(EPROTO, "not a newstyle greeting (no IHAVEOPT)");
    }
    return get16(in.data() + 16);
}

void encode_client_flags(std::span<uint8_t, kClientFlagsSize> out, uint32_t flags) {
    put32(out.data(), flags);
}

Result<uint32_t> decode_client_flags(std::span<const uint8_t> in) {
    if (in.size() != kClientFlagsSize) {
        return errorf(EINVAL, "client flags of {} bytes, expected {}", in.size(), kClientFlagsSize);
    }
    uint32_t flags = get32(in.data());
    if ((flags & ~kClientFlagsKnown) != 0) {
        return errorf(EINVAL, "unknown client flags {:#x}", flags & ~kClientFlagsKnown);
    }
    if ((flags & kClientFlagFixedNewstyle) == 0) {
        return make_error(EINVAL, "client does not speak fixed newstyle");
    }
    return flags;
}

void encode_option_header(std::span<uint8_t, kOptionHeaderSize> out, const OptionHeader& h) {
    put64(out.data(), kOptionMagic);
    put32(out.data() + 8, h.option);
    put32(out.data() + 12, h.length);
}

Result<OptionHeader> decode_option_header(std::span<const uint8_t> in, uint32_t max_length) {
    if (in.size() != kOptionHeaderSize) {
        return errorf(EINVAL, "option header of {} bytes, expected {}", in.size(), kOptionHeaderSize);
    }
    if (get64(in.data()) != kOptionMagic) {
        return make_error(EPROTO, "option without IHAVEOPT magic");
    }
    OptionHeader h{get32(in.data() + 8), get32(in.data() + 12)};
    if (h.length > max_length) {
        return errorf(EMSGSIZE, "option {} has {} bytes of data, more than the {} allowed", h.option,
                      h.length, max_length);
    }
    return h;
}

Result<std::string> decode_export_name(std::span<const uint8_t> data) {
    return take_string(data.data(), data.size(), "export name");
}

void append_info_request(std::vector<uint8_t>& out, const InfoRequest& req) {
    append32(out, static_cast<uint32_t>(req.name.size()));
    append_bytes(out, req.name);
    append16(out, static_cast<uint16_t>(req.requests.size()));
    for (uint16_t r : req.requests) {
        append16(out, r);
    }
}

Result<InfoRequest> decode_info_request(std::span<const uint8_t> data) {
    if (data.size() < 6) {
        return errorf(EINVAL, "info request of {} bytes is shorter than 6", data.size());
    }
    uint32_t name_len = get32(data.data());
    if (name_len > data.size() - 6) {
        return errorf(EINVAL, "export name of {} bytes does not fit in {} bytes of option data", name_len,
                      data.size());
    }
    auto name = take_string(data.data() + 4, name_len, "export name");
    if (!name) {
        return std::unexpected(name.error());
    }
    const uint8_t* p = data.data() + 4 + name_len;
    uint16_t n = get16(p);
    std::size_t rest = data.size() - 6 - name_len;
    if (rest != std::size_t{n} * 2) {
        return errorf(EINVAL, "{} information requests need {} bytes, the option has {}", n, n * 2, rest);
    }
    InfoRequest req;
    req.name = std::move(*name);
    req.requests.reserve(n);
    for (uint16_t i = 0; i < n; ++i) {
        req.requests.push_back(get16(p + 2 + 2 * i));
    }
    return req;
}

void append_option(std::vector<uint8_t>& out, uint32_t option, std::span<const uint8_t> data) {
    uint8_t h[kOptionHeaderSize];
    encode_option_header(std::span<uint8_t, kOptionHeaderSize>(h),
                         OptionHeader{option, static_cast<uint32_t>(data.size())});
    out.insert(out.end(), h, h + sizeof h);
    out.insert(out.end(), data.begin(), data.end());
}

// ---- option replies (server side) -----------------------------------------------------------

void append_option_reply(std::vector<uint8_t>& out, uint32_t option, uint32_t type,
                         std::span<const uint8_t> payload) {
    append64(out, kOptionReplyMagic);
    append32(out, option);
    append32(out, type);
    append32(out, static_cast<uint32_t>(payload.size()));
    out.insert(out.end(), payload.begin(), payload.end());
}

void append_info_export(std::vector<uint8_t>& out, uint32_t option, uint64_t size, uint16_t tx_flags) {
    uint8_t p[12];
    put16(p, kInfoExport);
    put64(p + 2, size);
    put16(p + 10, tx_flags);
    append_option_reply(out, option, kRepInfo, p);
}

void append_info_block_size(std::vector<uint8_t>& out, uint32_t option, uint32_t minimum, uint32_t preferred,
                            uint32_t maximum) {
    uint8_t p[14];
    put16(p, kInfoBlockSize);
    put32(p + 2, minimum);
    put32(p + 6, preferred);
    put32(p + 10, maximum);
    append_option_reply(out, option, kRepInfo, p);
}

void append_info_string(std::vector<uint8_t>& out, uint32_t option, uint16_t info_type,
                        std::string_view text) {
    text = cut(text, kMaxString);
    std::vector<uint8_t> p;
    p.reserve(2 + text.size());
    append16(p, info_type);
    append_bytes(p, text);
    append_option_reply(out, option, kRepInfo, p);
}

void append_rep_server(std::vector<uint8_t>& out, std::string_view name, std::string_view description) {
    name = cut(name, kMaxString);
    description = cut(description, kMaxString);
    std::vector<uint8_t> p;
    p.reserve(4 + name.size() + description.size());
    append32(p, static_cast<uint32_t>(name.size()));
    append_bytes(p, name);
    append_bytes(p, description);
    append_option_reply(out, static_cast<uint32_t>(Option::List), kRepServer, p);
}

void append_rep_error(std::vector<uint8_t>& out, uint32_t option, uint32_t error_type,
                      std::string_view message) {
    message = cut(message, kMaxString);
    append_option_reply(
        out, option, error_type,
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(message.data()), message.size()));
}

void append_export_name_reply(std::vector<uint8_t>& out, uint64_t size, uint16_t tx_flags, bool no_zeroes) {
    append64(out, size);
    append16(out, tx_flags);
    if (!no_zeroes) {
        out.insert(out.end(), kExportNameZeroes, 0);
    }
}

// ---- option replies (client side) -----------------------------------------------------------

Result<OptionReplyHeader> decode_option_reply_header(std::span<const uint8_t> in, uint32_t max_length) {
    if (in.size() != kOptionReplyHeaderSize) {
        return errorf(EINVAL, "option reply header of {} bytes, expected {}", in.size(),
                      kOptionReplyHeaderSize);
    }
    if (get64(in.data()) != kOptionReplyMagic) {
        return make_error(EPROTO, "option reply with a bad magic");
    }
    OptionReplyHeader h{get32(in.data() + 8), get32(in.data() + 12), get32(in.data() + 16)};
    if (h.length > max_length) {
        return errorf(EMSGSIZE, "option reply of {} bytes, more than the {} allowed", h.length, max_length);
    }
    return h;
}

Result<Info> decode_info(std::span<const uint8_t> payload) {
    if (payload.size() < 2) {
        return make_error(EINVAL, "information reply shorter than its type");
    }
    Info info;
    info.type = get16(payload.data());
    const uint8_t* p = payload.data() + 2;
    std::size_t n = payload.size() - 2;
    switch (info.type) {
        case kInfoExport:
            if (n != 10) {
                return errorf(EINVAL, "NBD_INFO_EXPORT of {} bytes, expected 12", payload.size());
            }
            info.size = get64(p);
            info.tx_flags = get16(p + 8);
            return info;
        case kInfoBlockSize:
            if (n != 12) {
                return errorf(EINVAL, "NBD_INFO_BLOCK_SIZE of {} bytes, expected 14", payload.size());
            }
            info.minimum = get32(p);
            info.preferred = get32(p + 4);
            info.maximum = get32(p + 8);
            if (!std::has_single_bit(info.minimum) || !std::has_single_bit(info.preferred) ||
                info.preferred < info.minimum || info.maximum % info.minimum != 0) {
                return errorf(EINVAL, "inconsistent block sizes {}/{}/{}", info.minimum, info.preferred,
                              info.maximum);
            }
            return info;
        case kInfoName:
        case kInfoDescription: {
            auto s = take_string(p, n, info.type == kInfoName ? "export name" : "description");
            if (!s) {
                return std::unexpected(s.error());
            }
            info.text = std::move(*s);
            return info;
        }
        default:
            return errorf(EINVAL, "unknown information type {}", info.type);
    }
}

Result<ServerEntry> decode_rep_server(std::span<const uint8_t> payload) {
    if (payload.size() < 4) {
        return make_error(EINVAL, "NBD_REP_SERVER shorter than its name length");
    }
    uint32_t len = get32(payload.data());
    if (len > payload.size() - 4) {
        return errorf(EINVAL, "export name of {} bytes does not fit in {} bytes", len, payload.size());
    }
    auto name = take_string(payload.data() + 4, len, "export name");
    if (!name) {
        return std::unexpected(name.error());
    }
    auto desc = take_string(payload.data() + 4 + len, payload.size() - 4 - len, "description");
    if (!desc) {
        return std::unexpected(desc.error());
    }
    return ServerEntry{std::move(*name), std::move(*desc)};
}

Result<ExportNameReply> decode_export_name_reply(std::span<const uint8_t> in) {
    if (in.size() != kExportNameReplySize && in.size() != kExportNameReplySize + kExportNameZeroes) {
        return errorf(EINVAL, "export name reply of {} bytes", in.size());
    }
    return ExportNameReply{get64(in.data()), get16(in.data() + 8)};
}

// ---- transmission ---------------------------------------------------------------------------

void encode_request(std::span<uint8_t, kRequestSize> out, const Request& r) {
    uint8_t* p = out.data();
    put32(p, kRequestMagic);
    put16(p + 4, r.flags);
    put16(p + 6, r.type);
    put64(p + 8, r.handle);
    put64(p + 16, r.offset);
    put32(p + 24, r.length);
}

Result<Request> decode_request(std::span<const uint8_t> in) {
    if (in.size() < kRequestSize) {
        return errorf(EINVAL, "request of {} bytes, expected {}", in.size(), kRequestSize);
    }
    const uint8_t* p = in.data();
    if (get32(p) != kRequestMagic) {
        return errorf(EPROTO, "request with a bad magic {:#010x}", get32(p));
    }
    Request r;
    r.flags = get16(p + 4);
    r.type = get16(p + 6);
    r.handle = get64(p + 8);
    r.offset = get64(p + 16);
    r.length = get32(p + 24);
    return r;
}

Verdict check_request(const Request& r, const ExportLimits& l) {
    uint16_t allowed_flags = 0;
    uint16_t needs = 0;
    bool ranged = true;
    switch (r.command()) {
        case Command::Read:
            allowed_flags = kCmdFlagFua | kCmdFlagDf;
            break;
        case Command::Write:
            if (r.length > l.max_payload) {
                return Verdict{kEinval, true, "write payload larger than the maximum block size"};
            }
            allowed_flags = kCmdFlagFua;
            break;
        case Command::Disc:
            return Verdict{};
        case Command::Flush:
            allowed_flags = kCmdFlagFua;
            needs = kTxSendFlush;
            ranged = false;
            break;
        case Command::Trim:
            allowed_flags = kCmdFlagFua;
            needs = kTxSendTrim;
            break;
        case Command::WriteZeroes:
            allowed_flags = kCmdFlagFua | kCmdFlagNoHole;
            needs = kTxSendWriteZeroes;
            break;
        default:
            return Verdict{kEinval, false, "unsupported command"};
    }
    if ((l.tx_flags & needs) != needs) {
        return Verdict{kEinval, false, "command not advertised for this export"};
    }
    if ((r.flags & ~allowed_flags) != 0) {
        return Verdict{kEinval, false, "command flag not valid for this command"};
    }
    if ((r.flags & kCmdFlagFua) != 0 && (l.tx_flags & kTxSendFua) == 0) {
        return Verdict{kEinval, false, "FUA not advertised for this export"};
    }
    if (!ranged) {
        return Verdict{};
    }
    if (r.command() == Command::Read && r.length > l.max_payload) {
        return Verdict{kEinval, false, "read larger than the maximum block size"};
    }
    if (l.min_block > 1 && (r.offset % l.min_block != 0 || r.length % l.min_block != 0)) {
        return Verdict{kEinval, false, "offset or length not a multiple of the minimum block size"};
    }
    if (r.offset > l.size || r.length > l.size - r.offset) {
        bool writes = r.command() == Command::Write || r.command() == Command::WriteZeroes;
        return Verdict{writes ? kEnospc : kEinval, false, "request beyond the end of the export"};
    }
    return Verdict{};
}

std::size_t encode_simple_reply(std::span<uint8_t, kSimpleReplySize> out, uint32_t error, uint64_t handle) {
    put32(out.data(), kSimpleReplyMagic);
    put32(out.data() + 4, error);
    put64(out.data() + 8, handle);
    return kSimpleReplySize;
}

Result<SimpleReply> decode_simple_reply(std::span<const uint8_t> in) {
    if (in.size() != kSimpleReplySize) {
        return errorf(EINVAL, "simple reply of {} bytes, expected {}", in.size(), kSimpleReplySize);
    }
    if (get32(in.data()) != kSimpleReplyMagic) {
        return make_error(EPROTO, "not a simple reply");
    }
    return SimpleReply{get32(in.data() + 4), get64(in.data() + 8)};
}

void encode_chunk_header(std::span<uint8_t, kStructuredReplySize> out, const ChunkHeader& h) {
    uint8_t* p = out.data();
    put32(p, kStructuredReplyMagic);
    put16(p + 4, h.flags);
    put16(p + 6, h.type);
    put64(p + 8, h.handle);
    put32(p + 16, h.length);
}

Result<ChunkHeader> decode_chunk_header(std::span<const uint8_t> in) {
    if (in.size() != kStructuredReplySize) {
        return errorf(EINVAL, "structured reply header of {} bytes, expected {}", in.size(),
                      kStructuredReplySize);
    }
    const uint8_t* p = in.data();
    if (get32(p) != kStructuredReplyMagic) {
        return make_error(EPROTO, "not a structured reply");
    }
    ChunkHeader h{get16(p + 4), get16(p + 6), get64(p + 8), get32(p + 16)};
    if (h.type == kReplyTypeNone && (h.length != 0 || (h.flags & kReplyFlagDone) == 0)) {
        return make_error(EINVAL, "NBD_REPLY_TYPE_NONE with a payload or without DONE");
    }
    if (h.type == kReplyTypeOffsetData && h.length < 8) {
        return make_error(EINVAL, "NBD_REPLY_TYPE_OFFSET_DATA shorter than its offset");
    }
    if ((h.type & 0x8000) != 0 && h.length < 6) {
        return make_error(EINVAL, "error chunk shorter than its error and message length");
    }
    return h;
}

std::size_t encode_offset_data_header(std::span<uint8_t, kOffsetDataHeaderSize> out, uint64_t handle,
                                      uint64_t offset, uint32_t data_len, bool done) {
    encode_chunk_header(out.first<kStructuredReplySize>(),
                        ChunkHeader{static_cast<uint16_t>(done ? kReplyFlagDone : 0), kReplyTypeOffsetData,
                                    handle, data_len + 8});
    put64(out.data() + kStructuredReplySize, offset);
    return kOffsetDataHeaderSize;
}

std::size_t encode_none_chunk(std::span<uint8_t, kStructuredReplySize> out, uint64_t handle) {
    encode_chunk_header(out, ChunkHeader{kReplyFlagDone, kReplyTypeNone, handle, 0});
    return kStructuredReplySize;
}

std::size_t encode_error_chunk(std::span<uint8_t> out, uint64_t handle, uint32_t error,
                               std::string_view message) {
    constexpr std::size_t fixed = kStructuredReplySize + 6;
    std::size_t room = out.size() > fixed ? out.size() - fixed : 0;
    message = cut(message, std::min(room, kMaxString));
    encode_chunk_header(
        out.first<kStructuredReplySize>(),
        ChunkHeader{kReplyFlagDone, kReplyTypeError, handle, static_cast<uint32_t>(6 + message.size())});
    put32(out.data() + kStructuredReplySize, error);
    put16(out.data() + kStructuredReplySize + 4, static_cast<uint16_t>(message.size()));
    if (!message.empty()) {
        std::memcpy(out.data() + fixed, message.data(), message.size());
    }
    return fixed + message.size();
}

Result<ErrorChunk> decode_error_chunk(uint16_t type, std::span<const uint8_t> payload) {
    if (type != kReplyTypeError && type != kReplyTypeErrorOffset) {
        return errorf(EINVAL, "chunk type {:#x} is not an error", type);
    }
    if (payload.size() < 6) {
        return make_error(EINVAL, "error chunk shorter than 6 bytes");
    }
    ErrorChunk e;
    e.error = get32(payload.data());
    uint16_t len = get16(payload.data() + 4);
    std::size_t want = 6 + std::size_t{len} + (type == kReplyTypeErrorOffset ? 8 : 0);
    if (payload.size() != want) {
        return errorf(EINVAL, "error chunk of {} bytes, its fields need {}", payload.size(), want);
    }
    if (e.error == 0) {
        return make_error(EINVAL, "error chunk with error 0");
    }
    auto msg = take_string(payload.data() + 6, len, "error message");
    if (!msg) {
        return std::unexpected(msg.error());
    }
    e.message = std::move(*msg);
    if (type == kReplyTypeErrorOffset) {
        e.offset = get64(payload.data() + 6 + len);
    }
    return e;
}

uint32_t to_nbd_error(int errno_value) {
    switch (errno_value) {
        case 0:
            return 0;
        case EPERM:
        case EACCES:
        case EROFS:
        case EBADF:
            return kEperm;
        case ENOMEM:
            return kEnomem;
        case EINVAL:
        case ERANGE:
            return kEinval;
        case ENOSPC:
        case EDQUOT:
        case EFBIG:
            return kEnospc;
        case EOVERFLOW:
            return kEoverflow;
        case ENOTSUP:
            return kEnotsup;
        case ESHUTDOWN:
            return kEshutdown;
        default:
            return kEio;
    }
}

}  // namespace ms::nbd
