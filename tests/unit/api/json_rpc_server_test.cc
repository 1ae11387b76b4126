// The JSON-RPC server over its real Unix socket: protocol errors, batches, notifications,
// concurrent and misbehaving clients, and the device methods.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <thread>

#include "api/jsonrpc/base64.h"
#include "api_test_util.h"

namespace ms::api::test {
namespace {

using jsonrpc::json;

// A raw client: writes bytes, reads whole responses.
class RawClient {
   public:
    explicit RawClient(const std::string& path) {
        _fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, path.data(), path.size());
        _connected = ::connect(_fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
    }
    ~RawClient() { ::close(_fd); }
    bool connected() const { return _connected; }

    bool send(std::string_view bytes) {
        return ::send(_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
    }
    // The next response, or nullopt on EOF / timeout.
    std::optional<json> receive(int timeout_ms = 5000) {
        for (;;) {
            std::string text, why;
            if (_stream.next(text, why) == jsonrpc::JsonStream::Next::Message) {
                return json::parse(text);
            }
            pollfd p{_fd, POLLIN, 0};
            if (::poll(&p, 1, timeout_ms) <= 0) {
                return std::nullopt;
            }
            char buf[65536];
            ssize_t n = ::recv(_fd, buf, sizeof buf, 0);
            if (n <= 0) {
                return std::nullopt;
            }
            _stream.append(std::string_view(buf, static_cast<std::size_t>(n)));
        }
    }
    // True when the server closed the connection (EOF within the timeout).
    bool closed_by_server(int timeout_ms = 5000) {
        pollfd p{_fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) {
            return false;
        }
        char c;
        return ::recv(_fd, &c, 1, MSG_DONTWAIT) == 0;
    }

   private:
    int _fd = -1;
    bool _connected = false;
    jsonrpc::JsonStream _stream;
};

class JsonRpcServerTest : public ApiFixture {
   protected:
    // The result of a call that must succeed.
    json ok_call(const std::string& method, const json& params = nullptr) {
        auto r = json_call(method, params);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        if (!r) {
            return nullptr;
        }
        EXPECT_TRUE(*r) << method << ": " << (*r ? "" : r->error().message);
        return *r ? **r : json(nullptr);
    }
    // The error code of a call that must fail.
    int error_of(const std::string& method, const json& params = nullptr, std::string* message = nullptr) {
        auto r = json_call(method, params);
        EXPECT_TRUE(r) << (r ? "" : r.error().message);
        if (!r || *r) {
            ADD_FAILURE() << method << " succeeded";
            return 0;
        }
        if (message != nullptr) {
            *message = r->error().message;
        }
        return r->error().code;
    }
};

TEST_F(JsonRpcServerTest, ListsItsMethods) {
    json methods = ok_call("rpc_get_methods");
    ASSERT_TRUE(methods.is_array());
    for (const char* m :
         {"rpc_get_methods", "get_version", "mayastor_get_version", "bdev_list", "bdev_create",
          "bdev_destroy", "bdev_write", "bdev_read", "pool_list", "replica_list"}) {
        EXPECT_NE(std::find(methods.begin(), methods.end(), m), methods.end()) << m;
    }
}

TEST_F(JsonRpcServerTest, ReportsItsVersion) {
    for (const char* m : {"get_version", "mayastor_get_version"}) {
        json v = ok_call(m);
        EXPECT_EQ(v["version"], "mayastor 1.2.3-test");
        EXPECT_EQ(v["fields"]["major"], 1);
        EXPECT_EQ(v["fields"]["minor"], 2);
        EXPECT_EQ(v["fields"]["patch"], 3);
        EXPECT_EQ(v["fields"]["suffix"], "-test");
    }
}

TEST_F(JsonRpcServerTest, UnknownMethodIsMethodNotFound) {
    std::string msg;
    EXPECT_EQ(error_of("no_such_method", nullptr, &msg), jsonrpc::kMethodNotFound);
    EXPECT_NE(msg.find("no_such_method"), std::string::npos);
}

TEST_F(JsonRpcServerTest, MalformedJsonIsAParseErrorAndTheConnectionGoesOn) {
    RawClient c(_socket);
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","id":1,"method":})"));
    auto r = c.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["error"]["code"], jsonrpc::kParseError);
    EXPECT_TRUE((*r)["id"].is_null());
    ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","id":2,"method":"get_version"})"));
    r = c.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["id"], 2);
    EXPECT_TRUE((*r).contains("result"));
}

