// The NBD server against libnbd (a client we did not write), in one process: handshake
// variants, data written and read back (also straight from the device), every command, errors,
// many connections and many requests in flight, unshare and shutdown with clients connected.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "bdev/descriptor.h"
#include "target/nbd/nbd_test_util.h"

namespace ms::nbd::test {
namespace {

constexpr uint64_t kSize = 16ull << 20;

class NbdServerLibnbdTest : public NbdServerTest {
   protected:
    // Reads the device itself (not through the server).
    std::vector<uint8_t> device_bytes(uint64_t offset, std::size_t len) {
        auto d = dev;
        return run_on(rt->reactor(1), [d, offset, len]() -> Task<std::vector<uint8_t>> {
            auto desc = Descriptor::open(d, OpenMode::ReadOnly);
            EXPECT_TRUE(desc);
            auto buf = (*desc)->dma_malloc(len);
            EXPECT_TRUE(buf);
            auto st = co_await (*desc)->read_at(offset, *buf);
            EXPECT_TRUE(st);
            co_return std::vector<uint8_t>(buf->data(), buf->data() + len);
        });
    }
};

TEST_F(NbdServerLibnbdTest, ShareReturnsUriAndLists) {
    EXPECT_EQ(uri, fmt::format("nbd://127.0.0.1:{}/nbd0", server->port()));
    EXPECT_EQ(server->protocol(), "nbd");
    auto l = server->list();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].device_name, "nbd0");
    EXPECT_EQ(l[0].uri, uri);
    EXPECT_EQ(l[0].protocol, "nbd");
    EXPECT_FALSE(l[0].local_device);
    // The same device again: the same URI.
    target::ShareRequest again;
    again.device = dev;
    auto u = server->share(again);
    ASSERT_TRUE(u);
    EXPECT_EQ(*u, uri);
    EXPECT_EQ(server->list().size(), 1u);
}

TEST_F(NbdServerLibnbdTest, ShareRefusesHostListsAndNoDevice) {
    target::ShareRequest req;
    req.device = dev;
    req.options.allowed_hosts = {"somebody"};
    auto u = server->share(req);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, EINVAL);
    EXPECT_FALSE(server->share(target::ShareRequest{}));
}

TEST_F(NbdServerLibnbdTest, ClaimedDeviceNeedsItsOwner) {
    auto other = make_device("malloc:///claimed?size_mb=1");
    ASSERT_TRUE(other->claim("nexus-1"));
    target::ShareRequest req;
    req.device = other;
    auto u = server->share(req);
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().code, EPERM);
    req.claim_owner = "nexus-1";
    EXPECT_TRUE(server->share(req));
    EXPECT_TRUE(server->unshare("claimed"));
    EXPECT_EQ(other->open_count(), 0);
    other->release_claim("nexus-1");
}

TEST_F(NbdServerLibnbdTest, GoWithBlockSizesAndFlags) {
    auto h = connect(true);
    ASSERT_TRUE(h);
    EXPECT_EQ(nbd_get_size(h.get()), static_cast<int64_t>(kSize));
    EXPECT_EQ(nbd_get_block_size(h.get(), LIBNBD_SIZE_MINIMUM), 512);
    EXPECT_EQ(nbd_get_block_size(h.get(), LIBNBD_SIZE_PREFERRED), 4096);
    EXPECT_EQ(nbd_get_block_size(h.get(), LIBNBD_SIZE_MAXIMUM), 32 << 20);
    EXPECT_EQ(nbd_is_read_only(h.get()), 0);
    EXPECT_EQ(nbd_can_flush(h.get()), 1);
    EXPECT_EQ(nbd_can_fua(h.get()), 1);
    EXPECT_EQ(nbd_can_trim(h.get()), 1);
    EXPECT_EQ(nbd_can_zero(h.get()), 1);
    EXPECT_EQ(nbd_can_multi_conn(h.get()), 1);
    EXPECT_EQ(nbd_can_cache(h.get()), 0);
    EXPECT_EQ(nbd_can_df(h.get()), 0);
    EXPECT_EQ(nbd_get_structured_replies_negotiated(h.get()), 1);
    EXPECT_EQ(nbd_shutdown(h.get(), 0), 0);
}

