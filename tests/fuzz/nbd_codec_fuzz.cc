// libFuzzer target for the NBD codec (src/target/nbd/codec.cc). The first input byte picks a
// side and the export's limits; the rest is read as one connection's byte stream, the way the
// server (client flags, options, then requests with their write payloads) or a client
// (greeting, option replies, then simple or structured replies) reads its socket. Nothing may
// crash; whatever decodes must survive encode -> decode unchanged, and the server's answer to
// it (option replies, request replies) must decode at the peer.
//
// With NBD_CODEC_FUZZ_SEEDS=<dir> in the environment the binary writes the seed corpus (valid
// streams made by the encoders, see tests/fuzz/corpus/nbd/) into <dir> and exits.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "target/nbd/codec.h"

namespace {

using namespace ms::nbd;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "nbd_codec_fuzz: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) {
        fail(what);
    }
}

constexpr uint32_t kMaxOptionData = 16 * 1024;
constexpr uint32_t kMinBlocks[4] = {1, 512, 4096, 65536};

struct Reader {
    std::span<const uint8_t> in;
    std::size_t at = 0;
    bool take(std::size_t n, std::span<const uint8_t>* out) {
        if (in.size() - at < n) {
            return false;
        }
        *out = in.subspan(at, n);
        at += n;
        return true;
    }
};

ExportLimits limits_of(uint8_t sel) {
    ExportLimits l;
    l.min_block = kMinBlocks[(sel >> 2) & 3];
    l.size = uint64_t{l.min_block} * 1024;
    l.max_payload = (sel & 0x10) ? 65536 : (32u << 20);
    l.tx_flags = (sel & 0x20) ? kTxHasFlags
                              : (kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendTrim | kTxSendWriteZeroes);
    return l;
}

// The server's option replies for an INFO/GO request, decoded as a client would.
void answer_info(uint32_t option, const InfoRequest& req, const ExportLimits& l) {
    std::vector<uint8_t> out;
    append_info_export(out, option, l.size, l.tx_flags);
    append_info_string(out, option, kInfoName, req.name);
    append_info_block_size(out, option, l.min_block, std::max<uint32_t>(4096, l.min_block), l.max_payload);
    append_option_reply(out, option, kRepAck);
    std::size_t at = 0;
    int n = 0;
    while (at < out.size()) {
        auto h = decode_option_reply_header(std::span<const uint8_t>(out).subspan(at, kOptionReplyHeaderSize),
                                            1u << 20);
        check(h.has_value() && h->option == option, "server option reply does not decode");
        at += kOptionReplyHeaderSize;
        if (h->type == kRepInfo) {
            auto info = decode_info(std::span<const uint8_t>(out).subspan(at, h->length));
            check(info.has_value(), "server NBD_REP_INFO does not decode");
            if (info->type == kInfoExport) {
                check(info->size == l.size && info->tx_flags == l.tx_flags, "NBD_INFO_EXPORT changed");
            } else if (info->type == kInfoName) {
                check(info->text == req.name, "NBD_INFO_NAME changed");
            } else {
                check(info->minimum == l.min_block && info->maximum == l.max_payload,
                      "NBD_INFO_BLOCK_SIZE changed");
            }
        }
        at += h->length;
        ++n;
    }
    check(n == 4, "wrong number of option replies");
}

void answer_request(const Request& r, const Verdict& v, bool structured) {
    uint32_t error = v.error;
    if (structured && r.command() == Command::Read && error != 0) {
        uint8_t b[128];
        std::size_t n = encode_error_chunk(b, r.handle, error, v.reason);
        auto h = decode_chunk_header(std::span<const uint8_t>(b, kStructuredReplySize));
        check(h.has_value() && h->handle == r.handle && h->length == n - kStructuredReplySize,
              "error chunk header does not decode");
        auto e = decode_error_chunk(h->type, std::span<const uint8_t>(b + kStructuredReplySize, h->length));
        check(e.has_value() && e->error == error, "error chunk does not decode");
        return;
    }
    uint8_t b[kSimpleReplySize];
    encode_simple_reply(std::span<uint8_t, kSimpleReplySize>(b), error, r.handle);
    auto s = decode_simple_reply(b);
    check(s.has_value() && s->handle == r.handle && s->error == error, "simple reply does not decode");
}

