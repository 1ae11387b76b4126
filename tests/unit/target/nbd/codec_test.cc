// The NBD codec: every message round trip, the bytes of the fixed layouts, and malformed input
// (each returns an error, none crashes).
#include "target/nbd/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ms::nbd {
namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> l) {
    std::vector<uint8_t> v;
    for (int b : l) {
        v.push_back(static_cast<uint8_t>(b));
    }
    return v;
}

// Option reply at `at` in `buf`: header and payload.
struct Parsed {
    OptionReplyHeader h;
    std::vector<uint8_t> payload;
};
std::vector<Parsed> parse_replies(const std::vector<uint8_t>& buf) {
    std::vector<Parsed> out;
    std::size_t at = 0;
    while (at < buf.size()) {
        auto h = decode_option_reply_header(std::span<const uint8_t>(buf).subspan(at, kOptionReplyHeaderSize),
                                            1 << 20);
        EXPECT_TRUE(h) << h.error().message;
        if (!h) {
            break;
        }
        at += kOptionReplyHeaderSize;
        out.push_back(Parsed{*h, std::vector<uint8_t>(buf.begin() + at, buf.begin() + at + h->length)});
        at += h->length;
    }
    return out;
}

// ---- layouts and round trips ----------------------------------------------------------------

TEST(NbdCodec, GreetingBytes) {
    uint8_t g[kGreetingSize];
    encode_greeting(std::span<uint8_t, kGreetingSize>(g), kFlagFixedNewstyle | kFlagNoZeroes);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(g), 8), "NBDMAGIC");
    EXPECT_EQ(std::string(reinterpret_cast<char*>(g) + 8, 8), "IHAVEOPT");
    EXPECT_EQ(g[16], 0);
    EXPECT_EQ(g[17], 3);
    auto f = decode_greeting(g);
    ASSERT_TRUE(f);
    EXPECT_EQ(*f, kFlagFixedNewstyle | kFlagNoZeroes);
}

TEST(NbdCodec, ClientFlagsRoundTrip) {
    uint8_t b[4];
    encode_client_flags(std::span<uint8_t, 4>(b), kClientFlagFixedNewstyle | kClientFlagNoZeroes);
    EXPECT_EQ(bytes({0, 0, 0, 3}), std::vector<uint8_t>(b, b + 4));
    auto f = decode_client_flags(b);
    ASSERT_TRUE(f);
    EXPECT_EQ(*f, 3u);
}

TEST(NbdCodec, OptionHeaderRoundTrip) {
    std::vector<uint8_t> out;
    const uint8_t data[] = {1, 2, 3};
    append_option(out, static_cast<uint32_t>(Option::Go), data);
    ASSERT_EQ(out.size(), kOptionHeaderSize + 3);
    auto h = decode_option_header(std::span<const uint8_t>(out).first(kOptionHeaderSize), 100);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->option, 7u);
    EXPECT_EQ(h->length, 3u);
    EXPECT_EQ(out[16], 1);
}

TEST(NbdCodec, InfoRequestRoundTrip) {
    InfoRequest req{"disk-1", {kInfoName, kInfoBlockSize, kInfoDescription}};
    std::vector<uint8_t> out;
    append_info_request(out, req);
    EXPECT_EQ(out.size(), 4 + 6 + 2 + 6u);
    auto d = decode_info_request(out);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->name, "disk-1");
    EXPECT_EQ(d->requests, req.requests);
}

TEST(NbdCodec, InfoRequestEmptyNameNoRequests) {
    std::vector<uint8_t> out;
    append_info_request(out, InfoRequest{});
    auto d = decode_info_request(out);
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->name.empty());
    EXPECT_TRUE(d->requests.empty());
}

