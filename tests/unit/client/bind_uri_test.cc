// -b/--bind normalisation: default scheme http, default port 10124.
#include "mayastor-client/bind_uri.h"

#include <gtest/gtest.h>

namespace ms::client {
namespace {

void expect_bind(std::string_view text, const std::string& uri, const std::string& target) {
    auto e = parse_bind(text);
    ASSERT_TRUE(e.has_value()) << text;
    EXPECT_EQ(e->uri, uri) << text;
    EXPECT_EQ(e->target, target) << text;
}

TEST(BindUri, Default) {
    expect_bind(kDefaultBind, "http://127.0.0.1:10124/", "127.0.0.1:10124");
}

TEST(BindUri, MissingSchemeAndPort) {
    expect_bind("127.0.0.1:50051", "http://127.0.0.1:50051/", "127.0.0.1:50051");
    expect_bind("host", "http://host:10124/", "host:10124");
    expect_bind("http://host", "http://host:10124/", "host:10124");
    expect_bind("http://10.1.2.3:1234", "http://10.1.2.3:1234/", "10.1.2.3:1234");
    expect_bind("HTTP://node-1.example.com", "http://node-1.example.com:10124/", "node-1.example.com:10124");
    expect_bind("https://h:1", "https://h:1/", "h:1");
    expect_bind("host:", "http://host:10124/", "host:10124");
    expect_bind("http://host:99/", "http://host:99/", "host:99");
    expect_bind("[::1]", "http://[::1]:10124/", "[::1]:10124");
    expect_bind("[::1]:5000", "http://[::1]:5000/", "[::1]:5000");
}

TEST(BindUri, Refused) {
    for (const char* bad :
         {"", "http://", ":10124", "host:port", "host:99999", "host:123456", "a b", "unix:///var/tmp/sock",
          "ftp://host", "::1", "[::1", "[]:1", "[::1]x", "host:-1", "ho$t", "http://h/a b"}) {
        EXPECT_FALSE(parse_bind(bad).has_value()) << "'" << bad << "' accepted";
    }
}

}  // namespace
}  // namespace ms::client