TEST_F(NbdServerLibnbdTest, StructuredRepliesOff) {
    auto h = connect(false);
    ASSERT_TRUE(h);
    EXPECT_EQ(nbd_get_structured_replies_negotiated(h.get()), 0);
    auto data = pattern(65536, 1);
    ASSERT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 1 << 20, 0), 0) << nbd_err();
    std::vector<uint8_t> back(data.size());
    ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), 1 << 20, 0), 0) << nbd_err();
    EXPECT_EQ(back, data);
    EXPECT_EQ(device_bytes(1 << 20, data.size()), data);
}

TEST_F(NbdServerLibnbdTest, InfoThenGoInOptionMode) {
    NbdHandle h(nbd_create());
    ASSERT_TRUE(h);
    ASSERT_EQ(nbd_set_opt_mode(h.get(), true), 0);
    ASSERT_EQ(nbd_set_full_info(h.get(), true), 0);
    ASSERT_EQ(nbd_connect_uri(h.get(), local_uri(name).c_str()), 0) << nbd_err();
    ASSERT_EQ(nbd_aio_is_negotiating(h.get()), 1);
    ASSERT_EQ(nbd_opt_info(h.get()), 0) << nbd_err();
    EXPECT_EQ(nbd_get_size(h.get()), static_cast<int64_t>(kSize));
    EXPECT_EQ(nbd_get_block_size(h.get(), LIBNBD_SIZE_MINIMUM), 512);
    char* canonical = nbd_get_canonical_export_name(h.get());
    ASSERT_NE(canonical, nullptr) << nbd_err();
    EXPECT_STREQ(canonical, "nbd0");
    free(canonical);
    char* desc = nbd_get_export_description(h.get());
    ASSERT_NE(desc, nullptr) << nbd_err();
    EXPECT_STREQ(desc, "Malloc disk");
    free(desc);
    // Still negotiating after INFO; GO enters transmission.
    EXPECT_EQ(nbd_aio_is_negotiating(h.get()), 1);
    ASSERT_EQ(nbd_opt_go(h.get()), 0) << nbd_err();
    EXPECT_EQ(nbd_aio_is_ready(h.get()), 1);
    uint8_t b[512];
    EXPECT_EQ(nbd_pread(h.get(), b, sizeof b, 0, 0), 0) << nbd_err();
}

TEST_F(NbdServerLibnbdTest, UnknownExportThenAnother) {
    NbdHandle h(nbd_create());
    ASSERT_TRUE(h);
    ASSERT_EQ(nbd_set_opt_mode(h.get(), true), 0);
    ASSERT_EQ(nbd_connect_uri(h.get(), local_uri("nope").c_str()), 0) << nbd_err();
    EXPECT_EQ(nbd_opt_go(h.get()), -1);
    EXPECT_EQ(nbd_get_errno(), ENOENT) << nbd_err();  // libnbd's word for NBD_REP_ERR_UNKNOWN
    // NBD_REP_ERR_UNKNOWN does not end the handshake: another name works.
    EXPECT_EQ(nbd_aio_is_negotiating(h.get()), 1);
    ASSERT_EQ(nbd_set_export_name(h.get(), "nbd0"), 0);
    ASSERT_EQ(nbd_opt_go(h.get()), 0) << nbd_err();
    EXPECT_EQ(nbd_get_size(h.get()), static_cast<int64_t>(kSize));
}

TEST_F(NbdServerLibnbdTest, UnknownExportFailsConnect) {
    NbdHandle h(nbd_create());
    ASSERT_TRUE(h);
    EXPECT_EQ(nbd_connect_uri(h.get(), local_uri("missing").c_str()), -1);
}

