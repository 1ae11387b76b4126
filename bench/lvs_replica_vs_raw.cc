// lvs_replica_vs_raw: throughput and CPU cost of a thick replica against its raw base device,
// in-process. 4 KiB random reads and writes, 32 in flight, on one reactor, over the same blocks
// of the same device: "raw" is the pool's data clusters through the base device itself (opened
// with the pool's claim), so both sides touch exactly the same memory or file blocks. The two
// alternate, each keeping its best IOPS and its lowest CPU time per I/O over the runs; the
// baseline (raw) is measured in the same run, and the ratio replica/raw is printed.
//
//   lvs_replica_vs_raw [-n RUNS] [-t SECONDS] [-d malloc|uring|all] [-c CPU]
//
// Devices: malloc (memory) and uring (a file in /dev/shm). Figures in docs/lvs-format.md
// section 5. Exit status: 0 success, 1 bad arguments or a failed setup or I/O.
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "bdev/descriptor.h"
#include "bdev/device_registry.h"
#include "bench_util.h"
#include "core/dma_buf.h"
#include "core/log.h"
#include "core/runtime.h"
#include "lvs/lvs.h"
#include "lvs/pool.h"

namespace ms::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kRegion = 256 * kMiB;  // the replica's size, and the raw region
constexpr uint64_t kDiskMiB = 300;        // the region plus the pool's metadata
constexpr uint64_t kIoSize = 4096;
constexpr int kDepth = 32;
const std::string kPool = "bench_lvs";
const std::string kReplica = "bench_lvs_rep";