TEST(NbdCodec, InfoRepliesRoundTrip) {
    std::vector<uint8_t> out;
    append_info_export(out, 7, 1ull << 40, kTxHasFlags | kTxSendFlush);
    append_info_block_size(out, 7, 512, 4096, 32u << 20);
    append_info_string(out, 7, kInfoName, "disk");
    append_info_string(out, 7, kInfoDescription, "Malloc disk");
    append_option_reply(out, 7, kRepAck);
    auto r = parse_replies(out);
    ASSERT_EQ(r.size(), 5u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(r[i].h.option, 7u);
        EXPECT_EQ(r[i].h.type, kRepInfo);
    }
    auto e = decode_info(r[0].payload);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->type, kInfoExport);
    EXPECT_EQ(e->size, 1ull << 40);
    EXPECT_EQ(e->tx_flags, kTxHasFlags | kTxSendFlush);
    auto b = decode_info(r[1].payload);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->minimum, 512u);
    EXPECT_EQ(b->preferred, 4096u);
    EXPECT_EQ(b->maximum, 32u << 20);
    auto n = decode_info(r[2].payload);
    ASSERT_TRUE(n);
    EXPECT_EQ(n->text, "disk");
    auto d = decode_info(r[3].payload);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->text, "Malloc disk");
    EXPECT_EQ(r[4].h.type, kRepAck);
    EXPECT_TRUE(r[4].payload.empty());
}

TEST(NbdCodec, RepServerAndErrorRoundTrip) {
    std::vector<uint8_t> out;
    append_rep_server(out, "a", "desc");
    append_rep_error(out, 6, kRepErrUnknown, "no export named 'x'");
    auto r = parse_replies(out);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].h.type, kRepServer);
    EXPECT_EQ(r[0].h.option, static_cast<uint32_t>(Option::List));
    auto s = decode_rep_server(r[0].payload);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->name, "a");
    EXPECT_EQ(s->description, "desc");
    EXPECT_EQ(r[1].h.type, kRepErrUnknown);
    EXPECT_TRUE(r[1].h.type & kRepFlagError);
    EXPECT_EQ(std::string(r[1].payload.begin(), r[1].payload.end()), "no export named 'x'");
}

TEST(NbdCodec, ErrorMessageIsCut) {
    std::vector<uint8_t> out;
    append_rep_error(out, 1, kRepErrInvalid, std::string(10000, 'x'));
    auto r = parse_replies(out);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].payload.size(), kMaxString);
}

TEST(NbdCodec, ExportNameReply) {
    std::vector<uint8_t> out;
    append_export_name_reply(out, 4096, kTxHasFlags, false);
    EXPECT_EQ(out.size(), kExportNameReplySize + kExportNameZeroes);
    auto r = decode_export_name_reply(out);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size, 4096u);
    EXPECT_EQ(r->tx_flags, kTxHasFlags);
    out.clear();
    append_export_name_reply(out, 8192, 3, true);
    EXPECT_EQ(out.size(), kExportNameReplySize);
    r = decode_export_name_reply(out);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->size, 8192u);
}

TEST(NbdCodec, RequestRoundTrip) {
    Request r{kCmdFlagFua, static_cast<uint16_t>(Command::Write), 0x1122334455667788ull, 1ull << 33, 65536};
    uint8_t b[kRequestSize];
    encode_request(std::span<uint8_t, kRequestSize>(b), r);
    EXPECT_EQ(bytes({0x25, 0x60, 0x95, 0x13, 0, 1, 0, 1}), std::vector<uint8_t>(b, b + 8));
    auto d = decode_request(b);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->flags, kCmdFlagFua);
    EXPECT_EQ(d->command(), Command::Write);
    EXPECT_EQ(d->handle, r.handle);
    EXPECT_EQ(d->offset, r.offset);
    EXPECT_EQ(d->length, r.length);
}

TEST(NbdCodec, SimpleReplyRoundTrip) {
    uint8_t b[kSimpleReplySize];
    encode_simple_reply(std::span<uint8_t, kSimpleReplySize>(b), kEnospc, 42);
    auto r = decode_simple_reply(b);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error, kEnospc);
    EXPECT_EQ(r->handle, 42u);
}