int collect(void* user, const char* name, const char* description) {
    auto* v = static_cast<std::vector<std::pair<std::string, std::string>>*>(user);
    v->emplace_back(name, description);
    return 0;
}

TEST_F(NbdServerLibnbdTest, ListExports) {
    auto second = make_device("malloc:///nbd1?size_mb=1&blk_size=4096");
    target::ShareRequest req;
    req.device = second;
    ASSERT_TRUE(server->share(req));
    NbdHandle h(nbd_create());
    ASSERT_TRUE(h);
    ASSERT_EQ(nbd_set_opt_mode(h.get(), true), 0);
    ASSERT_EQ(nbd_connect_uri(h.get(), local_uri(name).c_str()), 0) << nbd_err();
    std::vector<std::pair<std::string, std::string>> seen;
    int n = nbd_opt_list(h.get(), nbd_list_callback{collect, &seen, nullptr});
    ASSERT_EQ(n, 2) << nbd_err();
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen[0].first, "nbd0");
    EXPECT_EQ(seen[1].first, "nbd1");
    EXPECT_EQ(seen[1].second, "Malloc disk");
    EXPECT_EQ(nbd_opt_abort(h.get()), 0) << nbd_err();
    EXPECT_EQ(nbd_aio_is_closed(h.get()), 1);
    // The second export has its own geometry.
    auto h2 = connect(true, "nbd1");
    ASSERT_TRUE(h2);
    EXPECT_EQ(nbd_get_size(h2.get()), 1 << 20);
    EXPECT_EQ(nbd_get_block_size(h2.get(), LIBNBD_SIZE_MINIMUM), 4096);
    EXPECT_EQ(nbd_get_block_size(h2.get(), LIBNBD_SIZE_PREFERRED), 4096);
}

TEST_F(NbdServerLibnbdTest, WriteReadBackEverywhere) {
    auto h = connect(true);
    ASSERT_TRUE(h);
    // Several sizes and offsets, the last blocks of the export included.
    struct Io {
        uint64_t off;
        std::size_t len;
    } ios[] = {{0, 512},
               {4096, 4096},
               {12345 * 512, 128 * 1024},
               {kSize - 1024 * 1024, 1024 * 1024},
               {kSize - 512, 512},
               {3 << 20, 32 << 20 >> 3}};
    uint32_t seed = 10;
    for (const auto& io : ios) {
        auto data = pattern(io.len, seed++);
        ASSERT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), io.off, 0), 0) << nbd_err();
        std::vector<uint8_t> back(io.len);
        ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), io.off, 0), 0) << nbd_err();
        EXPECT_EQ(back, data) << "at " << io.off;
        EXPECT_EQ(device_bytes(io.off, io.len), data) << "at " << io.off;
    }
}

TEST_F(NbdServerLibnbdTest, MaximumPayloadBothWays) {
    auto h = connect(true);
    ASSERT_TRUE(h);
    auto data = pattern(32u << 20 >> 1, 3);  // the device is 16 MiB: all of it in one request
    ASSERT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 0, 0), 0) << nbd_err();
    std::vector<uint8_t> back(data.size());
    ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), 0, 0), 0) << nbd_err();
    EXPECT_EQ(back, data);
}