void transmission(Reader& rd, const ExportLimits& l, bool structured) {
    for (int i = 0; i < 4096; ++i) {
        std::span<const uint8_t> h;
        if (!rd.take(kRequestSize, &h)) {
            return;
        }
        auto r = decode_request(h);
        if (!r) {
            check(r.error().code == EPROTO, "request refused for something other than its magic");
            return;
        }
        uint8_t again[kRequestSize];
        encode_request(std::span<uint8_t, kRequestSize>(again), *r);
        check(std::memcmp(again, h.data(), kRequestSize) == 0, "request changed in encode/decode");
        if (r->command() == Command::Disc) {
            return;
        }
        Verdict v = check_request(*r, l);
        if (v.close) {
            check(r->command() == Command::Write && r->length > l.max_payload, "closed for a good reason");
            return;
        }
        if (v.error == 0 && r->command() != Command::Flush && r->length > 0) {
            check(r->offset % l.min_block == 0 && r->length % l.min_block == 0,
                  "misaligned request accepted");
            check(r->offset <= l.size && r->length <= l.size - r->offset, "request past the end accepted");
        }
        answer_request(*r, v, structured);
        std::span<const uint8_t> payload;
        if (r->command() == Command::Write && !rd.take(r->length, &payload)) {
            return;
        }
    }
}

void server_side(Reader& rd, const ExportLimits& l) {
    std::span<const uint8_t> f;
    if (!rd.take(kClientFlagsSize, &f)) {
        return;
    }
    if (!decode_client_flags(f)) {
        return;  // the server closes
    }
    bool structured = false;
    for (int i = 0; i < 256; ++i) {
        std::span<const uint8_t> hb;
        if (!rd.take(kOptionHeaderSize, &hb)) {
            return;
        }
        auto h = decode_option_header(hb, kMaxOptionData);
        if (!h) {
            return;
        }
        std::span<const uint8_t> data;
        if (!rd.take(h->length, &data)) {
            return;
        }
        switch (static_cast<Option>(h->option)) {
            case Option::ExportName: {
                auto name = decode_export_name(data);
                if (!name) {
                    return;
                }
                std::vector<uint8_t> out;
                append_export_name_reply(out, l.size, l.tx_flags, true);
                auto r = decode_export_name_reply(out);
                check(r.has_value() && r->size == l.size, "export name reply does not decode");
                transmission(rd, l, structured);
                return;
            }
            case Option::Info:
            case Option::Go: {
                auto req = decode_info_request(data);
                if (!req) {
                    continue;
                }
                std::vector<uint8_t> again;
                append_info_request(again, *req);
                check(again.size() == data.size() && std::memcmp(again.data(), data.data(), data.size()) == 0,
                      "info request changed in decode/encode");
                answer_info(h->option, *req, l);
                if (static_cast<Option>(h->option) == Option::Go) {
                    transmission(rd, l, structured);
                    return;
                }
                break;
            }
            case Option::StructuredReply:
                structured = structured || data.empty();
                break;
            case Option::Abort:
                return;
            default:
                break;
        }
    }
}

