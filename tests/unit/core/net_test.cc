// TCP and Unix stream sockets on the reactor: echo, large and vectored transfers, peer close,
// refused connections, and cancellation of pending accepts and receives at shutdown.
#include "core/net.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/reactor.h"
#include "core/runtime.h"
#include "test_util.h"

namespace ms {
namespace {

using namespace std::chrono_literals;
using test::Clock;

std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n);
    for (auto& b : v) {
        b = static_cast<uint8_t>(rng());
    }
    return v;
}

// Waits on the current reactor until `flag` is set (by another task on the same reactor).
Task<void> wait_for(const bool* flag) {
    while (!*flag) {
        co_await sleep_for(1ms);
    }
}

Task<void> echo(Socket s, bool* done) {
    std::vector<uint8_t> buf(64 * 1024);
    for (;;) {
        auto n = co_await s.recv_some(buf);
        if (!n || *n == 0) {
            break;
        }
        auto st = co_await s.send_all({buf.data(), *n});
        if (!st) {
            break;
        }
    }
    *done = true;
}

// Accepts one connection and echoes it until the peer closes.
Task<void> accept_and_echo(Listener* l, bool* done) {
    auto s = co_await l->accept();
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    if (!s) {
        *done = true;
        co_return;
    }
    co_await echo(std::move(*s), done);
}

// Sends `msg` and reads the echo back at the same time (a message larger than the socket
// buffers would otherwise deadlock against the echo server).
Task<Status> echo_round_trip(Socket& c, std::string_view msg) {
    bool sent = false;
    Status send_status;
    Reactor::current()->spawn([](Socket* c, std::string_view msg, Status* out, bool* done) -> Task<void> {
        *out = co_await c->send_all(bytes(msg));
        *done = true;
    }(&c, msg, &send_status, &sent));
    std::string back(msg.size(), '\0');
    Status recv_status = co_await c.recv_exact({reinterpret_cast<uint8_t*>(back.data()), back.size()});
    co_await wait_for(&sent);
    if (!send_status) {
        co_return send_status;
    }
    if (!recv_status) {
        co_return recv_status;
    }
    if (back != msg) {
        co_return make_error(EIO, "echo mismatch");
    }
    co_return ok();
}