TEST_F(NbdServerLibnbdTest, FlushFuaTrimZeroes) {
    auto h = connect(true);
    ASSERT_TRUE(h);
    auto data = pattern(65536, 4);
    ASSERT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 0, LIBNBD_CMD_FLAG_FUA), 0) << nbd_err();
    ASSERT_EQ(nbd_flush(h.get(), 0), 0) << nbd_err();
    EXPECT_EQ(device_bytes(0, data.size()), data);

    // Trim (the malloc device zeroes what it unmaps).
    ASSERT_EQ(nbd_trim(h.get(), 8192, 4096, 0), 0) << nbd_err();
    auto now = device_bytes(0, data.size());
    EXPECT_TRUE(std::all_of(now.begin() + 4096, now.begin() + 12288, [](uint8_t b) { return b == 0; }));
    EXPECT_TRUE(std::equal(now.begin(), now.begin() + 4096, data.begin()));
    EXPECT_TRUE(std::equal(now.begin() + 12288, now.end(), data.begin() + 12288));

    // Write zeroes, with and without NO_HOLE, with FUA.
    ASSERT_EQ(nbd_zero(h.get(), 4096, 32768, 0), 0) << nbd_err();
    ASSERT_EQ(nbd_zero(h.get(), 4096, 49152, LIBNBD_CMD_FLAG_NO_HOLE | LIBNBD_CMD_FLAG_FUA), 0) << nbd_err();
    std::vector<uint8_t> back(65536);
    ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), 0, 0), 0) << nbd_err();
    EXPECT_TRUE(std::all_of(back.begin() + 32768, back.begin() + 36864, [](uint8_t b) { return b == 0; }));
    EXPECT_TRUE(std::all_of(back.begin() + 49152, back.begin() + 53248, [](uint8_t b) { return b == 0; }));
    EXPECT_TRUE(std::equal(back.begin() + 36864, back.begin() + 49152, data.begin() + 36864));
    EXPECT_TRUE(std::equal(back.begin() + 53248, back.end(), data.begin() + 53248));
}

TEST_F(NbdServerLibnbdTest, FuaReallyFlushes) {
    // An error device that fails flushes: a FUA write must fail, a plain one not.
    auto failing = make_device("error:///flaky?base=nbd0&fail=flush");
    ASSERT_TRUE(failing);
    ASSERT_TRUE(server->unshare("nbd0"));
    target::ShareRequest req;
    req.device = failing;
    ASSERT_TRUE(server->share(req));
    auto h = connect(true, "flaky");
    ASSERT_TRUE(h);
    auto data = pattern(4096, 5);
    EXPECT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 0, 0), 0) << nbd_err();
    EXPECT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 4096, LIBNBD_CMD_FLAG_FUA), -1);
    EXPECT_EQ(nbd_get_errno(), EIO);
    EXPECT_EQ(nbd_flush(h.get(), 0), -1);
    EXPECT_EQ(nbd_get_errno(), EIO);
    // The connection is still good.
    std::vector<uint8_t> back(4096);
    ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), 0, 0), 0) << nbd_err();
    EXPECT_EQ(back, data);
    h.reset();
    ASSERT_TRUE(server->unshare("flaky"));
    failing.reset();
    // The error device must go before its base (TearDown destroys in creation order).
    run_on(rt->reactor(0), []() -> Task<Status> { co_return co_await destroy_device("error:///flaky"); });
    created.pop_back();
}

TEST_F(NbdServerLibnbdTest, RequestsPastTheEndAndMisaligned) {
    for (bool structured : {true, false}) {
        auto h = connect(structured);
        ASSERT_TRUE(h);
        // Let the requests reach the server instead of libnbd refusing them.
        ASSERT_EQ(nbd_set_strict_mode(h.get(), 0), 0);
        std::vector<uint8_t> b(8192);
        EXPECT_EQ(nbd_pread(h.get(), b.data(), 4096, kSize, 0), -1);
        EXPECT_EQ(nbd_get_errno(), EINVAL) << nbd_err();
        EXPECT_EQ(nbd_pread(h.get(), b.data(), 8192, kSize - 4096, 0), -1);
        EXPECT_EQ(nbd_get_errno(), EINVAL);
        EXPECT_EQ(nbd_pwrite(h.get(), b.data(), 4096, kSize, 0), -1);
        EXPECT_EQ(nbd_get_errno(), ENOSPC) << nbd_err();
        EXPECT_EQ(nbd_zero(h.get(), 4096, kSize, 0), -1);
        EXPECT_EQ(nbd_get_errno(), ENOSPC);
        EXPECT_EQ(nbd_trim(h.get(), 4096, kSize, 0), -1);
        EXPECT_EQ(nbd_get_errno(), EINVAL);
        EXPECT_EQ(nbd_pread(h.get(), b.data(), 100, 0, 0), -1);
        EXPECT_EQ(nbd_get_errno(), EINVAL);
        EXPECT_EQ(nbd_pwrite(h.get(), b.data(), 512, 3, 0), -1);
        EXPECT_EQ(nbd_get_errno(), EINVAL);
        // The connection survives all of them, and a write that failed wrote nothing.
        EXPECT_EQ(nbd_pread(h.get(), b.data(), 512, 0, 0), 0) << nbd_err();
        EXPECT_EQ(device_bytes(0, 512), std::vector<uint8_t>(512, 0));
    }
}

