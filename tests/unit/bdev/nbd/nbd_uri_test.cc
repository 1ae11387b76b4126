// nbd:// and nbd+unix:// URIs: what they parse to, the device names, and the errors for bad
// ones (EINVAL naming the problem, nothing created). Creation errors with no server (nobody on
// the port, no socket file) have the socket's errno.
#include <gtest/gtest.h>

#include <thread>

#include "bdev/all_devices.h"
#include "nbd_test_util.h"

namespace ms::test {
namespace {

using nbd_host::NbdUriSpec;

Result<NbdUriSpec> parse(const std::string& text) {
    auto uri = parse_uri(text);
    if (!uri) {
        return std::unexpected(uri.error());
    }
    return nbd_host::parse_nbd_uri(*uri);
}

TEST(NbdUri, TcpForms) {
    auto s = parse("nbd://127.0.0.1:10900/disk0");
    ASSERT_TRUE(is_ok(s));
    EXPECT_FALSE(s->server.unix_socket);
    EXPECT_EQ(s->server.host, "127.0.0.1");
    EXPECT_EQ(s->server.port, 10900);
    EXPECT_EQ(s->export_name, "disk0");
    EXPECT_EQ(s->timeout_ms, 5000u);
    EXPECT_EQ(s->reconnect_ms, 1000u);
    EXPECT_EQ(s->connections, 64u);
    EXPECT_FALSE(s->blk_size.has_value());
    EXPECT_FALSE(s->uuid.has_value());
    EXPECT_EQ(s->device_name(), "nbd:127.0.0.1:10900/disk0");

    // Default port; empty export name with and without the slash; names with slashes.
    s = parse("nbd://localhost/");
    ASSERT_TRUE(is_ok(s));
    EXPECT_EQ(s->server.port, nbd_host::kDefaultPort);
    EXPECT_EQ(s->export_name, "");
    EXPECT_EQ(s->device_name(), "nbd:localhost:10809/");
    s = parse("nbd://127.0.0.1:10900");
    ASSERT_TRUE(is_ok(s));
    EXPECT_EQ(s->export_name, "");
    s = parse("nbd://127.0.0.1:10900/a/b%20c");
    ASSERT_TRUE(is_ok(s));
    EXPECT_EQ(s->export_name, "a/b c");
    s = parse("nbd://[::1]:10900/x");
    ASSERT_TRUE(is_ok(s));
    EXPECT_EQ(s->server.host, "::1");
    EXPECT_EQ(s->device_name(), "nbd:[::1]:10900/x");

    // Every parameter.
    s = parse(
        "nbd://127.0.0.1/x?uuid=0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d&timeout_ms=250&reconnect_ms=0"
        "&connections=2&blk_size=4096");
    ASSERT_TRUE(is_ok(s));
    EXPECT_EQ(s->uuid->to_string(), "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    EXPECT_EQ(s->timeout_ms, 250u);
    EXPECT_EQ(s->reconnect_ms, 0u);
    EXPECT_EQ(s->connections, 2u);
    EXPECT_EQ(s->blk_size, 4096u);
    // Parameters do not change the name: the same export is the same device.
    EXPECT_EQ(s->device_name(), "nbd:127.0.0.1:10809/x");
}

TEST(NbdUri, UnixForms) {
    auto s = parse("nbd+unix:///disk0?socket=/run/nbd/s.sock");
    ASSERT_TRUE(is_ok(s));
    EXPECT_TRUE(s->server.unix_socket);
    EXPECT_EQ(s->server.socket_path, "/run/nbd/s.sock");
    EXPECT_EQ(s->export_name, "disk0");
    EXPECT_EQ(s->device_name(), "nbd+unix:[/run/nbd/s.sock]/disk0");
    s = parse("nbd+unix:///?socket=/tmp/a");
    ASSERT_TRUE(is_ok(s));
    EXPECT_EQ(s->export_name, "");
    EXPECT_EQ(s->device_name(), "nbd+unix:[/tmp/a]/");
    // A socket path that looks like an export and an export that looks like a path stay apart.
    auto a = parse("nbd+unix:///c?socket=/tmp/a/b");
    auto b = parse("nbd+unix:///b/c?socket=/tmp/a");
    ASSERT_TRUE(is_ok(a));
    ASSERT_TRUE(is_ok(b));
    EXPECT_NE(a->device_name(), b->device_name());
    auto odd = parse("nbd+unix:///x?socket=/tmp/%5D%25");
    ASSERT_TRUE(is_ok(odd));
    EXPECT_EQ(odd->server.socket_path, "/tmp/]%");
    EXPECT_EQ(odd->device_name(), "nbd+unix:[/tmp/%5D%25]/x");
}

TEST(NbdUri, BadUris) {
    struct Case {
        const char* uri;
        std::vector<std::string> words;
    };
    const Case cases[] = {
        {"nbd:///x", {"no host"}},
        {"nbd://127.0.0.1/x?socket=/tmp/s", {"socket="}},
        {"nbd+unix:///x", {"socket="}},
        {"nbd+unix:///x?socket=", {"socket="}},
        {"nbd+unix://host/x?socket=/tmp/s", {"host"}},
        {"nbd://127.0.0.1/x?bogus=1", {"unknown parameter", "bogus"}},
        {"nbd://127.0.0.1/x?timeout_ms=0", {"timeout_ms"}},
        {"nbd://127.0.0.1/x?timeout_ms=soon", {"timeout_ms", "soon"}},
        {"nbd://127.0.0.1/x?reconnect_ms=-1", {"reconnect_ms"}},
        {"nbd://127.0.0.1/x?connections=0", {"connections"}},
        {"nbd://127.0.0.1/x?connections=257", {"connections"}},
        {"nbd://127.0.0.1/x?blk_size=1000", {"blk_size", "1000"}},
        {"nbd://127.0.0.1/x?blk_size=256", {"blk_size"}},
        {"nbd://127.0.0.1/x?blk_size=131072", {"blk_size"}},
        {"nbd://127.0.0.1/x?uuid=nope", {"uuid", "nope"}},
        {"nbd://127.0.0.1/x?blk_size=512&blk_size=4096", {"blk_size", "more than once"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.uri);
        EXPECT_TRUE(fails_with(parse(c.uri), EINVAL, c.words));
    }
    std::string long_name(4097, 'x');
    EXPECT_TRUE(fails_with(parse("nbd://127.0.0.1/" + long_name), EINVAL, {"longer than"}));
    EXPECT_TRUE(fails_with(parse("nbd+unix:///x?socket=/" + std::string(120, 's')), EINVAL, {"too long"}));
}

// Through create_device: bad URIs, nobody listening, no socket file. Nothing is registered.
TEST(NbdUri, CreateErrorsLeaveNothing) {
    register_all_device_factories();
    Runtime rt(RuntimeOptions{});
    const auto before = registry_names();
    EXPECT_TRUE(fails_with(create(rt, "nbd://127.0.0.1/x?colour=red"), EINVAL, {"colour"}));
    EXPECT_TRUE(fails_with(create(rt, "nbd+unix:///x"), EINVAL, {"socket="}));
    uint16_t port = free_tcp_port();
    ASSERT_NE(port, 0);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(fails_with(create(rt, "nbd://127.0.0.1:" + std::to_string(port) + "/x"), ECONNREFUSED,
                           {"nbd:127.0.0.1:" + std::to_string(port) + "/x"}));
    EXPECT_TRUE(
        fails_with(create(rt, "nbd+unix:///x?socket=/nonexistent/nbd.sock"), ENOENT, {"nonexistent"}));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_EQ(registry_names(), before);
}

// A listener that accepts and never speaks: the handshake gives up after timeout_ms.
TEST(NbdUri, SilentServerTimesOut) {
    register_all_device_factories();
    Runtime rt(RuntimeOptions{});
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    std::string uri = "nbd://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/x?timeout_ms=300";
    auto t0 = std::chrono::steady_clock::now();
    auto dev = create(rt, uri);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_TRUE(fails_with(dev, ETIMEDOUT));
    EXPECT_GE(took, std::chrono::milliseconds(250));
    EXPECT_LT(took, std::chrono::seconds(2));
    EXPECT_TRUE(registry_names().empty());
    rt.stop();
    ::close(fd);
}

// A peer that answers the connection with bytes that are not the NBD magic: creation fails at
// once with libnbd's complaint, nothing is left behind, nothing hangs.
TEST(NbdUri, GarbageServerFailsCreateCleanly) {
    register_all_device_factories();
    Runtime rt(RuntimeOptions{});
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    std::thread peer([fd] {
        int c = ::accept(fd, nullptr, nullptr);
        if (c < 0) {
            return;
        }
        std::vector<uint8_t> junk(256, 0xA5);
        (void)!::write(c, junk.data(), junk.size());
        char sink[256];
        while (::read(c, sink, sizeof sink) > 0) {
        }
        ::close(c);
    });
    std::string uri = "nbd://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/x?timeout_ms=2000";
    auto t0 = std::chrono::steady_clock::now();
    auto dev = create(rt, uri);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(dev.has_value());
    EXPECT_NE(dev.error().code, ETIMEDOUT) << dev.error().to_string();
    EXPECT_NE(dev.error().message.find("handshake"), std::string::npos) << dev.error().message;
    EXPECT_LT(took, std::chrono::seconds(1));
    EXPECT_TRUE(registry_names().empty());
    rt.stop();
    peer.join();
    ::close(fd);
}

}  // namespace
}  // namespace ms::test