void client_side(Reader& rd, bool structured) {
    std::span<const uint8_t> g;
    if (!rd.take(kGreetingSize, &g) || !decode_greeting(g)) {
        return;
    }
    for (int i = 0; i < 256; ++i) {
        std::span<const uint8_t> hb;
        if (!rd.take(kOptionReplyHeaderSize, &hb)) {
            return;
        }
        auto h = decode_option_reply_header(hb, 65536);
        if (!h) {
            return;
        }
        std::span<const uint8_t> payload;
        if (!rd.take(h->length, &payload)) {
            return;
        }
        if (h->type == kRepInfo) {
            (void)decode_info(payload);
        } else if (h->type == kRepServer) {
            auto s = decode_rep_server(payload);
            if (s) {
                std::vector<uint8_t> out;
                append_rep_server(out, s->name, s->description);
                check(
                    out.size() == kOptionReplyHeaderSize + payload.size() &&
                        std::memcmp(out.data() + kOptionReplyHeaderSize, payload.data(), payload.size()) == 0,
                    "NBD_REP_SERVER changed in decode/encode");
            }
        } else if (h->type == kRepAck && h->option == static_cast<uint32_t>(Option::Go)) {
            break;
        }
    }
    // Replies in the transmission phase.
    for (int i = 0; i < 4096; ++i) {
        std::span<const uint8_t> magic;
        if (rd.in.size() - rd.at < 4) {
            return;
        }
        magic = rd.in.subspan(rd.at, 4);
        bool chunk = magic[0] == 0x66 && magic[1] == 0x8e;
        if (!chunk || !structured) {
            std::span<const uint8_t> b;
            if (!rd.take(kSimpleReplySize, &b) || !decode_simple_reply(b)) {
                return;
            }
            continue;
        }
        std::span<const uint8_t> hb;
        if (!rd.take(kStructuredReplySize, &hb)) {
            return;
        }
        auto h = decode_chunk_header(hb);
        if (!h || h->length > 65536) {
            return;
        }
        std::span<const uint8_t> payload;
        if (!rd.take(h->length, &payload)) {
            return;
        }
        if (h->type == kReplyTypeError || h->type == kReplyTypeErrorOffset) {
            auto e = decode_error_chunk(h->type, payload);
            if (e && h->type == kReplyTypeError) {
                std::vector<uint8_t> out(kStructuredReplySize + 6 + e->message.size());
                std::size_t n = encode_error_chunk(out, h->handle, e->error, e->message);
                check(n == out.size() &&
                          std::memcmp(out.data() + kStructuredReplySize, payload.data(), payload.size()) == 0,
                      "error chunk changed in decode/encode");
            }
        }
    }
}

// ---- seeds ------------------------------------------------------------------------------------

void put_request(std::vector<uint8_t>& s, Command c, uint64_t off, uint32_t len, uint64_t handle,
                 uint16_t flags = 0) {
    uint8_t h[kRequestSize];
    encode_request(std::span<uint8_t, kRequestSize>(h),
                   Request{flags, static_cast<uint16_t>(c), handle, off, len});
    s.insert(s.end(), h, h + sizeof h);
}

void put_flags(std::vector<uint8_t>& s) {
    uint8_t f[kClientFlagsSize];
    encode_client_flags(std::span<uint8_t, kClientFlagsSize>(f),
                        kClientFlagFixedNewstyle | kClientFlagNoZeroes);
    s.insert(s.end(), f, f + sizeof f);
}

void put_requests(std::vector<uint8_t>& s) {
    put_request(s, Command::Write, 0, 512, 1, kCmdFlagFua);
    s.insert(s.end(), 512, 0xab);
    put_request(s, Command::Read, 0, 4096, 2);
    put_request(s, Command::Read, 1u << 30, 512, 3);
    put_request(s, Command::Flush, 0, 0, 4);
    put_request(s, Command::Trim, 4096, 4096, 5);
    put_request(s, Command::WriteZeroes, 8192, 4096, 6, kCmdFlagNoHole);
    put_request(s, Command::Write, 1, 100, 7);
    s.insert(s.end(), 100, 1);
    put_request(s, Command::Disc, 0, 0, 8);
}

void write_seed(const std::string& dir, int n, const std::vector<uint8_t>& s) {
    std::string path = dir + "/seed_" + std::to_string(n);
    FILE* f = std::fopen(path.c_str(), "wb");
    check(f != nullptr, "cannot write a seed");
    std::fwrite(s.data(), 1, s.size(), f);
    std::fclose(f);
}