struct Done {
    int errors = 0;
    int completed = 0;
};
int on_done(void* user, int* error) {
    auto* d = static_cast<Done*>(user);
    ++d->completed;
    if (*error != 0) {
        ++d->errors;
    }
    return 1;  // auto-retire the command
}

void wait_all(nbd_handle* h) {
    while (nbd_aio_in_flight(h) > 0) {
        ASSERT_NE(nbd_poll(h, 10000), -1) << nbd_err();
    }
}

// Pipelined writes then reads, checked; run with and without receive coalescing.
class NbdPipelineTest : public NbdServerLibnbdTest, public ::testing::WithParamInterface<uint32_t> {
   protected:
    void SetUp() override {
        NbdServerOptions o;
        o.coalesce_us = GetParam();
        SetUpWith("malloc:///nbd0?size_mb=16&blk_size=512", o);
    }
};
INSTANTIATE_TEST_SUITE_P(Coalescing, NbdPipelineTest, ::testing::Values(0u, 50u));

TEST_P(NbdPipelineTest, ManyRequestsInFlight) {
    for (bool structured : {true, false}) {
        auto h = connect(structured);
        ASSERT_TRUE(h);
        constexpr int kN = 256;  // more than a connection runs at once: some wait in the socket
        std::vector<std::vector<uint8_t>> data;
        Done done;
        for (int i = 0; i < kN; ++i) {
            data.push_back(pattern(4096 * (1 + i % 4), 100 + i + (structured ? 1000 : 0)));
        }
        for (int i = 0; i < kN; ++i) {
            ASSERT_GE(nbd_aio_pwrite(h.get(), data[i].data(), data[i].size(), uint64_t(i) * 16384,
                                     nbd_completion_callback{on_done, &done, nullptr}, 0),
                      0)
                << nbd_err();
        }
        wait_all(h.get());
        EXPECT_EQ(done.completed, kN);
        EXPECT_EQ(done.errors, 0);
        std::vector<std::vector<uint8_t>> back(kN);
        Done rdone;
        for (int i = 0; i < kN; ++i) {
            back[i].resize(data[i].size());
            ASSERT_GE(nbd_aio_pread(h.get(), back[i].data(), back[i].size(), uint64_t(i) * 16384,
                                    nbd_completion_callback{on_done, &rdone, nullptr}, 0),
                      0)
                << nbd_err();
        }
        wait_all(h.get());
        EXPECT_EQ(rdone.completed, kN);
        EXPECT_EQ(rdone.errors, 0);
        for (int i = 0; i < kN; ++i) {
            ASSERT_EQ(back[i], data[i]) << "request " << i;
        }
    }
}