TEST(NbdCodec, StructuredChunksRoundTrip) {
    uint8_t b[kOffsetDataHeaderSize];
    encode_offset_data_header(std::span<uint8_t, kOffsetDataHeaderSize>(b), 7, 4096, 512, true);
    auto h = decode_chunk_header(std::span<const uint8_t>(b).first(kStructuredReplySize));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->type, kReplyTypeOffsetData);
    EXPECT_EQ(h->flags, kReplyFlagDone);
    EXPECT_EQ(h->handle, 7u);
    EXPECT_EQ(h->length, 512u + 8);

    uint8_t n[kStructuredReplySize];
    encode_none_chunk(std::span<uint8_t, kStructuredReplySize>(n), 9);
    h = decode_chunk_header(n);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->type, kReplyTypeNone);
    EXPECT_EQ(h->length, 0u);

    uint8_t e[64];
    std::size_t len = encode_error_chunk(e, 11, kEinval, "bad offset");
    EXPECT_EQ(len, kStructuredReplySize + 6 + 10);
    h = decode_chunk_header(std::span<const uint8_t>(e).first(kStructuredReplySize));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->type, kReplyTypeError);
    EXPECT_EQ(h->length, 16u);
    auto ec = decode_error_chunk(h->type, std::span<const uint8_t>(e + kStructuredReplySize, h->length));
    ASSERT_TRUE(ec) << ec.error().message;
    EXPECT_EQ(ec->error, kEinval);
    EXPECT_EQ(ec->message, "bad offset");
    EXPECT_FALSE(ec->offset);
}

TEST(NbdCodec, ErrorChunkMessageCutToBuffer) {
    uint8_t e[kStructuredReplySize + 6 + 4];
    std::size_t len = encode_error_chunk(e, 1, kEio, "a long message");
    EXPECT_EQ(len, sizeof e);
    auto h = decode_chunk_header(std::span<const uint8_t>(e).first(kStructuredReplySize));
    ASSERT_TRUE(h);
    auto ec = decode_error_chunk(h->type, std::span<const uint8_t>(e + kStructuredReplySize, h->length));
    ASSERT_TRUE(ec);
    EXPECT_EQ(ec->message, "a lo");
}

TEST(NbdCodec, ErrnoMapping) {
    EXPECT_EQ(to_nbd_error(0), 0u);
    EXPECT_EQ(to_nbd_error(EIO), kEio);
    EXPECT_EQ(to_nbd_error(ERANGE), kEinval);
    EXPECT_EQ(to_nbd_error(EINVAL), kEinval);
    EXPECT_EQ(to_nbd_error(ENOSPC), kEnospc);
    EXPECT_EQ(to_nbd_error(EDQUOT), kEnospc);
    EXPECT_EQ(to_nbd_error(EPERM), kEperm);
    EXPECT_EQ(to_nbd_error(EBADF), kEperm);
    EXPECT_EQ(to_nbd_error(ENOMEM), kEnomem);
    EXPECT_EQ(to_nbd_error(ENOTSUP), kEnotsup);
    EXPECT_EQ(to_nbd_error(ETIMEDOUT), kEio);
}

// ---- check_request --------------------------------------------------------------------------

constexpr ExportLimits kLimits{1 << 20, 512, 1 << 16,
                               kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendTrim | kTxSendWriteZeroes};

Request req(Command c, uint64_t off, uint32_t len, uint16_t flags = 0) {
    return Request{flags, static_cast<uint16_t>(c), 1, off, len};
}

TEST(NbdCheckRequest, ValidRequests) {
    EXPECT_EQ(check_request(req(Command::Read, 0, 4096), kLimits).error, 0u);
    EXPECT_EQ(check_request(req(Command::Write, (1 << 20) - 512, 512, kCmdFlagFua), kLimits).error, 0u);
    EXPECT_EQ(check_request(req(Command::Flush, 0, 0), kLimits).error, 0u);
    EXPECT_EQ(check_request(req(Command::Trim, 0, 1 << 20), kLimits).error, 0u);
    // Beyond max_payload is fine for commands without a payload.
    EXPECT_EQ(check_request(req(Command::WriteZeroes, 0, 1 << 20, kCmdFlagNoHole), kLimits).error, 0u);
    EXPECT_EQ(check_request(req(Command::Disc, 0, 0), kLimits).error, 0u);
    EXPECT_EQ(check_request(req(Command::Read, 0, 0), kLimits).error, 0u);
}

