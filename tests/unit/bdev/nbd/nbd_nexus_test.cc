// A nexus with a malloc child and an nbd:// child on nbdkit: writes are mirrored to both (the
// NBD side read back by nbdcopy); the server killed (SIGKILL) with writes in flight on both
// reactors faults the NBD child within a bounded time while every write keeps succeeding on the
// other; the server started again is reached again (online + rebuild) and holds the same data.
#include <gtest/gtest.h>

#include "../../nexus/nexus_test_util.h"
#include "bdev/all_devices.h"
#include "nbd_test_util.h"

namespace ms::test {
namespace {

using namespace std::chrono_literals;

class NbdNexus : public NexusTest {
   protected:
    void SetUp() override {
        NexusTest::SetUp();
        if (!have_program("nbdkit")) {
            GTEST_SKIP() << "nbdkit is not installed (scripts/install-deps.sh)";
        }
        register_all_device_factories();
        _ep.socket_path = _dir.file("nbd.sock");
    }
    void TearDown() override {
        NexusTest::TearDown();
        _server.kill_now();
    }

    TempDir _dir;
    Endpoint _ep;
    ServerProcess _server;
};

TEST_F(NbdNexus, WritesAreMirroredToTheNbdChild) {
    ASSERT_TRUE(_server.start(nbdkit_memory(_ep, "32M"), _ep));
    auto m = disk("nm1", 32);
    const std::string n = _ep.uri("", "timeout_ms=2000");
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-nbd", 16 * MiB, u, {m, n})));
    EXPECT_EQ(info(u).state, NexusState::Online);
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    struct Piece {
        uint64_t offset;
        std::size_t length;
    };
    const Piece pieces[] = {{0, 4096},
                            {4096 * 7, 512},
                            {1 << 20, 1 << 20},
                            {(5 << 20) + 512, 300 * 1024},
                            {(16 << 20) - 8192, 8192}};
    uint64_t seed = 1;
    std::vector<std::vector<uint8_t>> datas;
    for (const Piece& p : pieces) {
        datas.push_back(random_bytes(p.length, seed++));
        ASSERT_TRUE(is_ok(write(_rt, *d, p.offset, datas.back(), 3, seed % 2)));
    }
    ASSERT_TRUE(is_ok(flush(_rt, *d)));
    auto nbd_side = bytes_via_nbdcopy(_ep.uri(), 0, 16 << 20);
    auto malloc_side = device_bytes(_rt, "nm1", 0, 16 << 20);
    for (std::size_t i = 0; i < datas.size(); ++i) {
        SCOPED_TRACE(pieces[i].offset);
        EXPECT_TRUE(same_bytes(std::span(nbd_side).subspan(pieces[i].offset, pieces[i].length), datas[i]));
        EXPECT_TRUE(same_bytes(std::span(malloc_side).subspan(pieces[i].offset, pieces[i].length), datas[i]));
        auto back = read(_rt, *d, pieces[i].offset, pieces[i].length, 1, i % 2);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, datas[i]));
    }
    EXPECT_TRUE(same_bytes(nbd_side, malloc_side));
}

// Writers: 4 workers on each reactor, each 4 KiB write to its own block, verified afterwards.
constexpr std::size_t kPerCore = 2000;
constexpr std::size_t kLen = 4096;
constexpr std::size_t kWorkers = 4;

struct WriteLog {
    std::vector<std::atomic<int>> acked = std::vector<std::atomic<int>>(2 * kPerCore);
    std::atomic<int> acked_total{0};
    std::atomic<int> failed{0};
    std::string first_error;
    std::mutex mutex;
};

Task<void> nexus_writer(Descriptor* d, std::size_t core, std::size_t worker, WriteLog* log, WaitQueue* wq,
                        int* left) {
    auto buf = d->dma_malloc(kLen);
    for (std::size_t i = worker; i < kPerCore; i += kWorkers) {
        std::size_t k = core * kPerCore + i;
        auto data = random_bytes(kLen, 5000 + k);
        std::memcpy(buf->data(), data.data(), kLen);
        Status s = co_await d->write_at(k * kLen, *buf);
        if (s) {
            log->acked[k] = 1;
            ++log->acked_total;
        } else {
            if (log->failed++ == 0) {
                std::lock_guard g(log->mutex);
                log->first_error = s.error().to_string();
            }
        }
    }
    if (--*left == 0) {
        wq->wake_all();
    }
}