TEST_F(NbdServerLibnbdTest, ManyConnectionsSeeEachOthersWrites) {
    constexpr int kConns = 8;
    std::vector<NbdHandle> hs;
    for (int i = 0; i < kConns; ++i) {
        hs.push_back(connect(i % 2 == 0));
        ASSERT_TRUE(hs.back());
    }
    std::vector<std::vector<uint8_t>> data;
    for (int i = 0; i < kConns; ++i) {
        data.push_back(pattern(65536, 200 + i));
        ASSERT_EQ(nbd_pwrite(hs[i].get(), data[i].data(), data[i].size(), uint64_t(i) << 20, 0), 0)
            << nbd_err();
    }
    for (int i = 0; i < kConns; ++i) {
        int other = (i + 3) % kConns;
        std::vector<uint8_t> back(65536);
        ASSERT_EQ(nbd_pread(hs[i].get(), back.data(), back.size(), uint64_t(other) << 20, 0), 0) << nbd_err();
        EXPECT_EQ(back, data[other]);
    }
}

TEST_F(NbdServerLibnbdTest, ConcurrentClientsOnThreads) {
    constexpr int kThreads = 4;
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        ts.emplace_back([&, t] {
            NbdHandle h(nbd_create());
            if (!h || nbd_connect_uri(h.get(), local_uri(name).c_str()) != 0) {
                ++failures;
                return;
            }
            for (int i = 0; i < 50; ++i) {
                auto d = pattern(8192, t * 1000 + i);
                uint64_t off = (uint64_t(t) << 22) + uint64_t(i % 16) * 8192;
                std::vector<uint8_t> back(d.size());
                if (nbd_pwrite(h.get(), d.data(), d.size(), off, 0) != 0 ||
                    nbd_pread(h.get(), back.data(), back.size(), off, 0) != 0 || back != d) {
                    ++failures;
                }
            }
        });
    }
    for (auto& t : ts) {
        t.join();
    }
    EXPECT_EQ(failures.load(), 0);
}

TEST_F(NbdServerLibnbdTest, UnshareClosesClientsAndDescriptors) {
    auto h = connect(true);
    ASSERT_TRUE(h);
    auto h2 = connect(false);
    ASSERT_TRUE(h2);
    auto data = pattern(4096, 9);
    ASSERT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 0, 0), 0) << nbd_err();
    // Requests in flight while unsharing: they complete (or fail) and unshare still returns.
    Done done;
    std::vector<std::vector<uint8_t>> bufs(32, std::vector<uint8_t>(65536));
    for (auto& b : bufs) {
        ASSERT_GE(nbd_aio_pread(h2.get(), b.data(), b.size(), 0,
                                nbd_completion_callback{on_done, &done, nullptr}, 0),
                  0);
    }
    EXPECT_GT(dev->open_count(), 0);
    ASSERT_TRUE(server->unshare(name));
    EXPECT_EQ(dev->open_count(), 0);
    EXPECT_TRUE(server->list().empty());
    std::vector<uint8_t> back(4096);
    EXPECT_EQ(nbd_pread(h.get(), back.data(), back.size(), 0, 0), -1);
    while (nbd_aio_in_flight(h2.get()) > 0 && nbd_poll(h2.get(), 5000) > 0) {
    }
    // Unsharing again is fine; sharing again serves the same data to a new client.
    EXPECT_TRUE(server->unshare(name));
    target::ShareRequest req;
    req.device = dev;
    ASSERT_TRUE(server->share(req));
    auto h3 = connect(true);
    ASSERT_TRUE(h3);
    ASSERT_EQ(nbd_pread(h3.get(), back.data(), back.size(), 0, 0), 0) << nbd_err();
    EXPECT_EQ(back, data);
}

TEST_F(NbdServerLibnbdTest, DestroyServerWithClientsConnected) {
    auto h = connect(true);
    ASSERT_TRUE(h);
    NbdHandle negotiating(nbd_create());
    ASSERT_EQ(nbd_set_opt_mode(negotiating.get(), true), 0);
    ASSERT_EQ(nbd_connect_uri(negotiating.get(), local_uri(name).c_str()), 0) << nbd_err();
    server.reset();
    EXPECT_EQ(dev->open_count(), 0);
    uint8_t b[512];
    EXPECT_EQ(nbd_pread(h.get(), b, sizeof b, 0, 0), -1);
}

