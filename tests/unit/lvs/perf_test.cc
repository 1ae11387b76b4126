// Throughput of a thick replica against its raw base device: 4 KiB random reads and writes,
// 32 in flight, on one reactor, over the same blocks of the same device, the two alternating
// (best of 5 two-second runs each) Not run
// by default (a shared machine's timing is no pass/fail test); run it with
//   build/tests/unit_lvs --gtest_also_run_disabled_tests --gtest_filter='*ReplicaVsRaw*'
// Figures in docs/lvs-format.md ("Performance").
#include <chrono>
#include <random>

#include "lvs_test_util.h"

namespace ms::test {
namespace {

using Clock = std::chrono::steady_clock;

Task<void> worker(Descriptor* d, DmaBuf* buf, uint64_t base, uint64_t pages, bool write, uint64_t seed,
                  Clock::time_point end, uint64_t* ops, int* left, std::coroutine_handle<>* done) {
    std::mt19937_64 rng(seed);
    for (uint64_t n = 0;; ++n) {
        if ((n & 63) == 0 && Clock::now() >= end) {
            break;
        }
        uint64_t off = base + (rng() % pages) * 4096;
        Status s = write ? co_await d->write_at(off, *buf) : co_await d->read_at(off, *buf);
        if (!s) {
            std::abort();
        }
        ++*ops;
    }
    if (--*left == 0 && *done) {
        Reactor::current()->schedule(*done);
    }
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

struct Rate {
    double iops = 0;
    double cpu_ns = 0;  // CPU time of the reactor thread per I/O
};

Rate measure(Runtime& rt, Descriptor& d, uint64_t base, uint64_t region, bool write, double seconds) {
    constexpr int kDepth = 32;
    std::vector<DmaBuf> bufs;
    for (int i = 0; i < kDepth; ++i) {
        bufs.push_back(*d.dma_malloc(4096));
        bufs.back().fill(0x5A);
    }
    uint64_t ops = 0;
    double cpu = 0;
    auto start = Clock::now();
    run_on(rt.reactor(0), [&]() -> Task<void> {
        const double cpu0 = thread_cpu_seconds();
        int left = kDepth;
        std::coroutine_handle<> done;
        auto end = Clock::now() +
                   std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
        for (int i = 0; i < kDepth; ++i) {
            Reactor::current()->spawn(
                worker(&d, &bufs[i], base, region / 4096, write, i + 1, end, &ops, &left, &done));
        }
        struct Wait {
            int* left;
            std::coroutine_handle<>* done;
            bool await_ready() { return *left == 0; }
            void await_suspend(std::coroutine_handle<> h) { *done = h; }
            void await_resume() {}
        };
        co_await Wait{&left, &done};
        cpu = thread_cpu_seconds() - cpu0;
    });
    return Rate{double(ops) / std::chrono::duration<double>(Clock::now() - start).count(),
                cpu * 1e9 / double(ops)};
}

void prefill(Runtime& rt, Descriptor& d, uint64_t region) {
    auto data = pattern(4 * MiB, 0x11);
    for (uint64_t at = 0; at < region; at += data.size()) {
        ASSERT_TRUE(is_ok(write(rt, d, at, data)));
    }
}

class ReplicaVsRaw : public LvsTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ReplicaVsRaw, DISABLED_FourKRandom) {
    const std::string kind = GetParam();
    constexpr uint64_t kRegion = 256 * MiB;
    std::unique_ptr<FileTarget> file;
    std::string uri = "malloc:///perf0?size_mb=300";
    if (kind != "malloc") {
        file = std::make_unique<FileTarget>(Backing::ShmFile, 300 * MiB);
        uri = file->uri("uring", 512);
    }
    // A pool with one thick replica; "raw" is the same clusters through the base device
    // itself (opened with the pool's claim), so both touch exactly the same memory or file
    // blocks.
    ASSERT_TRUE(is_ok(create_pool(_rt, "perf", uri)));
    ASSERT_TRUE(is_ok(create_replica(_rt, "perf", "rep", kRegion, false)));
    auto pool = lvs::registered_pool("perf");
    const uint64_t data = pool->layout().data_offset();
    auto raw_d = Descriptor::open(pool->base_device().shared_from_this(), OpenMode::ReadWrite, "lvs:perf");
    ASSERT_TRUE(is_ok(raw_d));
    auto& raw = *raw_d;
    auto rep = open_device("rep");
    prefill(_rt, *rep, kRegion);
    for (bool write : {false, true}) {
        Rate raw_best, rep_best{0, 1e18};
        raw_best.cpu_ns = 1e18;
        for (int round = 0; round < 5; ++round) {
            for (auto [dev, best, base] :
                 {std::tuple{raw.get(), &raw_best, data}, std::tuple{rep.get(), &rep_best, uint64_t{0}}}) {
                Rate r = measure(_rt, *dev, base, kRegion, write, 2.0);
                best->iops = std::max(best->iops, r.iops);
                best->cpu_ns = std::min(best->cpu_ns, r.cpu_ns);
            }
        }
        std::printf(
            "%s 4k rand%s qd32: raw %.0f IOPS %.0f ns CPU/IO, thick replica %.0f IOPS %.0f ns CPU/IO, "
            "IOPS ratio %.3f, CPU ratio (raw/replica) %.3f\n",
            kind.c_str(), write ? "write" : "read", raw_best.iops, raw_best.cpu_ns, rep_best.iops,
            rep_best.cpu_ns, rep_best.iops / raw_best.iops, raw_best.cpu_ns / rep_best.cpu_ns);
    }
    raw.reset();
    rep.reset();
    ASSERT_TRUE(is_ok(destroy_pool(_rt, "perf")));
}

INSTANTIATE_TEST_SUITE_P(Devices, ReplicaVsRaw, ::testing::Values("malloc", "uring"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace ms::test