TEST(NbdCheckRequest, PastTheEnd) {
    EXPECT_EQ(check_request(req(Command::Read, 1 << 20, 512), kLimits).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Trim, (1 << 20) - 512, 1024), kLimits).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Write, 1 << 20, 512), kLimits).error, kEnospc);
    EXPECT_EQ(check_request(req(Command::WriteZeroes, ~0ull - 511, 512), kLimits).error, kEnospc);
    // offset + length wraps around 2^64.
    EXPECT_EQ(check_request(req(Command::Read, ~0ull - 511, 1024), kLimits).error, kEinval);
}

TEST(NbdCheckRequest, Misaligned) {
    EXPECT_EQ(check_request(req(Command::Read, 1, 512), kLimits).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Write, 0, 100), kLimits).error, kEinval);
    EXPECT_FALSE(check_request(req(Command::Write, 0, 100), kLimits).close);
}

TEST(NbdCheckRequest, OversizedWriteClosesOversizedReadFails) {
    auto v = check_request(req(Command::Write, 0, (1 << 16) + 512), kLimits);
    EXPECT_TRUE(v.close);
    v = check_request(req(Command::Read, 0, (1 << 16) + 512), kLimits);
    EXPECT_FALSE(v.close);
    EXPECT_EQ(v.error, kEinval);
}

TEST(NbdCheckRequest, FlagsAndCommands) {
    EXPECT_EQ(check_request(req(Command::Read, 0, 512, kCmdFlagNoHole), kLimits).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Write, 0, 512, kCmdFlagFastZero), kLimits).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Write, 0, 512, 0x8000), kLimits).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Cache, 0, 512), kLimits).error, kEinval);
    EXPECT_EQ(check_request(req(Command::BlockStatus, 0, 512), kLimits).error, kEinval);
    EXPECT_EQ(check_request(Request{0, 77, 1, 0, 0}, kLimits).error, kEinval);
}

TEST(NbdCheckRequest, NotAdvertised) {
    ExportLimits l = kLimits;
    l.tx_flags = kTxHasFlags;
    EXPECT_EQ(check_request(req(Command::Flush, 0, 0), l).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Trim, 0, 512), l).error, kEinval);
    EXPECT_EQ(check_request(req(Command::WriteZeroes, 0, 512), l).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Write, 0, 512, kCmdFlagFua), l).error, kEinval);
    EXPECT_EQ(check_request(req(Command::Write, 0, 512), l).error, 0u);
}

// ---- malformed input ------------------------------------------------------------------------

TEST(NbdCodecMalformed, GreetingWrongSize) {
    EXPECT_FALSE(decode_greeting(std::vector<uint8_t>(17)));
}

TEST(NbdCodecMalformed, GreetingWrongMagic) {
    uint8_t g[kGreetingSize];
    encode_greeting(std::span<uint8_t, kGreetingSize>(g), 1);
    g[0] ^= 1;
    auto r = decode_greeting(g);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EPROTO);
}

TEST(NbdCodecMalformed, OldstyleGreeting) {
    uint8_t g[kGreetingSize];
    encode_greeting(std::span<uint8_t, kGreetingSize>(g), 1);
    g[8] = 0;  // not IHAVEOPT
    EXPECT_FALSE(decode_greeting(g));
}

TEST(NbdCodecMalformed, ClientFlagsShort) {
    EXPECT_FALSE(decode_client_flags(bytes({0, 0, 1})));
}

TEST(NbdCodecMalformed, ClientFlagsUnknownBits) {
    auto r = decode_client_flags(bytes({0, 0, 0, 5}));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
}