TEST_F(NbdServerLibnbdTest, UnixSocketListener) {
    std::string path = fmt::format("/tmp/ms-nbd-test-{}.sock", ::getpid());
    NbdServerOptions o;
    o.listen_address = "127.0.0.1";
    o.port = 0;
    o.unix_socket = path;
    auto s = NbdServer::start(*rt, o);
    ASSERT_TRUE(s) << s.error().to_string();
    auto other = make_device("malloc:///unixdev?size_mb=1");
    target::ShareRequest req;
    req.device = other;
    ASSERT_TRUE((*s)->share(req));
    NbdHandle h(nbd_create());
    ASSERT_EQ(nbd_set_export_name(h.get(), "unixdev"), 0);
    ASSERT_EQ(nbd_connect_unix(h.get(), path.c_str()), 0) << nbd_err();
    auto data = pattern(4096, 77);
    ASSERT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 8192, 0), 0) << nbd_err();
    std::vector<uint8_t> back(4096);
    ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), 8192, 0), 0) << nbd_err();
    EXPECT_EQ(back, data);
    h.reset();
    s->reset();
    EXPECT_NE(::access(path.c_str(), F_OK), 0);  // the socket file is gone
}

TEST_F(NbdServerLibnbdTest, PortInUse) {
    NbdServerOptions o;
    o.listen_address = "127.0.0.1";
    o.port = server->port();
    auto s = NbdServer::start(*rt, o);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, EADDRINUSE);
    o.port = 0;
    o.max_payload = 100;
    EXPECT_FALSE(NbdServer::start(*rt, o));
}

// A RAM device that reads and writes, and nothing else.
class ReadWriteOnly final : public BlockDevice {
   public:
    ReadWriteOnly()
        : BlockDevice("rwonly", "Read-write only", Geometry{512, 2048, 1}, Uuid{}), _mem(1 << 20) {}
    bool io_type_supported(IoType t) const override { return t == IoType::Read || t == IoType::Write; }
    Task<Status> submit(IoChannel&, IoRequest req) override {
        uint8_t* p = _mem.data() + req.offset_blocks * 512;
        for (const iovec& v : req.iov) {
            if (req.type == IoType::Read) {
                std::memcpy(v.iov_base, p, v.iov_len);
            } else {
                std::memcpy(p, v.iov_base, v.iov_len);
            }
            p += v.iov_len;
        }
        co_return ok();
    }

   private:
    std::vector<uint8_t> _mem;
};

TEST_F(NbdServerLibnbdTest, TransmissionFlagsFollowTheDevice) {
    EXPECT_EQ(NbdServer::transmission_flags_for(*dev),
              kTxHasFlags | kTxSendFlush | kTxSendFua | kTxSendTrim | kTxSendWriteZeroes | kTxCanMultiConn);
    auto rw = std::make_shared<ReadWriteOnly>();
    EXPECT_EQ(NbdServer::transmission_flags_for(*rw), kTxHasFlags | kTxCanMultiConn);
    target::ShareRequest req;
    req.device = rw;
    ASSERT_TRUE(server->share(req));
    auto h = connect(true, "rwonly");
    ASSERT_TRUE(h);
    EXPECT_EQ(nbd_can_flush(h.get()), 0);
    EXPECT_EQ(nbd_can_fua(h.get()), 0);
    EXPECT_EQ(nbd_can_trim(h.get()), 0);
    EXPECT_EQ(nbd_can_zero(h.get()), 0);
    EXPECT_EQ(nbd_can_multi_conn(h.get()), 1);
    auto data = pattern(4096, 8);
    ASSERT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 0, 0), 0) << nbd_err();
    std::vector<uint8_t> back(4096);
    ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), 0, 0), 0) << nbd_err();
    EXPECT_EQ(back, data);
    // Commands that were not advertised, sent anyway: NBD_EINVAL, and the connection lives.
    ASSERT_EQ(nbd_set_strict_mode(h.get(), 0), 0);
    EXPECT_EQ(nbd_flush(h.get(), 0), -1);
    EXPECT_EQ(nbd_get_errno(), EINVAL);
    EXPECT_EQ(nbd_trim(h.get(), 4096, 0, 0), -1);
    EXPECT_EQ(nbd_get_errno(), EINVAL);
    EXPECT_EQ(nbd_pwrite(h.get(), data.data(), data.size(), 0, LIBNBD_CMD_FLAG_FUA), -1);
    EXPECT_EQ(nbd_get_errno(), EINVAL);
    ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), 0, 0), 0) << nbd_err();
    h.reset();
    EXPECT_TRUE(server->unshare("rwonly"));
    EXPECT_EQ(rw->open_count(), 0);
}