TEST_F(NbdNexus, ServerKilledChildFaultedWritesGoOnThenItComesBack) {
    // A file-backed server: what it acknowledged survives its SIGKILL (in the page cache), as
    // a disk's contents survive a server crash.
    std::string image = _dir.file("child.img");
    make_file(image, 32 << 20);
    std::vector<std::string> argv = {"nbdkit", "--foreground", "--exit-with-parent", "-U", _ep.socket_path,
                                     "file",   image};
    ASSERT_TRUE(_server.start(argv, _ep));
    auto m = disk("nk1", 32);
    const std::string n = _ep.uri("", "timeout_ms=2000&reconnect_ms=200");
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-nbd-kill", 16 * MiB, u, {m, n})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    WriteLog log;
    auto writer = [&](std::size_t core) {
        run_on(_rt.reactor(core), [&, core]() -> Task<void> {
            WaitQueue wq;
            int left = kWorkers;
            for (std::size_t w = 0; w < kWorkers; ++w) {
                Reactor::current()->spawn(nexus_writer(d.get(), core, w, &log, &wq, &left));
            }
            while (left > 0) {
                co_await wq.wait();
            }
        });
    };
    std::thread t0(writer, 0);
    std::thread t1(writer, 1);
    ASSERT_TRUE(eventually([&] { return log.acked_total.load() >= 400; }));
    auto killed_at = std::chrono::steady_clock::now();
    _server.kill_now();  // SIGKILL by PID, writes in flight on both reactors
    bool faulted = eventually([&] { return child_info(u, n).state == ChildState::Faulted; }, 10s);
    auto fault_took = std::chrono::steady_clock::now() - killed_at;
    t0.join();
    t1.join();
    ASSERT_TRUE(faulted);
    EXPECT_LT(fault_took, 3s);
    RecordProperty(
        "child_faulted_after_kill_ms",
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(fault_took).count()));
    EXPECT_EQ(log.failed.load(), 0) << log.first_error;
    EXPECT_EQ(log.acked_total.load(), static_cast<int>(2 * kPerCore));
    EXPECT_EQ(child_info(u, n).reason, FaultReason::IoError);
    EXPECT_EQ(child_info(u, m).state, ChildState::Open);
    EXPECT_EQ(info(u).state, NexusState::Degraded);
    auto healthy = device_bytes(_rt, "nk1", 0, 2 * kPerCore * kLen);
    ASSERT_EQ(healthy.size(), 2 * kPerCore * kLen);
    for (std::size_t k = 0; k < 2 * kPerCore; ++k) {
        ASSERT_TRUE(same_bytes(std::span(healthy).subspan(k * kLen, kLen), random_bytes(kLen, 5000 + k)))
            << "write " << k;
    }

    // The server again, on the same socket and file: the child is brought back and rebuilt
    // through the device's new connection; it then holds exactly what the healthy child holds.
    ASSERT_TRUE(_server.start(argv, _ep));
    ASSERT_TRUE(is_ok(online_child(_rt, u, n)));
    ASSERT_TRUE(eventually([&] { return child_info(u, n).state == ChildState::Open; }, 30s))
        << to_string(child_info(u, n).state) << " " << to_string(child_info(u, n).reason);
    EXPECT_EQ(info(u).state, NexusState::Online);
    auto rebuilt = bytes_via_nbdcopy(_ep.uri(), 0, 16 << 20);
    EXPECT_TRUE(same_bytes(rebuilt, device_bytes(_rt, "nk1", 0, 16 << 20)));
    // New writes reach both again.
    auto data = random_bytes(8192, 77);
    ASSERT_TRUE(is_ok(write(_rt, *d, 4096, data, 1, 1)));
    ASSERT_TRUE(is_ok(flush(_rt, *d)));
    EXPECT_TRUE(same_bytes(bytes_via_nbdcopy(_ep.uri(), 4096, 8192), data));
}

}  // namespace
}  // namespace ms::test