TEST_F(JsonRpcServerTest, UnframeableInputIsAParseErrorAndDisconnects) {
    for (std::string bad : {std::string("hello"), std::string(1000, '['), std::string("42 ")}) {
        RawClient c(_socket);
        ASSERT_TRUE(c.connected());
        ASSERT_TRUE(c.send(bad));
        auto r = c.receive();
        ASSERT_TRUE(r) << bad.substr(0, 10);
        EXPECT_EQ((*r)["error"]["code"], jsonrpc::kParseError);
        EXPECT_TRUE(c.closed_by_server()) << bad.substr(0, 10);
    }
    // The server still serves.
    ok_call("get_version");
}

TEST_F(JsonRpcServerTest, InvalidRequestsAreRejectedWithTheirId) {
    RawClient c(_socket);
    struct Case {
        std::string text;
        json id;
    };
    for (const auto& [text, id] : std::vector<Case>{
             {R"({"id":1,"method":"get_version"})", 1},
             {R"({"jsonrpc":"1.0","id":"a","method":"get_version"})", "a"},
             {R"({"jsonrpc":"2.0","id":3,"method":7})", 3},
             {R"({"jsonrpc":"2.0","id":{"x":1},"method":"get_version"})", nullptr},
             {R"({"jsonrpc":"2.0","id":5,"method":"get_version","params":"x"})", 5},
         }) {
        ASSERT_TRUE(c.send(text));
        auto r = c.receive();
        ASSERT_TRUE(r) << text;
        EXPECT_EQ((*r)["error"]["code"], jsonrpc::kInvalidRequest) << text;
        EXPECT_EQ((*r)["id"], id) << text;
    }
}

TEST_F(JsonRpcServerTest, NotificationsGetNoResponseAndBatchesGetArrays) {
    RawClient c(_socket);
    ASSERT_TRUE(c.send(R"({"jsonrpc":"2.0","method":"get_version"})"
                       R"({"jsonrpc":"2.0","method":"no_such_method"})"
                       R"({"jsonrpc":"2.0","id":9,"method":"get_version"})"));
    auto r = c.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["id"], 9);  // the first response is the one to the request

    ASSERT_TRUE(c.send(R"([{"jsonrpc":"2.0","id":1,"method":"get_version"},)"
                       R"({"jsonrpc":"2.0","method":"get_version"},)"
                       R"({"jsonrpc":"2.0","id":2,"method":"nope"}, 5])"));
    r = c.receive();
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->is_array());
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0]["id"], 1);
    EXPECT_EQ((*r)[1]["error"]["code"], jsonrpc::kMethodNotFound);
    EXPECT_EQ((*r)[2]["error"]["code"], jsonrpc::kInvalidRequest);

    ASSERT_TRUE(c.send("[]"));
    r = c.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["error"]["code"], jsonrpc::kInvalidRequest);
}

