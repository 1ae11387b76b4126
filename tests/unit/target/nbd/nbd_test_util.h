// Shared set-up of the NBD server tests: two reactors, a malloc device exported by a server on
// a free port of 127.0.0.1, libnbd handles connected to it, and a raw blocking client (our codec
// over a plain socket) for what libnbd will not send.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libnbd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bdev/device_factory.h"
#include "core/runtime.h"
#include "target/nbd/codec.h"
#include "target/nbd/nbd_server.h"

namespace ms::nbd::test {

inline std::vector<uint8_t> pattern(std::size_t n, uint32_t seed) {
    std::vector<uint8_t> v(n);
    std::mt19937 rng(seed);
    for (auto& b : v) {
        b = static_cast<uint8_t>(rng());
    }
    return v;
}

struct NbdCloser {
    void operator()(nbd_handle* h) const { nbd_close(h); }
};
using NbdHandle = std::unique_ptr<nbd_handle, NbdCloser>;

inline std::string nbd_err() {
    const char* e = nbd_get_error();
    return e ? e : "(no libnbd error)";
}

// A blocking client over a plain socket, with a receive timeout so that a server that does not
// answer fails the test instead of hanging it.
class RawClient {
   public:
    explicit RawClient(int fd) : _fd(fd) {
        timeval tv{10, 0};
        ::setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;
    ~RawClient() {
        if (_fd >= 0) {
            ::close(_fd);
        }
    }
    static std::unique_ptr<RawClient> connect_tcp(uint16_t port) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            return nullptr;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return std::make_unique<RawClient>(fd);
    }
    int fd() const { return _fd; }
    bool send(std::span<const uint8_t> b) {
        std::size_t done = 0;
        while (done < b.size()) {
            ssize_t n = ::send(_fd, b.data() + done, b.size() - done, MSG_NOSIGNAL);
            if (n <= 0) {
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        return true;
    }
    // Exactly n bytes, or nullopt (closed, timeout).
    std::optional<std::vector<uint8_t>> recv(std::size_t n) {
        std::vector<uint8_t> b(n);
        std::size_t done = 0;
        while (done < n) {
            ssize_t r = ::recv(_fd, b.data() + done, n - done, 0);
            if (r <= 0) {
                return std::nullopt;
            }
            done += static_cast<std::size_t>(r);
        }
        return b;
    }
    // True when the server closed the connection (EOF) within the timeout.
    bool closed_by_peer() {
        uint8_t b[256];
        for (;;) {
            ssize_t r = ::recv(_fd, b, sizeof b, 0);
            if (r == 0) {
                return true;
            }
            if (r < 0) {
                return errno == ECONNRESET;
            }
        }
    }
    void close() {
        ::close(_fd);
        _fd = -1;
    }

    // ---- handshake helpers
    // Reads the greeting and sends the client flags.
    bool start(uint32_t client_flags = kClientFlagFixedNewstyle | kClientFlagNoZeroes) {
        auto g = recv(kGreetingSize);
        if (!g || !decode_greeting(*g)) {
            return false;
        }
        uint8_t f[kClientFlagsSize];
        encode_client_flags(std::span<uint8_t, kClientFlagsSize>(f), client_flags);
        return send(f);
    }
    bool send_option(uint32_t option, std::span<const uint8_t> data = {}) {
        std::vector<uint8_t> out;
        append_option(out, option, data);
        return send(out);
    }
    struct Reply {
        OptionReplyHeader h;
        std::vector<uint8_t> payload;
    };
    std::optional<Reply> read_option_reply() {
        auto h = recv(kOptionReplyHeaderSize);
        if (!h) {
            return std::nullopt;
        }
        auto hdr = decode_option_reply_header(*h, 1u << 20);
        if (!hdr) {
            return std::nullopt;
        }
        Reply r{*hdr, {}};
        if (hdr->length > 0) {
            auto p = recv(hdr->length);
            if (!p) {
                return std::nullopt;
            }
            r.payload = std::move(*p);
        }
        return r;
    }
    // NBD_OPT_GO for `name`; true when the server acknowledged it (transmission starts).
    bool go(const std::string& name, uint16_t* tx_flags = nullptr) {
        std::vector<uint8_t> data;
        append_info_request(data, InfoRequest{name, {kInfoBlockSize}});
        if (!send_option(static_cast<uint32_t>(Option::Go), data)) {
            return false;
        }
        for (;;) {
            auto r = read_option_reply();
            if (!r) {
                return false;
            }
            if (r->h.type == kRepAck) {
                return true;
            }
            if (r->h.type != kRepInfo) {
                return false;
            }
            auto info = decode_info(r->payload);
            if (info && info->type == kInfoExport && tx_flags != nullptr) {
                *tx_flags = info->tx_flags;
            }
        }
    }

    // ---- transmission helpers
    bool request(Command c, uint64_t offset, uint32_t length, uint64_t handle, uint16_t flags = 0,
                 std::span<const uint8_t> payload = {}) {
        uint8_t h[kRequestSize];
        encode_request(std::span<uint8_t, kRequestSize>(h),
                       Request{flags, static_cast<uint16_t>(c), handle, offset, length});
        std::vector<uint8_t> out(h, h + sizeof h);
        out.insert(out.end(), payload.begin(), payload.end());
        return send(out);
    }
    std::optional<SimpleReply> simple_reply() {
        auto b = recv(kSimpleReplySize);
        if (!b) {
            return std::nullopt;
        }
        auto r = decode_simple_reply(*b);
        if (!r) {
            return std::nullopt;
        }
        return *r;
    }

   private:
    int _fd;
};

class NbdServerTest : public ::testing::Test {
   protected:
    void SetUp() override { SetUpWith("malloc:///nbd0?size_mb=16&blk_size=512"); }
    void SetUpWith(const std::string& device_uri, NbdServerOptions extra = {}) {
        RuntimeOptions ro;
        ro.cpus = {0, 1};
        rt = std::make_unique<Runtime>(ro);
        dev = make_device(device_uri);
        ASSERT_TRUE(dev);
        NbdServerOptions o = extra;
        o.listen_address = "127.0.0.1";
        o.advertised_address = "127.0.0.1";
        o.port = 0;
        auto s = NbdServer::start(*rt, o);
        ASSERT_TRUE(s) << s.error().to_string();
        server = std::move(*s);
        target::ShareRequest req;
        req.device = dev;
        auto u = server->share(req);
        ASSERT_TRUE(u) << u.error().to_string();
        uri = *u;
        name = dev->name();
    }
    void TearDown() override {
        server.reset();
        dev.reset();
        for (const auto& u : created) {
            run_on(rt->reactor(0), [u]() -> Task<Status> { co_return co_await destroy_device(u); });
        }
        rt.reset();
    }

    std::shared_ptr<BlockDevice> make_device(const std::string& u) {
        auto d = run_on(rt->reactor(0), [u]() -> Task<Result<std::shared_ptr<BlockDevice>>> {
            co_return co_await create_device(u);
        });
        if (!d) {
            ADD_FAILURE() << d.error().to_string();
            return nullptr;
        }
        created.push_back(u.substr(0, u.find('?')));
        return *d;
    }

    std::string local_uri(const std::string& export_name) const {
        return fmt::format("nbd://127.0.0.1:{}/{}", server->port(), export_name);
    }

    // A libnbd handle connected to `export_name` (default: the test's export).
    NbdHandle connect(bool structured = true, std::string export_name = {}) {
        NbdHandle h(nbd_create());
        if (!h) {
            ADD_FAILURE() << nbd_err();
            return nullptr;
        }
        nbd_set_request_structured_replies(h.get(), structured);
        if (nbd_connect_uri(h.get(), local_uri(export_name.empty() ? name : export_name).c_str()) != 0) {
            ADD_FAILURE() << "connect: " << nbd_err();
            return nullptr;
        }
        return h;
    }

    std::unique_ptr<Runtime> rt;
    std::shared_ptr<BlockDevice> dev;
    std::unique_ptr<NbdServer> server;
    std::string uri;
    std::string name;
    std::vector<std::string> created;
};

}  // namespace ms::nbd::test