TEST(NbdCodecMalformed, ClientNotFixedNewstyle) {
    EXPECT_FALSE(decode_client_flags(bytes({0, 0, 0, 0})));
    EXPECT_FALSE(decode_client_flags(bytes({0, 0, 0, 2})));
}

TEST(NbdCodecMalformed, OptionHeaderBadMagic) {
    std::vector<uint8_t> out;
    append_option(out, 1, {});
    out[3] ^= 0xff;
    auto r = decode_option_header(out, 100);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EPROTO);
}

TEST(NbdCodecMalformed, OptionHeaderTooLong) {
    std::vector<uint8_t> out;
    append_option(out, 1, std::vector<uint8_t>(101));
    auto r = decode_option_header(std::span<const uint8_t>(out).first(kOptionHeaderSize), 100);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EMSGSIZE);
}

TEST(NbdCodecMalformed, OptionHeaderShort) {
    EXPECT_FALSE(decode_option_header(std::vector<uint8_t>(15), 100));
}

TEST(NbdCodecMalformed, ExportNameTooLong) {
    EXPECT_FALSE(decode_export_name(std::vector<uint8_t>(kMaxString + 1, 'a')));
    EXPECT_TRUE(decode_export_name(std::vector<uint8_t>(kMaxString, 'a')));
}

TEST(NbdCodecMalformed, ExportNameWithNul) {
    EXPECT_FALSE(decode_export_name(bytes({'a', 0, 'b'})));
}

TEST(NbdCodecMalformed, InfoRequestShort) {
    EXPECT_FALSE(decode_info_request(bytes({0, 0, 0, 0, 0})));
    EXPECT_FALSE(decode_info_request({}));
}

TEST(NbdCodecMalformed, InfoRequestNameLengthPastEnd) {
    // Name length 100 in a 10-byte option.
    EXPECT_FALSE(decode_info_request(bytes({0, 0, 0, 100, 'a', 'b', 'c', 'd', 0, 0})));
    // Name length 0xffffffff (must not wrap the bounds check).
    EXPECT_FALSE(decode_info_request(bytes({0xff, 0xff, 0xff, 0xff, 0, 0})));
}

TEST(NbdCodecMalformed, InfoRequestCountMismatch) {
    // Name "a", 2 requests announced, 1 present.
    EXPECT_FALSE(decode_info_request(bytes({0, 0, 0, 1, 'a', 0, 2, 0, 3})));
    // 0 requests announced, trailing bytes.
    EXPECT_FALSE(decode_info_request(bytes({0, 0, 0, 1, 'a', 0, 0, 0})));
}

TEST(NbdCodecMalformed, InfoRequestNameWithNul) {
    EXPECT_FALSE(decode_info_request(bytes({0, 0, 0, 2, 'a', 0, 0, 0})));
}

TEST(NbdCodecMalformed, RequestShort) {
    auto r = decode_request(std::vector<uint8_t>(27));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EINVAL);
}

TEST(NbdCodecMalformed, RequestBadMagic) {
    uint8_t b[kRequestSize];
    encode_request(std::span<uint8_t, kRequestSize>(b), Request{});
    b[0] = 0;
    auto r = decode_request(b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, EPROTO);
}

TEST(NbdCodecMalformed, ReplyWithRequestMagic) {
    uint8_t b[kRequestSize];
    encode_request(std::span<uint8_t, kRequestSize>(b), Request{});
    EXPECT_FALSE(decode_simple_reply(std::span<const uint8_t>(b).first(kSimpleReplySize)));
    EXPECT_FALSE(decode_chunk_header(std::span<const uint8_t>(b).first(kStructuredReplySize)));
}

TEST(NbdCodecMalformed, OptionReplyBadMagicAndTooLong) {
    std::vector<uint8_t> out;
    append_option_reply(out, 1, kRepAck);
    auto ok = decode_option_reply_header(out, 0);
    EXPECT_TRUE(ok);
    out[7] ^= 1;
    EXPECT_FALSE(decode_option_reply_header(out, 0));
    out.clear();
    append_option_reply(out, 1, kRepInfo, std::vector<uint8_t>(10));
    EXPECT_FALSE(decode_option_reply_header(std::span<const uint8_t>(out).first(kOptionReplyHeaderSize), 9));
}