TEST(Net, TcpEcho) {
    Runtime rt({});
    Status st = run_on(rt.reactor(0), []() -> Task<Status> {
        auto l = Listener::listen_tcp("127.0.0.1", 0);
        if (!l) {
            co_return std::unexpected(l.error());
        }
        EXPECT_NE(l->port(), 0) << "port 0 must pick a free port";
        bool server_done = false;
        Reactor::current()->spawn(accept_and_echo(&*l, &server_done));
        auto c = co_await Socket::connect_tcp("127.0.0.1", l->port());
        if (!c) {
            co_return std::unexpected(c.error());
        }
        EXPECT_TRUE(c->valid());
        for (std::string msg : {std::string("hello, reactor"), std::string("x"), std::string(100000, 'y')}) {
            if (auto r = co_await echo_round_trip(*c, msg); !r) {
                co_return r;
            }
        }
        c->close();
        co_await wait_for(&server_done);
        co_return ok();
    });
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST(Net, TcpEchoOverIpv6Loopback) {
    Runtime rt({});
    auto probe = Listener::listen_tcp("::1", 0);
    if (!probe) {
        GTEST_SKIP() << "no IPv6 loopback here: " << probe.error().message;
    }
    probe->close();
    Status st = run_on(rt.reactor(0), []() -> Task<Status> {
        auto l = Listener::listen_tcp("::1", 0);
        if (!l) {
            co_return std::unexpected(l.error());
        }
        bool server_done = false;
        Reactor::current()->spawn(accept_and_echo(&*l, &server_done));
        auto c = co_await Socket::connect_tcp("::1", l->port());
        if (!c) {
            co_return std::unexpected(c.error());
        }
        auto r = co_await echo_round_trip(*c, "over v6");
        c->close();
        co_await wait_for(&server_done);
        co_return r;
    });
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST(Net, ManyConcurrentConnections) {
    Runtime rt({});
    constexpr int kClients = 32;
    Status st = run_on(rt.reactor(0), []() -> Task<Status> {
        auto l = Listener::listen_tcp("127.0.0.1", 0);
        if (!l) {
            co_return std::unexpected(l.error());
        }
        std::array<bool, kClients> server_done{};
        std::array<bool, kClients> client_done{};
        int failures = 0;
        for (int i = 0; i < kClients; ++i) {
            Reactor::current()->spawn(accept_and_echo(&*l, &server_done[i]));
        }
        for (int i = 0; i < kClients; ++i) {
            Reactor::current()->spawn([](uint16_t port, int i, bool* done, int* failures) -> Task<void> {
                auto c = co_await Socket::connect_tcp("127.0.0.1", port);
                if (!c) {
                    ++*failures;
                    *done = true;
                    co_return;
                }
                std::string msg(64 * 1024 + i, static_cast<char>('a' + i % 26));
                if (!co_await echo_round_trip(*c, msg)) {
                    ++*failures;
                }
                *done = true;
            }(l->port(), i, &client_done[i], &failures));
        }
        for (int i = 0; i < kClients; ++i) {
            co_await wait_for(&client_done[i]);
        }
        for (int i = 0; i < kClients; ++i) {
            co_await wait_for(&server_done[i]);
        }
        if (failures != 0) {
            co_return errorf(EIO, "{} clients failed", failures);
        }
        co_return ok();
    });
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

// Client sends `data` with send_all while the server receives it with recv_exact, then the
// server sends it back with sendv_all over `chunks` and the client receives it.
Status transfer_both_ways(Runtime& rt, const std::vector<uint8_t>& data,
                          const std::vector<std::size_t>& chunks) {
    return run_on(rt.reactor(0), [&]() -> Task<Status> {
        auto l = Listener::listen_tcp("127.0.0.1", 0);
        if (!l) {
            co_return std::unexpected(l.error());
        }
        bool server_done = false;
        Status server_status;
        Reactor::current()->spawn([](Listener* l, const std::vector<uint8_t>* data,
                                     const std::vector<std::size_t>* chunks, Status* out,
                                     bool* done) -> Task<void> {
            *out = co_await [&]() -> Task<Status> {
                auto s = co_await l->accept();
                if (!s) {
                    co_return std::unexpected(s.error());
                }
                std::vector<uint8_t> in(data->size());
                if (auto st = co_await s->recv_exact(in); !st) {
                    co_return st;
                }
                if (in != *data) {
                    co_return make_error(EIO, "server received corrupted data");
                }
                std::vector<iovec> iov;
                std::size_t off = 0;
                for (std::size_t len : *chunks) {
                    iov.push_back({in.data() + off, len});
                    off += len;
                }
                co_return co_await s->sendv_all(iov);
            }();
            *done = true;
        }(&*l, &data, &chunks, &server_status, &server_done));

        auto c = co_await Socket::connect_tcp("127.0.0.1", l->port());
        if (!c) {
            co_return std::unexpected(c.error());
        }
        if (auto st = co_await c->send_all(data); !st) {
            co_return st;
        }
        std::vector<uint8_t> back(data.size());
        auto received = co_await c->recv_exact(back);
        co_await wait_for(&server_done);
        if (!server_status) {
            co_return server_status;
        }
        if (!received) {
            co_return received;
        }
        if (back != data) {
            co_return make_error(EIO, "client received corrupted data");
        }
        co_return ok();
    });
}

TEST(Net, LargeTransfersWithSendAllRecvExactAndSendvAll) {
    Runtime rt({});
    constexpr std::size_t kSize = 8 << 20;
    auto data = random_bytes(kSize, 1);
    // Irregular chunks, including empty ones, adding up to kSize.
    std::vector<std::size_t> chunks;
    std::mt19937 rng(2);
    std::size_t left = kSize;
    while (left > 0) {
        std::size_t len = std::min<std::size_t>(left, rng() % 50000);
        chunks.push_back(len);
        left -= len;
    }
    ASSERT_LT(chunks.size(), 1000u);
    Status st = transfer_both_ways(rt, data, chunks);
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST(Net, SendvAllWithMoreIovecsThanTheKernelTakesAtOnce) {
    // IOV_MAX is 1024: a longer vector must still be sent whole.
    Runtime rt({});
    std::vector<std::size_t> chunks;
    std::mt19937 rng(3);
    std::size_t total = 0;
    for (int i = 0; i < 5000; ++i) {
        chunks.push_back(1 + rng() % 2000);
        total += chunks.back();
    }
    auto data = random_bytes(total, 4);
    Status st = transfer_both_ways(rt, data, chunks);
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST(Net, PeerCloseGivesZeroThenConnectionReset) {
    Runtime rt({});
    struct Outcome {
        Status first_exact;
        std::string first_data;
        Result<std::size_t> after_close = std::size_t{99};
        Status short_exact;
    };
    Outcome o = run_on(rt.reactor(0), []() -> Task<Outcome> {
        Outcome o;
        auto l = Listener::listen_tcp("127.0.0.1", 0);
        if (!l) {
            o.first_exact = std::unexpected(l.error());
            co_return o;
        }
        // The server sends a few bytes and closes, twice.
        bool server_done = false;
        Reactor::current()->spawn([](Listener* l, bool* done) -> Task<void> {
            for (std::string_view msg : {"abc", "ab"}) {
                auto s = co_await l->accept();
                if (s) {
                    (void)co_await s->send_all(bytes(msg));
                }
            }
            *done = true;
        }(&*l, &server_done));

        auto c1 = co_await Socket::connect_tcp("127.0.0.1", l->port());
        if (c1) {
            std::string got(3, '\0');
            o.first_exact = co_await c1->recv_exact({reinterpret_cast<uint8_t*>(got.data()), got.size()});
            o.first_data = got;
            std::array<uint8_t, 16> buf{};
            o.after_close = co_await c1->recv_some(buf);
        }
        auto c2 = co_await Socket::connect_tcp("127.0.0.1", l->port());
        if (c2) {
            std::array<uint8_t, 10> buf{};
            o.short_exact = co_await c2->recv_exact(buf);
        }
        co_await wait_for(&server_done);
        co_return o;
    });
    ASSERT_TRUE(o.first_exact.has_value()) << o.first_exact.error().message;
    EXPECT_EQ(o.first_data, "abc");
    ASSERT_TRUE(o.after_close.has_value()) << o.after_close.error().message;
    EXPECT_EQ(*o.after_close, 0u) << "a closed peer reads as 0 bytes";
    ASSERT_FALSE(o.short_exact.has_value()) << "recv_exact must fail when the peer closes early";
    EXPECT_EQ(o.short_exact.error().code, ECONNRESET);
}

TEST(Net, ConnectingToAClosedPortIsRefused) {
    Runtime rt({});
    auto r = run_on(rt.reactor(0), []() -> Task<Result<Socket>> {
        auto l = Listener::listen_tcp("127.0.0.1", 0);
        if (!l) {
            co_return std::unexpected(l.error());
        }
        uint16_t port = l->port();
        l->close();
        co_return co_await Socket::connect_tcp("127.0.0.1", port);
    });
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ECONNREFUSED) << r.error().message;
}

TEST(Net, ListenRejectsBadAddressesAndPortsInUse) {
    auto name = Listener::listen_tcp("localhost", 0);
    ASSERT_FALSE(name.has_value());
    EXPECT_EQ(name.error().code, EINVAL);
    EXPECT_NE(name.error().message.find("localhost"), std::string::npos);

    auto first = Listener::listen_tcp("127.0.0.1", 0);
    ASSERT_TRUE(first.has_value());
    auto second = Listener::listen_tcp("127.0.0.1", first->port());
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, EADDRINUSE) << second.error().message;
}

std::string temp_socket_path(const char* name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/" + name + "." + std::to_string(::getpid()) +
           ".sock";
}

TEST(Net, UnixSocketEcho) {
    Runtime rt({});
    std::string path = temp_socket_path("ms_net_test");
    Status st = run_on(rt.reactor(0), [&]() -> Task<Status> {
        // A stale socket file from an earlier run is replaced.
        auto stale = Listener::listen_unix(path);
        if (!stale) {
            co_return std::unexpected(stale.error());
        }
        auto l = Listener::listen_unix(path);
        if (!l) {
            co_return std::unexpected(l.error());
        }
        bool server_done = false;
        Reactor::current()->spawn(accept_and_echo(&*l, &server_done));
        auto c = co_await Socket::connect_unix(path);
        if (!c) {
            co_return std::unexpected(c.error());
        }
        for (std::string msg : {std::string("over unix"), std::string(1 << 20, 'u')}) {
            if (auto r = co_await echo_round_trip(*c, msg); !r) {
                co_return r;
            }
        }
        c->close();
        co_await wait_for(&server_done);
        co_return ok();
    });
    ::unlink(path.c_str());
    EXPECT_TRUE(st.has_value()) << st.error().message;
}

TEST(Net, UnixSocketErrors) {
    Runtime rt({});
    std::string too_long(200, 'p');
    auto l = Listener::listen_unix("/tmp/" + too_long);
    ASSERT_FALSE(l.has_value());
    EXPECT_EQ(l.error().code, ENAMETOOLONG);
    auto results = run_on(rt.reactor(0), [&]() -> Task<std::pair<Result<Socket>, Result<Socket>>> {
        auto a = co_await Socket::connect_unix("/tmp/" + too_long);
        auto b = co_await Socket::connect_unix(temp_socket_path("ms_net_test_missing"));
        co_return std::pair{std::move(a), std::move(b)};
    });
    ASSERT_FALSE(results.first.has_value());
    EXPECT_EQ(results.first.error().code, ENAMETOOLONG);
    ASSERT_FALSE(results.second.has_value());
    EXPECT_EQ(results.second.error().code, ENOENT) << results.second.error().message;
}

TEST(Net, PendingAcceptIsCancelledAtShutdown) {
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::atomic<bool> started{false};
    std::optional<Result<Socket>> got;
    rt->reactor(0).post([&] {
        Reactor::current()->spawn(
            [](std::atomic<bool>* started, std::optional<Result<Socket>>* got) -> Task<void> {
                auto l = Listener::listen_tcp("127.0.0.1", 0);
                if (!l) {
                    got->emplace(std::unexpected(l.error()));
                    co_return;
                }
                started->store(true);
                got->emplace(co_await l->accept());
            }(&started, &got));
    });
    ASSERT_TRUE(test::eventually([&] { return started.load(); }, 5s));
    std::this_thread::sleep_for(20ms);
    auto t0 = Clock::now();
    rt->stop();
    EXPECT_LT(Clock::now() - t0, 2s);
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->has_value());
    EXPECT_EQ(got->error().code, ECANCELED) << got->error().message;
}

TEST(Net, PendingReceiveIsCancelledAtShutdown) {
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::atomic<bool> started{false};
    std::optional<Result<std::size_t>> got;
    rt->reactor(0).post([&] {
        Reactor::current()->spawn(
            [](std::atomic<bool>* started, std::optional<Result<std::size_t>>* got) -> Task<void> {
                auto l = Listener::listen_tcp("127.0.0.1", 0);
                if (!l) {
                    got->emplace(std::unexpected(l.error()));
                    co_return;
                }
                auto c = co_await Socket::connect_tcp("127.0.0.1", l->port());
                if (!c) {
                    got->emplace(std::unexpected(c.error()));
                    co_return;
                }
                auto s = co_await l->accept();
                if (!s) {
                    got->emplace(std::unexpected(s.error()));
                    co_return;
                }
                started->store(true);
                std::array<uint8_t, 64> buf{};
                got->emplace(co_await s->recv_some(buf));
            }(&started, &got));
    });
    ASSERT_TRUE(test::eventually([&] { return started.load(); }, 5s));
    std::this_thread::sleep_for(20ms);
    auto t0 = Clock::now();
    rt->stop();
    EXPECT_LT(Clock::now() - t0, 2s);
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->has_value());
    EXPECT_EQ(got->error().code, ECANCELED) << got->error().message;
}

TEST(Net, AcceptOnAStoppingReactorIsCancelledAtOnce) {
    auto rt = std::make_unique<Runtime>(RuntimeOptions{});
    std::optional<Result<Socket>> got;
    rt->reactor(0).post([&] {
        Reactor* r = Reactor::current();
        r->spawn([](std::optional<Result<Socket>>* got) -> Task<void> {
            co_await yield();  // the stop request below is seen first
            auto l = Listener::listen_tcp("127.0.0.1", 0);
            if (!l) {
                got->emplace(std::unexpected(l.error()));
                co_return;
            }
            got->emplace(co_await l->accept());
        }(&got));
        r->request_stop();
    });
    auto t0 = Clock::now();
    rt->stop();
    EXPECT_LT(Clock::now() - t0, 2s);
    ASSERT_TRUE(got.has_value());
    ASSERT_FALSE(got->has_value());
    EXPECT_EQ(got->error().code, ECANCELED);
}

TEST(Net, SocketMoveAndClose) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    Socket a(fds[0]);
    Socket b(fds[1]);
    EXPECT_TRUE(a.valid());
    Socket c(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(c.fd(), fds[0]);
    Socket d;
    EXPECT_FALSE(d.valid());
    d = std::move(c);
    EXPECT_EQ(d.fd(), fds[0]);
    EXPECT_FALSE(c.valid());  // NOLINT(bugprone-use-after-move)
    d = std::move(b);         // closes fds[0]
    EXPECT_EQ(d.fd(), fds[1]);
    EXPECT_EQ(::fcntl(fds[0], F_GETFD), -1) << "the replaced socket must be closed";
    d.close();
    EXPECT_FALSE(d.valid());
    d.close();  // idempotent
}

}  // namespace
}  // namespace ms