TEST_F(JsonRpcServerTest, ManyConcurrentClientsWhileOthersMisbehave) {
    // One client stalls halfway through a message, another floods garbage.
    RawClient stalled(_socket);
    ASSERT_TRUE(stalled.send(R"({"jsonrpc":"2.0","id":1,"method":"get_ver)"));
    std::atomic<bool> stop{false};
    std::thread flooder([&] {
        while (!stop) {
            RawClient f(_socket);
            f.send("}}}} not json at all {{{{");
            f.receive(1000);
        }
    });
    constexpr int kClients = 16;
    constexpr int kCalls = 25;
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kClients; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kCalls; ++i) {
                auto r = jsonrpc::call(_socket, i % 2 ? "get_version" : "bdev_list", nullptr,
                                       std::chrono::seconds(10));
                if (r && *r) {
                    ++good;
                } else {
                    ADD_FAILURE() << "client " << t << " call " << i << ": "
                                  << (r ? r->error().message : r.error().message);
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    stop = true;
    flooder.join();
    EXPECT_EQ(good, kClients * kCalls);
    // The stalled client can still finish its message.
    ASSERT_TRUE(stalled.send(R"(sion"})"));
    auto r = stalled.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ((*r)["id"], 1);
}

TEST_F(JsonRpcServerTest, StopsWithClientsConnected) {
    RawClient idle(_socket);
    RawClient partial(_socket);
    ASSERT_TRUE(partial.send("{\"jsonrpc\":"));
    ok_call("get_version");
    auto t0 = std::chrono::steady_clock::now();
    run_on(reactor(), [this] { return _json_rpc->stop(); });
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    EXPECT_TRUE(idle.closed_by_server(1000));
    EXPECT_FALSE(std::filesystem::exists(_socket));
}

TEST_F(JsonRpcServerTest, RefusesASocketInUseAndReplacesAStaleOne) {
    JsonRpcServer second(jsonrpc::MethodContext{"x"});
    Status s = run_on(reactor(), [&]() -> Task<Status> { co_return second.start(_socket); });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, EADDRINUSE);
    ok_call("get_version");  // the first server still has its socket

    // A socket file nobody listens on is stale and replaced.
    std::string stale = _dir.file("stale.sock");
    {
        auto l = Listener::listen_unix(stale);
        ASSERT_TRUE(l);
    }  // closed; the file stays
    ASSERT_TRUE(std::filesystem::exists(stale));
    s = run_on(reactor(), [&]() -> Task<Status> { co_return second.start(stale); });
    ASSERT_TRUE(s) << s.error().message;
    auto r = jsonrpc::call(stale, "get_version", nullptr, std::chrono::seconds(5));
    ASSERT_TRUE(r && *r);
    run_on(reactor(), [&] { return second.stop(); });
}

TEST_F(JsonRpcServerTest, CreatesListsAndDestroysDevices) {
    json name = ok_call("bdev_create", {{"uri", "malloc:///jm0?size_mb=8"}});
    EXPECT_EQ(name, "jm0");
    // Same URI again: the same device.
    EXPECT_EQ(ok_call("bdev_create", {{"uri", "malloc:///jm0?size_mb=8"}}), "jm0");
    // Same name, other URI: EEXIST.
    EXPECT_EQ(error_of("bdev_create", {{"uri", "malloc:///jm0?size_mb=16"}}), -EEXIST);
    EXPECT_EQ(error_of("bdev_create", {{"uri", "bogus:///x"}}), jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_create", {{"uri", "malloc:///x?size_mb=8&nope=1"}}), jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_create", json::object()), jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_create", {{"uri", 5}}), jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_create", {{"uri", "malloc:///y?size_mb=8"}, {"extra", 1}}),
              jsonrpc::kInvalidParams);

    json list = ok_call("bdev_list");
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["name"], "jm0");
    EXPECT_EQ(list[0]["num_blocks"], 16384);
    EXPECT_EQ(list[0]["blk_size"], 512);
    EXPECT_EQ(list[0]["claimed_by"], "Orphaned");
    EXPECT_EQ(list[0]["share_uri"], "bdev:///jm0");
    EXPECT_EQ(list[0]["uri"].get<std::string>().rfind("malloc:///jm0?size_mb=8&uuid=", 0), 0u);
    EXPECT_EQ(ok_call("bdev_list", {{"name", "jm0"}}).size(), 1u);
    EXPECT_EQ(error_of("bdev_list", {{"name", "nope"}}), -ENOENT);

    EXPECT_EQ(error_of("bdev_destroy", {{"name", "nope"}}), -ENOENT);
    EXPECT_EQ(error_of("bdev_destroy", json::object()), jsonrpc::kInvalidParams);
    EXPECT_EQ(ok_call("bdev_destroy", {{"uri", list[0]["uri"]}}), true);
    EXPECT_TRUE(ok_call("bdev_list").empty());
    ok_call("bdev_create", {{"uri", "malloc:///jm1?size_mb=8"}});
    EXPECT_EQ(ok_call("bdev_destroy", {{"name", "jm1"}}), true);
}