void write_seeds(const std::string& dir) {
    int n = 0;
    std::vector<uint8_t> none;
    // Server side: structured replies, INFO, GO, requests.
    {
        std::vector<uint8_t> s{0x04};
        put_flags(s);
        append_option(s, static_cast<uint32_t>(Option::StructuredReply), none);
        std::vector<uint8_t> info;
        append_info_request(info, InfoRequest{"disk0", {kInfoName, kInfoBlockSize, kInfoDescription}});
        append_option(s, static_cast<uint32_t>(Option::Info), info);
        append_option(s, static_cast<uint32_t>(Option::List), none);
        append_option(s, 1234, info);
        append_option(s, static_cast<uint32_t>(Option::Go), info);
        put_requests(s);
        write_seed(dir, n++, s);
    }
    // Server side: EXPORT_NAME, simple replies, 4 KiB blocks.
    {
        std::vector<uint8_t> s{0x08};
        put_flags(s);
        const uint8_t name[] = {'d', 'i', 's', 'k'};
        append_option(s, static_cast<uint32_t>(Option::ExportName), name);
        put_requests(s);
        write_seed(dir, n++, s);
    }
    // Server side: ABORT.
    {
        std::vector<uint8_t> s{0x00};
        put_flags(s);
        append_option(s, static_cast<uint32_t>(Option::Abort), none);
        write_seed(dir, n++, s);
    }
    // Client side: greeting, LIST and GO replies, simple then structured replies.
    for (bool structured : {false, true}) {
        std::vector<uint8_t> s{static_cast<uint8_t>(structured ? 0x03 : 0x01)};
        uint8_t g[kGreetingSize];
        encode_greeting(std::span<uint8_t, kGreetingSize>(g), kFlagFixedNewstyle | kFlagNoZeroes);
        s.insert(s.end(), g, g + sizeof g);
        append_rep_server(s, "disk0", "Malloc disk");
        append_option_reply(s, static_cast<uint32_t>(Option::List), kRepAck);
        append_rep_error(s, 1234, kRepErrUnsup, "option 1234 is not supported");
        append_info_export(s, static_cast<uint32_t>(Option::Go), 1 << 20, kTxHasFlags | kTxSendFlush);
        append_info_block_size(s, static_cast<uint32_t>(Option::Go), 512, 4096, 32u << 20);
        append_info_string(s, static_cast<uint32_t>(Option::Go), kInfoName, "disk0");
        append_option_reply(s, static_cast<uint32_t>(Option::Go), kRepAck);
        uint8_t r[kSimpleReplySize];
        encode_simple_reply(std::span<uint8_t, kSimpleReplySize>(r), 0, 1);
        s.insert(s.end(), r, r + sizeof r);
        encode_simple_reply(std::span<uint8_t, kSimpleReplySize>(r), kEinval, 2);
        s.insert(s.end(), r, r + sizeof r);
        if (structured) {
            uint8_t d[kOffsetDataHeaderSize];
            encode_offset_data_header(std::span<uint8_t, kOffsetDataHeaderSize>(d), 3, 0, 512, true);
            s.insert(s.end(), d, d + sizeof d);
            s.insert(s.end(), 512, 0x5a);
            uint8_t e[64];
            std::size_t len = encode_error_chunk(e, 4, kEinval, "beyond the end");
            s.insert(s.end(), e, e + len);
            uint8_t z[kStructuredReplySize];
            encode_none_chunk(std::span<uint8_t, kStructuredReplySize>(z), 5);
            s.insert(s.end(), z, z + sizeof z);
        }
        write_seed(dir, n++, s);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("NBD_CODEC_FUZZ_SEEDS")) {
        write_seeds(dir);
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    uint8_t sel = data[0];
    Reader rd{std::span<const uint8_t>(data + 1, size - 1)};
    if (sel & 0x01) {
        client_side(rd, (sel & 0x02) != 0);
    } else {
        server_side(rd, limits_of(sel));
    }
    return 0;
}
