// The URI parser: what device URIs look like after parsing, every malformed form it must
// refuse (EINVAL with a message naming the problem), QueryParams, and to_string round trips.
#include "core/uri.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ms {
namespace {

using Query = std::vector<std::pair<std::string, std::string>>;

Uri parse_ok(std::string_view text) {
    auto u = parse_uri(text);
    EXPECT_TRUE(u.has_value()) << text << ": " << (u ? "" : u.error().message);
    return u ? *u : Uri{};
}

// Expects EINVAL with a message that contains `what` and quotes the URI.
void expect_bad(std::string_view text, std::string_view what) {
    auto u = parse_uri(text);
    ASSERT_FALSE(u.has_value()) << "'" << text << "' was accepted as " << u->to_string();
    EXPECT_EQ(u.error().code, EINVAL) << text;
    EXPECT_NE(u.error().message.find(what), std::string::npos)
        << "message for '" << text << "' does not mention '" << what << "': " << u.error().message;
}

TEST(Uri, MallocWithQuery) {
    Uri u = parse_ok("malloc:///m0?size_mb=64");
    EXPECT_EQ(u.scheme, "malloc");
    EXPECT_EQ(u.host, "");
    EXPECT_FALSE(u.port.has_value());
    EXPECT_EQ(u.path, "/m0");
    EXPECT_EQ(u.query, (Query{{"size_mb", "64"}}));
}

TEST(Uri, NvmfWithHostPortAndNqn) {
    Uri u = parse_ok("nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:x");
    EXPECT_EQ(u.scheme, "nvmf");
    EXPECT_EQ(u.host, "127.0.0.1");
    ASSERT_TRUE(u.port.has_value());
    EXPECT_EQ(*u.port, 8420);
    EXPECT_EQ(u.path, "/nqn.2019-05.io.openebs:x");
    EXPECT_TRUE(u.query.empty());
}

TEST(Uri, BracketedIpv6Host) {
    Uri u = parse_ok("nvmf://[::1]:4420/nqn.x");
    EXPECT_EQ(u.host, "::1");
    ASSERT_TRUE(u.port.has_value());
    EXPECT_EQ(*u.port, 4420);
    EXPECT_EQ(u.path, "/nqn.x");

    Uri v = parse_ok("nvmf://[fe80::1:2]/p");
    EXPECT_EQ(v.host, "fe80::1:2");
    EXPECT_FALSE(v.port.has_value());

    Uri w = parse_ok("nvmf://[::FFFF:192.0.2.1]:8420/p");
    EXPECT_EQ(w.host, "::FFFF:192.0.2.1");
}

TEST(Uri, AioWithAbsolutePath) {
    Uri u = parse_ok("aio:////disk1.img");
    EXPECT_EQ(u.scheme, "aio");
    EXPECT_EQ(u.host, "");
    EXPECT_EQ(u.path, "//disk1.img");

    Uri d = parse_ok("aio:///dev/sdb?blk_size=4096");
    EXPECT_EQ(d.path, "/dev/sdb");
    EXPECT_EQ(d.query, (Query{{"blk_size", "4096"}}));
}

TEST(Uri, IscsiWithIqnAndLun) {
    Uri u = parse_ok("iscsi://host/iqn.2016-01.com.example:target/0");
    EXPECT_EQ(u.scheme, "iscsi");
    EXPECT_EQ(u.host, "host");
    EXPECT_FALSE(u.port.has_value());
    EXPECT_EQ(u.path, "/iqn.2016-01.com.example:target/0");
    Uri v = parse_ok("iscsi://host/iqn/0");
    EXPECT_EQ(v.path, "/iqn/0");
}

TEST(Uri, SchemeIsLowerCasedAndMayHoldPlusDashDot) {
    EXPECT_EQ(parse_ok("MALLOC:///m").scheme, "malloc");
    EXPECT_EQ(parse_ok("Nvme+TCP-x.y://h/").scheme, "nvme+tcp-x.y");
}

TEST(Uri, PercentEscapesAreDecoded) {
    Uri u = parse_ok("uring:///tmp/a%20b%2Fc%3f?na%6De=v%26x%3D1&k=%41%42");
    EXPECT_EQ(u.path, "/tmp/a b/c?");
    EXPECT_EQ(u.query, (Query{{"name", "v&x=1"}, {"k", "AB"}}));
    // Upper and lower case hex digits.
    EXPECT_EQ(parse_ok("x:///%c3%A9").path, "/\xc3\xa9");
}

TEST(Uri, QueryKeepsOrderAndToleratesEmptyItemsAndMissingValues) {
    Uri u = parse_ok("null:///n?b=2&&a=1&flag&empty=");
    EXPECT_EQ(u.query, (Query{{"b", "2"}, {"a", "1"}, {"flag", ""}, {"empty", ""}}));
    Uri v = parse_ok("null:///n?");
    EXPECT_TRUE(v.query.empty());
    Uri w = parse_ok("null:///n?a=b=c");
    EXPECT_EQ(w.query, (Query{{"a", "b=c"}}));
}

TEST(Uri, EmptyPathAndHostOnly) {
    Uri u = parse_ok("nbd://127.0.0.1:10809");
    EXPECT_EQ(u.host, "127.0.0.1");
    EXPECT_EQ(*u.port, 10809);
    EXPECT_EQ(u.path, "");
    Uri v = parse_ok("nbd://h?x=1");
    EXPECT_EQ(v.host, "h");
    EXPECT_EQ(v.path, "");
    EXPECT_EQ(v.query, (Query{{"x", "1"}}));
}

TEST(Uri, PortLimits) {
    EXPECT_EQ(*parse_ok("tcp://h:1").port, 1);
    EXPECT_EQ(*parse_ok("tcp://h:65535").port, 65535);
}

TEST(Uri, RejectsMissingScheme) {
    expect_bad("", "no scheme");
    expect_bad("/dev/sdb", "no scheme");
    expect_bad("malloc:/m0", "no scheme");
    expect_bad("malloc//m0", "no scheme");
}

TEST(Uri, RejectsBadScheme) {
    expect_bad(":///m0", "invalid scheme");
    expect_bad("1abc:///m0", "invalid scheme");
    expect_bad("a_b:///m0", "invalid scheme");
    expect_bad("a/b://h", "invalid scheme");
    expect_bad("-x://h", "invalid scheme");
}

TEST(Uri, RejectsBadPorts) {
    expect_bad("nvmf://h:/p", "empty port");
    expect_bad("nvmf://[::1]:/p", "empty port");
    expect_bad("nvmf://h:0/p", "invalid port");
    expect_bad("nvmf://h:65536/p", "invalid port");
    expect_bad("nvmf://h:99999999999/p", "invalid port");
    expect_bad("nvmf://h:12a/p", "invalid port");
    expect_bad("nvmf://h:-1/p", "invalid port");
    expect_bad("nvmf://h:+80/p", "invalid port");
    expect_bad("nvmf://h:0x50/p", "invalid port");
}

TEST(Uri, RejectsDuplicateQueryKeys) {
    expect_bad("malloc:///m?size_mb=1&size_mb=2", "size_mb");
    expect_bad("malloc:///m?size_mb=1&size_mb=2", "more than once");
    // The same key after decoding is still a duplicate.
    expect_bad("malloc:///m?a=1&%61=2", "more than once");
}

TEST(Uri, RejectsBadPercentEscapes) {
    expect_bad("malloc:///m%", "percent-escape");
    expect_bad("malloc:///m%4", "percent-escape");
    expect_bad("malloc:///m%zz", "percent-escape");
    expect_bad("malloc:///m%4g", "percent-escape");
    expect_bad("malloc:///m?k=%", "percent-escape");
    expect_bad("malloc:///m?%=v", "percent-escape");
    expect_bad("malloc:///m?k=%2", "percent-escape");
    expect_bad("malloc:///m%00x", "NUL");
    expect_bad("malloc:///m?k=%00", "NUL");
}

TEST(Uri, RejectsSpacesAndControlCharacters) {
    expect_bad("malloc:///m 0", "space or control");
    expect_bad(" malloc:///m0", "space or control");
    expect_bad("malloc:///m0\n", "space or control");
    expect_bad("malloc:///m\t0", "space or control");
    expect_bad("malloc:///m\x7f", "space or control");
    expect_bad(std::string_view("malloc:///m\0x", 13), "space or control");
}

TEST(Uri, RejectsFragment) {
    expect_bad("malloc:///m0#frag", "fragment");
    expect_bad("malloc:///m0?a=1#f", "fragment");
}

TEST(Uri, RejectsUserInfo) {
    expect_bad("iscsi://user:secret@host/iqn/0", "user information");
    expect_bad("iscsi://@host/iqn/0", "user information");
}

TEST(Uri, RejectsMalformedIpv6) {
    expect_bad("nvmf://[::1/p", "unterminated IPv6");
    expect_bad("nvmf://[::1", "unterminated IPv6");
    expect_bad("nvmf://[::1]x/p", "after the IPv6");
    expect_bad("nvmf://[]:4420/p", "invalid IPv6 address");
    expect_bad("nvmf://[[]/p", "invalid IPv6 address");
    expect_bad("nvmf://[host]/p", "invalid IPv6 address");
    expect_bad("nvmf://[::1%eth0]/p", "invalid IPv6 address");
    expect_bad("nvmf://[::1[]/p", "invalid IPv6 address");
    expect_bad("nvmf://::1:4420/p", "invalid host");
    expect_bad("nvmf://a]b/p", "invalid host");
}

TEST(Uri, RejectsQueryKeyWithoutName) {
    expect_bad("malloc:///m?=5", "without a name");
}

TEST(Uri, ErrorMessageQuotesTheUri) {
    auto u = parse_uri("nvmf://h:0/p");
    ASSERT_FALSE(u);
    EXPECT_NE(u.error().message.find("nvmf://h:0/p"), std::string::npos) << u.error().message;
}

void expect_round_trip(std::string_view text) {
    Uri a = parse_ok(text);
    std::string s = a.to_string();
    auto b = parse_uri(s);
    ASSERT_TRUE(b.has_value()) << text << " -> " << s << ": " << b.error().message;
    EXPECT_EQ(a.scheme, b->scheme) << text << " -> " << s;
    EXPECT_EQ(a.host, b->host) << text << " -> " << s;
    EXPECT_EQ(a.port, b->port) << text << " -> " << s;
    EXPECT_EQ(a.path, b->path) << text << " -> " << s;
    EXPECT_EQ(a.query, b->query) << text << " -> " << s;
    EXPECT_EQ(s, b->to_string()) << "to_string is not stable for " << text;
}

TEST(Uri, ToStringRoundTrips) {
    for (const char* text : {
             "malloc:///m0?size_mb=64",
             "nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:x",
             "nvmf://[::1]:4420/nqn.x?a=1&b=2",
             "aio:////disk1.img",
             "iscsi://host/iqn/0",
             "uring:///tmp/a%20b%2Fc%3f?na%6De=v%26x%3D1&k=%41%42",
             "x:///%c3%A9%01%7F?%23=%3F&flag",
             "nbd://h",
             "nbd://h:1",
             "null://",
             "nvmf://[::ffff:127.0.0.1]:5/",
         }) {
        expect_round_trip(text);
    }
}

TEST(Uri, ToStringOfSimpleUrisIsCanonical) {
    EXPECT_EQ(parse_ok("malloc:///m0?size_mb=64").to_string(), "malloc:///m0?size_mb=64");
    EXPECT_EQ(parse_ok("NVMF://[::1]:4420/nqn.x").to_string(), "nvmf://[::1]:4420/nqn.x");
    EXPECT_EQ(parse_ok("uring:///a%20b?k=a%26b").to_string(), "uring:///a%20b?k=a%26b");
}

TEST(Uri, PercentEncode) {
    EXPECT_EQ(percent_encode("a/b c", true), "a/b%20c");
    EXPECT_EQ(percent_encode("a/b c", false), "a%2Fb%20c");
    EXPECT_EQ(percent_encode("AZaz09-_.~:", false), "AZaz09-_.~:");
    EXPECT_EQ(percent_encode("\xff?&=#%", false), "%FF%3F%26%3D%23%25");
}

TEST(QueryParams, TakeConsumesOnce) {
    Uri u = parse_ok("malloc:///m?size_mb=64&name=x");
    QueryParams q(u);
    EXPECT_EQ(q.take("size_mb"), "64");
    EXPECT_EQ(q.take("size_mb"), std::nullopt) << "a parameter can be taken only once";
    EXPECT_EQ(q.take("missing"), std::nullopt);
    EXPECT_FALSE(q.finish()) << "'name' was not taken";
    EXPECT_EQ(q.take("name"), "x");
    EXPECT_TRUE(q.finish());
}

TEST(QueryParams, TakeU64) {
    Uri u = parse_ok("malloc:///m?a=64&b=0x10&c=0X1f&d=18446744073709551615&e=0");
    QueryParams q(u);
    EXPECT_EQ(q.take_u64("a").value(), 64u);
    EXPECT_EQ(q.take_u64("b").value(), 16u);
    EXPECT_EQ(q.take_u64("c").value(), 31u);
    EXPECT_EQ(q.take_u64("d").value(), UINT64_MAX);
    EXPECT_EQ(q.take_u64("e").value(), 0u);
    auto absent = q.take_u64("absent");
    ASSERT_TRUE(absent.has_value());
    EXPECT_FALSE(absent->has_value());
    EXPECT_TRUE(q.finish());
}

TEST(QueryParams, TakeU64RejectsMalformedNumbers) {
    for (const char* value :
         {"", "x", "12x", "-1", "+1", "0x", "0xg", "18446744073709551616", "1.5", "1e3"}) {
        Uri u = parse_ok(std::string("malloc:///m?size_mb=") + value);
        QueryParams q(u);
        auto r = q.take_u64("size_mb");
        ASSERT_FALSE(r.has_value()) << "'" << value << "' accepted as " << r->value_or(0);
        EXPECT_EQ(r.error().code, EINVAL);
        EXPECT_NE(r.error().message.find("size_mb"), std::string::npos) << r.error().message;
        EXPECT_TRUE(q.finish()) << "a malformed parameter still counts as taken";
    }
}

TEST(QueryParams, TakeBool) {
    Uri u = parse_ok("x:///?a=true&b=1&c=yes&d=false&e=0&f=no&g=maybe&h=");
    QueryParams q(u);
    EXPECT_EQ(q.take_bool("a").value(), true);
    EXPECT_EQ(q.take_bool("b").value(), true);
    EXPECT_EQ(q.take_bool("c").value(), true);
    EXPECT_EQ(q.take_bool("d").value(), false);
    EXPECT_EQ(q.take_bool("e").value(), false);
    EXPECT_EQ(q.take_bool("f").value(), false);
    auto g = q.take_bool("g");
    ASSERT_FALSE(g.has_value());
    EXPECT_EQ(g.error().code, EINVAL);
    EXPECT_NE(g.error().message.find("'g'"), std::string::npos) << g.error().message;
    EXPECT_NE(g.error().message.find("maybe"), std::string::npos) << g.error().message;
    EXPECT_FALSE(q.take_bool("h").has_value());
    auto absent = q.take_bool("absent");
    ASSERT_TRUE(absent.has_value());
    EXPECT_FALSE(absent->has_value());
    EXPECT_TRUE(q.finish());
}

TEST(QueryParams, FinishNamesTheFirstUnknownParameter) {
    Uri u = parse_ok("malloc:///m0?size_mb=64&bogus=1&other=2");
    QueryParams q(u);
    ASSERT_TRUE(q.take_u64("size_mb").has_value());
    auto s = q.finish();
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, EINVAL);
    EXPECT_NE(s.error().message.find("unknown parameter 'bogus'"), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find("malloc:///m0"), std::string::npos) << s.error().message;
}

TEST(QueryParams, NoQueryFinishesCleanly) {
    Uri u = parse_ok("malloc:///m0");
    QueryParams q(u);
    EXPECT_EQ(q.take("x"), std::nullopt);
    EXPECT_TRUE(q.finish());
}

}  // namespace
}  // namespace ms