Task<void> worker(Descriptor* d, DmaBuf* buf, uint64_t base, uint64_t pages, bool write, uint64_t seed,
                  Clock::time_point end, uint64_t* ops, int* left, std::coroutine_handle<>* done) {
    std::mt19937_64 rng(seed);
    for (uint64_t n = 0;; ++n) {
        if ((n & 63) == 0 && Clock::now() >= end) {
            break;
        }
        uint64_t off = base + (rng() % pages) * kIoSize;
        Status s = write ? co_await d->write_at(off, *buf) : co_await d->read_at(off, *buf);
        if (!s) {
            std::fprintf(stderr, "lvs_replica_vs_raw: %s at %llu: %s\n", write ? "write" : "read",
                         static_cast<unsigned long long>(off), s.error().to_string().c_str());
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

// One run: kDepth workers on reactor 0 for `seconds`, random kIoSize I/Os in [base, base+region).
Rate measure(Runtime& rt, Descriptor& d, uint64_t base, uint64_t region, bool write, double seconds) {
    std::vector<DmaBuf> bufs;
    for (int i = 0; i < kDepth; ++i) {
        auto b = d.dma_malloc(kIoSize);
        check(b, "dma_malloc");
        bufs.push_back(std::move(*b));
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
                worker(&d, &bufs[i], base, region / kIoSize, write, i + 1, end, &ops, &left, &done));
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

// Writes the whole region so that reads hit real blocks.
void prefill(Runtime& rt, Descriptor& d, uint64_t region) {
    auto buf = d.dma_malloc(4 * kMiB);
    check(buf, "dma_malloc");
    buf->fill(0x11);
    Status s = run_on(rt.reactor(0), [&]() -> Task<Status> {
        for (uint64_t at = 0; at < region; at += buf->size()) {
            if (Status w = co_await d.write_at(at, *buf); !w) {
                co_return w;
            }
        }
        co_return ok();
    });
    check(s, "prefill");
}

struct Options {
    int runs = 5;
    double seconds = 2.0;
    std::string device = "all";
    int cpu = 0;
};

void print_row(const std::string& kind, bool write, const Rate& raw, const Rate& rep) {
    std::printf("%-7s %-10s %12.0f %12.0f %7.3f %10.0f %10.0f %9.3f\n", kind.c_str(),
                write ? "randwrite" : "randread", raw.iops, rep.iops, rep.iops / raw.iops, raw.cpu_ns,
                rep.cpu_ns, raw.cpu_ns / rep.cpu_ns);
    std::fflush(stdout);
}

void run_device(Runtime& rt, const std::string& kind, const Options& o) {
    std::unique_ptr<ScratchFile> file;
    std::string uri = "malloc:///" + kPool + "_disk?size_mb=" + std::to_string(kDiskMiB);
    if (kind == "uring") {
        file = std::make_unique<ScratchFile>("/dev/shm", "ms-lvs-bench", kDiskMiB * kMiB);
        uri = "uring://" + file->path() + "?blk_size=512";
    }
    auto& pools = lvs::PoolRegistry::instance();
    check(run_on(rt.reactor(0), [&]() { return pools.create_or_import(kPool, uri); }),
          "create pool on " + uri);
    check(run_on(rt.reactor(0), [&]() { return pools.create_replica(kPool, kReplica, kRegion, false); }),
          "create replica");
    auto pool = lvs::registered_pool(kPool);
    if (!pool) {
        throw Failure("pool " + kPool + " not registered");
    }
    const uint64_t data = pool->layout().data_offset();
    auto raw = Descriptor::open(pool->base_device().shared_from_this(), OpenMode::ReadWrite, "lvs:" + kPool);
    check(raw, "open base device");
    auto rep_dev = DeviceRegistry::instance().lookup(kReplica);
    if (!rep_dev) {
        throw Failure("no device " + kReplica);
    }
    auto rep = Descriptor::open(rep_dev, OpenMode::ReadWrite);
    check(rep, "open replica");
    prefill(rt, **rep, kRegion);

    for (bool write : {false, true}) {
        Rate raw_best{0, 1e18};
        Rate rep_best{0, 1e18};
        for (int round = 0; round < o.runs; ++round) {
            for (auto [dev, best, base] :
                 {std::tuple{raw->get(), &raw_best, data}, std::tuple{rep->get(), &rep_best, uint64_t{0}}}) {
                Rate r = measure(rt, *dev, base, kRegion, write, o.seconds);
                best->iops = std::max(best->iops, r.iops);
                best->cpu_ns = std::min(best->cpu_ns, r.cpu_ns);
            }
        }
        print_row(kind, write, raw_best, rep_best);
    }
    raw->reset();
    rep->reset();
    check(run_on(rt.reactor(0), [&]() { return pools.destroy(kPool); }), "destroy pool");
}

int run(int argc, char** argv) {
    Options o;
    CLI::App app{"Thick replica against its raw base device: 4 KiB random I/O, 32 in flight, one reactor"};
    app.add_option("-n,--runs", o.runs, "runs of each side, alternating; best of them")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("-t,--seconds", o.seconds, "seconds per run")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 3600.0));
    app.add_option("-d,--device", o.device, "malloc (memory), uring (a file in /dev/shm) or all")
        ->capture_default_str()
        ->check(CLI::IsMember({"malloc", "uring", "all"}));
    app.add_option("-c,--cpu", o.cpu, "CPU the reactor is pinned to")->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    (void)log::set_level("warn");

    std::printf(
        "4 KiB random I/O, qd %d, one reactor on CPU %d, %llu MiB region; thick replica vs raw base "
        "device (baseline),\nalternating, best of %d run(s) of %.2f s each. ns/IO: CPU time of the reactor "
        "thread per I/O;\nratio: replica/raw IOPS; CPU ratio: raw/replica ns/IO (1 = no overhead)\n",
        kDepth, o.cpu, static_cast<unsigned long long>(kRegion / kMiB), o.runs, o.seconds);
    std::printf("%-7s %-10s %12s %12s %7s %10s %10s %9s\n", "device", "workload", "raw IOPS", "replica IOPS",
                "ratio", "raw ns/IO", "rep ns/IO", "CPU ratio");
    std::fflush(stdout);

    RuntimeOptions ro;
    ro.cpus = {o.cpu};
    Runtime rt(ro);
    return run_reporting("lvs_replica_vs_raw", [&] {
        for (const std::string kind : {"malloc", "uring"}) {
            if (o.device == "all" || o.device == kind) {
                run_device(rt, kind, o);
            }
        }
    });
}

}  // namespace
}  // namespace ms::bench

int main(int argc, char** argv) {
    return ms::bench::run(argc, argv);
}