TEST(NbdCodecMalformed, InfoPayloads) {
    EXPECT_FALSE(decode_info(bytes({0})));                 // shorter than the type
    EXPECT_FALSE(decode_info(bytes({0, 0, 1, 2, 3})));     // export info too short
    EXPECT_FALSE(decode_info(bytes({0, 3, 0, 0, 2, 0})));  // block size info too short
    EXPECT_FALSE(decode_info(bytes({0, 9})));              // unknown type
    EXPECT_FALSE(decode_info(bytes({0, 1, 'a', 0})));      // name with a NUL
    // Block sizes: minimum not a power of two; maximum not a multiple of the minimum.
    EXPECT_FALSE(decode_info(bytes({0, 3, 0, 0, 2, 1, 0, 0, 16, 0, 0, 1, 0, 0})));
    EXPECT_FALSE(decode_info(bytes({0, 3, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 2, 1})));
}

TEST(NbdCodecMalformed, RepServerPayloads) {
    EXPECT_FALSE(decode_rep_server(bytes({0, 0, 0})));
    EXPECT_FALSE(decode_rep_server(bytes({0, 0, 0, 5, 'a'})));
    EXPECT_TRUE(decode_rep_server(bytes({0, 0, 0, 1, 'a'})));
}

TEST(NbdCodecMalformed, ExportNameReplyWrongSize) {
    EXPECT_FALSE(decode_export_name_reply(std::vector<uint8_t>(11)));
    EXPECT_FALSE(decode_export_name_reply(std::vector<uint8_t>(133)));
}

TEST(NbdCodecMalformed, ChunkHeaders) {
    uint8_t b[kStructuredReplySize];
    // NONE with a payload.
    encode_chunk_header(std::span<uint8_t, kStructuredReplySize>(b),
                        ChunkHeader{kReplyFlagDone, kReplyTypeNone, 1, 4});
    EXPECT_FALSE(decode_chunk_header(b));
    // NONE without DONE.
    encode_chunk_header(std::span<uint8_t, kStructuredReplySize>(b), ChunkHeader{0, kReplyTypeNone, 1, 0});
    EXPECT_FALSE(decode_chunk_header(b));
    // OFFSET_DATA shorter than its offset.
    encode_chunk_header(std::span<uint8_t, kStructuredReplySize>(b),
                        ChunkHeader{1, kReplyTypeOffsetData, 1, 7});
    EXPECT_FALSE(decode_chunk_header(b));
    // An error chunk shorter than its fixed part.
    encode_chunk_header(std::span<uint8_t, kStructuredReplySize>(b), ChunkHeader{1, kReplyTypeError, 1, 5});
    EXPECT_FALSE(decode_chunk_header(b));
    EXPECT_FALSE(decode_chunk_header(std::span<const uint8_t>(b).first(19)));
}

TEST(NbdCodecMalformed, ErrorChunkPayloads) {
    EXPECT_FALSE(decode_error_chunk(kReplyTypeOffsetData, bytes({0, 0, 0, 5, 0, 0})));   // not an error
    EXPECT_FALSE(decode_error_chunk(kReplyTypeError, bytes({0, 0, 0, 5, 0})));           // short
    EXPECT_FALSE(decode_error_chunk(kReplyTypeError, bytes({0, 0, 0, 5, 0, 3, 'a'})));   // message past end
    EXPECT_FALSE(decode_error_chunk(kReplyTypeError, bytes({0, 0, 0, 0, 0, 0})));        // error 0
    EXPECT_FALSE(decode_error_chunk(kReplyTypeErrorOffset, bytes({0, 0, 0, 5, 0, 0})));  // no offset
    auto e = decode_error_chunk(kReplyTypeErrorOffset, bytes({0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0}));
    ASSERT_TRUE(e);
    EXPECT_EQ(*e->offset, 512u);
}

}  // namespace
}  // namespace ms::nbd