TEST_F(JsonRpcServerTest, WritesAndReadsDevices) {
    ok_call("bdev_create", {{"uri", "malloc:///io0?size_mb=4&blk_size=4096"}});
    std::vector<uint8_t> data(8192);
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<uint8_t>(i * 31 + 7);
    }
    EXPECT_EQ(ok_call("bdev_write", {{"name", "io0"}, {"offset", 4096}, {"data", base64_encode(data)}}),
              8192);
    json read = ok_call("bdev_read", {{"name", "io0"}, {"offset", 4096}, {"length", 8192}});
    auto back = base64_decode(read.get<std::string>());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, data);

    EXPECT_EQ(ok_call("bdev_write", {{"name", "io0"}, {"offset", 0}, {"pattern", 0xab}, {"length", 4096}}),
              4096);
    back = base64_decode(
        ok_call("bdev_read", {{"name", "io0"}, {"offset", 0}, {"length", 4096}}).get<std::string>());
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, std::vector<uint8_t>(4096, 0xab));
    ok_call("bdev_write",
            {{"name", "io0"}, {"offset", 0}, {"pattern", "abc"}, {"length", 4096}, {"flush", false}});
    back = base64_decode(
        ok_call("bdev_read", {{"name", "io0"}, {"offset", 0}, {"length", 4096}}).get<std::string>());
    EXPECT_EQ((*back)[0], 'a');
    EXPECT_EQ((*back)[4095], 'a');  // 4095 % 3 == 0
    EXPECT_EQ((*back)[4094], 'c');

    // The full 1 MiB is allowed, one byte more is not.
    ok_call("bdev_read", {{"name", "io0"}, {"offset", 0}, {"length", 1 << 20}});
    EXPECT_EQ(error_of("bdev_read", {{"name", "io0"}, {"offset", 0}, {"length", (1 << 20) + 4096}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_read", {{"name", "io0"}, {"offset", 512}, {"length", 4096}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_read", {{"name", "io0"}, {"offset", 0}, {"length", 100}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_read", {{"name", "io0"}, {"offset", 4 << 20}, {"length", 4096}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_read", {{"name", "io0"}, {"offset", -4096}, {"length", 4096}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_read", {{"name", "nope"}, {"offset", 0}, {"length", 4096}}), -ENOENT);
    EXPECT_EQ(error_of("bdev_write", {{"name", "io0"}, {"offset", 0}, {"data", "!!!!"}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_write", {{"name", "io0"}, {"offset", 0}, {"data", "AAAA"}, {"pattern", 1}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_write", {{"name", "io0"}, {"offset", 0}, {"pattern", 1}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_write", {{"name", "io0"}, {"offset", 0}, {"pattern", 256}, {"length", 4096}}),
              jsonrpc::kInvalidParams);
    EXPECT_EQ(error_of("bdev_write", {{"name", "io0"}, {"offset", 0}, {"data", "AAAA"}}),
              jsonrpc::kInvalidParams);
}

TEST_F(JsonRpcServerTest, WritingAClaimedDeviceIsRefused) {
    ok_call("bdev_create", {{"uri", "malloc:///base0?size_mb=4"}});
    ok_call("bdev_create", {{"uri", "error:///err0?base=base0"}});  // claims base0
    int code = error_of("bdev_write", {{"name", "base0"}, {"offset", 0}, {"pattern", 1}, {"length", 512}});
    EXPECT_EQ(code, -EPERM);
    // Reading it is fine.
    ok_call("bdev_read", {{"name", "base0"}, {"offset", 0}, {"length", 512}});
    EXPECT_EQ(error_of("bdev_destroy", {{"name", "base0"}}), -EBUSY);
    ok_call("bdev_destroy", {{"name", "err0"}});
    ok_call("bdev_destroy", {{"name", "base0"}});
}

}  // namespace
}  // namespace ms::api::test