// A RAM device whose writes complete later (after a sleep on the reactor), with a chosen buffer
// alignment: writes to it stay in flight while the connection keeps receiving.
class SlowWrites final : public BlockDevice {
   public:
    explicit SlowWrites(uint32_t buf_align)
        : BlockDevice("slow" + std::to_string(buf_align), "Slow writes", Geometry{512, 8192, buf_align},
                      Uuid{}),
          _mem(4 << 20) {}
    bool io_type_supported(IoType t) const override { return t == IoType::Read || t == IoType::Write; }
    Task<Status> submit(IoChannel&, IoRequest req) override {
        if (req.type == IoType::Write) {
            co_await sleep_for(std::chrono::microseconds(200));
        }
        uint8_t* p = _mem.data() + req.offset_blocks * 512;
        for (const iovec& v : req.iov) {
            if (req.type == IoType::Read) {
                std::memcpy(v.iov_base, p, v.iov_len);
            } else {
                std::memcpy(p, v.iov_base, v.iov_len);
            }
            p += v.iov_len;
        }
        co_return ok();
    }

   private:
    std::vector<uint8_t> _mem;
};

// Writes run straight from the receive buffer when the device takes any buffer (align 1), from
// the slot's own buffer otherwise (512). With a device that completes later, the receive buffers
// that running writes use must not be overwritten by what the connection receives meanwhile:
// every write's data must reach the device intact.
TEST_F(NbdServerLibnbdTest, WritesThatCompleteLaterKeepTheirPayload) {
    for (uint32_t align : {1u, 512u}) {
        auto slow = std::make_shared<SlowWrites>(align);
        target::ShareRequest req;
        req.device = slow;
        ASSERT_TRUE(server->share(req));
        auto h = connect(align == 1, slow->name());
        ASSERT_TRUE(h);
        constexpr int kN = 600;  // over 2 MiB: many receive buffers' worth
        std::vector<std::vector<uint8_t>> data;
        for (int i = 0; i < kN; ++i) {
            data.push_back(pattern(i % 7 == 0 ? 512 : 4096, 5000 + i + align));
        }
        Done done;
        for (int i = 0; i < kN; ++i) {
            ASSERT_GE(nbd_aio_pwrite(h.get(), data[i].data(), data[i].size(), uint64_t(i % 1000) * 4096,
                                     nbd_completion_callback{on_done, &done, nullptr}, 0),
                      0)
                << nbd_err();
        }
        wait_all(h.get());
        EXPECT_EQ(done.completed, kN);
        EXPECT_EQ(done.errors, 0);
        for (int i = 0; i < kN; ++i) {
            std::vector<uint8_t> back(data[i].size());
            ASSERT_EQ(nbd_pread(h.get(), back.data(), back.size(), uint64_t(i) * 4096, 0), 0) << nbd_err();
            ASSERT_EQ(back, data[i]) << "write " << i << " (align " << align << ")";
        }
        h.reset();
        EXPECT_TRUE(server->unshare(slow->name()));
        EXPECT_EQ(slow->open_count(), 0);
    }
}

}  // namespace
}  // namespace ms::nbd::test
