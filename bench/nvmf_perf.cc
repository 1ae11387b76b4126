// nvmf_perf: what NVMe-oF/TCP costs. 4 KiB random reads and writes (32 in flight) and 128 KiB
// sequential writes (8 in flight) through our host (an nvmf:// device, src/bdev/nvmf) to our
// target (src/target/nvmf) exporting a malloc device over 127.0.0.1, against the same workloads
// on a malloc device in-process (the baseline), measured in the same run. The two sides
// alternate, each keeping its best IOPS and its lowest CPU time per I/O over the runs; the ratio
// nvmf/baseline is printed.
//
//   nvmf_perf [-t SECONDS] [-s SIZE_MB] [-n RUNS] [--target-cpu N] [--host-cpu N] [--digests]
//             [--busy-poll-us US] [--stats] [-w WORKLOAD]
//
// One process, two runtimes: the target's (one reactor pinned to --target-cpu, default 0) and
// the host's (one reactor pinned to --host-cpu, default 1), which also runs the baseline. One
// process keeps the set-up simple and lets the program read the target reactor's own thread
// CPU clock (CLOCK_THREAD_CPUTIME_ID, sampled on that reactor before and after each run); the
// two sides still only meet over a loopback TCP connection. ns/IO columns: CPU time of one
// reactor thread per I/O (the baseline's reactor; the host's and the target's reactors for
// nvmf). Exit status: 0 success, 1 bad arguments, a failed setup or an I/O error.
#include <time.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bdev/all_devices.h"
#include "bdev/descriptor.h"
#include "bdev/device_factory.h"
#include "bdev/nvmf/nvmf_device.h"
#include "bench_util.h"
#include "core/dma_buf.h"
#include "core/log.h"
#include "core/runtime.h"
#include "target/nvmf/nvmf_target.h"

namespace ms::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1ull << 20;

struct Workload {
    const char* name;
    uint32_t io_size;
    int depth;
    bool write;
    bool sequential;
};

constexpr Workload kWorkloads[] = {
    {"4k-randread", 4096, 32, false, false},
    {"4k-randwrite", 4096, 32, true, false},
    {"128k-seqwrite", 128 * 1024, 8, true, true},
};

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// CPU time so far of reactor `r`'s thread.
double reactor_cpu_seconds(Reactor& r) {
    return run_on(r, []() -> Task<double> { co_return thread_cpu_seconds(); });
}

// Loop counters of reactor `r`, read on its thread.
ReactorStats reactor_stats(Reactor& r) {
    return run_on(r, []() -> Task<ReactorStats> { co_return Reactor::current()->stats(); });
}

// Per-I/O reactor counters of one run (--stats).
struct LoopRates {
    double loops = 0;
    double sleeps = 0;
    double completions = 0;
};

LoopRates per_io(const ReactorStats& a, const ReactorStats& b, uint64_t ops) {
    auto d = [ops](uint64_t x, uint64_t y) { return double(y - x) / double(ops); };
    return {d(a.loops, b.loops), d(a.sleeps, b.sleeps), d(a.completions, b.completions)};
}

// State shared by the workers of one run.
struct RunState {
    const Workload* w = nullptr;
    uint64_t blocks = 0;  // io_size units in the device region
    Clock::time_point end;
    uint64_t next = 0;  // sequential: next block
    uint64_t ops = 0;
    int left = 0;
    std::coroutine_handle<> done;
    std::string failure;
};

Task<void> worker(Descriptor* d, DmaBuf* buf, RunState* st, uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (uint64_t n = 0; st->failure.empty(); ++n) {
        if ((n & 15) == 0) {
            if (Clock::now() >= st->end) {
                break;
            }
            co_await yield();  // malloc I/O completes inline: let the other workers run
        }
        uint64_t block = st->w->sequential ? st->next++ % st->blocks : rng() % st->blocks;
        uint64_t off = block * st->w->io_size;
        Status s = st->w->write ? co_await d->write_at(off, *buf) : co_await d->read_at(off, *buf);
        if (!s) {
            st->failure = std::string(st->w->write ? "write" : "read") + " at " + std::to_string(off) + ": " +
                          s.error().to_string();
            break;
        }
        ++st->ops;
    }
    if (--st->left == 0 && st->done) {
        Reactor::current()->schedule(st->done);
    }
}

struct Rate {
    double iops = 0;
    double mbps = 0;
    double io_cpu_ns = 1e18;      // CPU of the reactor issuing the I/O, per I/O
    double target_cpu_ns = 1e18;  // CPU of the target's reactor per I/O (nvmf only)
    LoopRates host_loops;         // of the run kept for its IOPS
    LoopRates target_loops;
    void keep_best(const Rate& r) {
        if (r.iops > iops) {
            iops = r.iops;
            mbps = r.mbps;
            host_loops = r.host_loops;
            target_loops = r.target_loops;
        }
        io_cpu_ns = std::min(io_cpu_ns, r.io_cpu_ns);
        target_cpu_ns = std::min(target_cpu_ns, r.target_cpu_ns);
    }
};

// One run of `w` on `d` from reactor `io`; `target` (if any) is sampled for its CPU time.
Rate measure(Reactor& io, Reactor* target, Descriptor& d, const Workload& w, uint64_t size, double seconds,
             uint64_t seed) {
    std::vector<DmaBuf> bufs;
    for (int i = 0; i < w.depth; ++i) {
        bufs.push_back(check(d.dma_malloc(w.io_size), "dma_malloc"));
        bufs.back().fill(static_cast<uint8_t>(0x40 + i));
    }
    RunState st;
    st.w = &w;
    st.blocks = size / w.io_size;
    const double target0 = target != nullptr ? reactor_cpu_seconds(*target) : 0;
    const ReactorStats io_stats0 = reactor_stats(io);
    const ReactorStats target_stats0 = target != nullptr ? reactor_stats(*target) : ReactorStats{};
    double io_cpu = 0;
    const auto start = Clock::now();
    run_on(io, [&]() -> Task<void> {
        const double cpu0 = thread_cpu_seconds();
        st.left = w.depth;
        st.end = Clock::now() +
                 std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
        for (int i = 0; i < w.depth; ++i) {
            Reactor::current()->spawn(worker(&d, &bufs[i], &st, seed * 100 + i));
        }
        struct Wait {
            RunState* st;
            bool await_ready() { return st->left == 0; }
            void await_suspend(std::coroutine_handle<> h) { st->done = h; }
            void await_resume() {}
        };
        co_await Wait{&st};
        io_cpu = thread_cpu_seconds() - cpu0;
    });
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const double target_cpu = target != nullptr ? reactor_cpu_seconds(*target) - target0 : 0;
    const ReactorStats io_stats1 = reactor_stats(io);
    const ReactorStats target_stats1 = target != nullptr ? reactor_stats(*target) : ReactorStats{};
    if (!st.failure.empty()) {
        throw Failure(d.device().name() + ": " + st.failure);
    }
    if (st.ops == 0) {
        throw Failure(d.device().name() + ": no I/O completed");
    }
    Rate r;
    r.iops = double(st.ops) / elapsed;
    r.mbps = r.iops * w.io_size / 1e6;
    r.io_cpu_ns = io_cpu * 1e9 / double(st.ops);
    r.target_cpu_ns = target != nullptr ? target_cpu * 1e9 / double(st.ops) : 0;
    r.host_loops = per_io(io_stats0, io_stats1, st.ops);
    r.target_loops = per_io(target_stats0, target_stats1, st.ops);
    return r;
}

// Writes the whole device so that reads copy real pages and writes do not fault them in.
void prefill(Reactor& r, Descriptor& d, uint64_t size) {
    auto buf = check(d.dma_malloc(128 * 1024), "dma_malloc");
    buf.fill(0x11);
    Status s = run_on(r, [&]() -> Task<Status> {
        for (uint64_t at = 0; at < size; at += buf.size()) {
            if (Status w = co_await d.write_at(at, buf); !w) {
                co_return w;
            }
            co_await yield();
        }
        co_return ok();
    });
    check(s, "prefill " + d.device().name());
}

struct Options {
    double seconds = 3.0;
    uint64_t size_mb = 256;
    int runs = 2;
    int target_cpu = 0;
    int host_cpu = 1;
    bool digests = false;
    unsigned busy_poll_us = 0;
    bool stats = false;
    std::string workload;  // empty: all
};

Result<std::shared_ptr<BlockDevice>> make_device(Reactor& r, const std::string& uri) {
    return run_on(r, [uri] { return create_device(uri); });
}

void destroy(Reactor& r, const std::string& uri) {
    Status s = run_on(r, [uri] { return destroy_device(uri); });
    if (!s) {
        std::fprintf(stderr, "nvmf_perf: destroy %s: %s\n", uri.c_str(), s.error().to_string().c_str());
    }
}

void print_row(const Workload& w, const Rate& base, const Rate& nvmf) {
    std::printf("%-14s %11.0f %11.0f %6.3f %9.1f %9.1f %9.0f %9.0f %9.0f\n", w.name, base.iops, nvmf.iops,
                nvmf.iops / base.iops, base.mbps, nvmf.mbps, base.io_cpu_ns, nvmf.io_cpu_ns,
                nvmf.target_cpu_ns);
    std::fflush(stdout);
}

void run_all(Runtime& target_rt, Runtime& host_rt, const Options& o) {
    Reactor& tr = target_rt.reactor(0);
    Reactor& hr = host_rt.reactor(0);
    const uint64_t size = o.size_mb * kMiB;
    const std::string mem = "?size_mb=" + std::to_string(o.size_mb);
    const std::string exported_uri = "malloc:///nvmf_perf_exported" + mem;
    const std::string base_uri = "malloc:///nvmf_perf_baseline" + mem;

    auto exported = check(make_device(tr, exported_uri), "create " + exported_uri);
    auto baseline = check(make_device(hr, base_uri), "create " + base_uri);

    nvmf::TargetOptions to;
    to.listen_address = "127.0.0.1";
    to.advertised_address = "127.0.0.1";
    to.replica_port = 0;
    to.nexus_port = 0;
    auto target = check(nvmf::NvmfTarget::start(target_rt, to), "start the target");
    nvmf::SubsystemSpec spec;
    spec.device = exported;
    const std::string nqn = check(target->add_subsystem(spec), "add_subsystem");
    const std::string nvmf_uri = "nvmf://127.0.0.1:" + std::to_string(target->replica_port()) + "/" + nqn +
                                 (o.digests ? "?hdgst=true&ddgst=true" : "");

    register_all_device_factories();
    auto remote = check(make_device(hr, nvmf_uri), "create " + nvmf_uri);
    {
        auto base_desc = check(Descriptor::open(baseline, OpenMode::ReadWrite), "open the baseline");
        auto nvmf_desc = check(Descriptor::open(remote, OpenMode::ReadWrite), "open " + nvmf_uri);
        prefill(hr, *base_desc, size);
        prefill(hr, *nvmf_desc, size);

        uint64_t seed = 1;
        for (const Workload& w : kWorkloads) {
            if (!o.workload.empty() && o.workload != w.name) {
                continue;
            }
            Rate base_best;
            Rate nvmf_best;
            for (int run = 0; run < o.runs; ++run) {
                base_best.keep_best(measure(hr, nullptr, *base_desc, w, size, o.seconds, ++seed));
                nvmf_best.keep_best(measure(hr, &tr, *nvmf_desc, w, size, o.seconds, ++seed));
            }
            print_row(w, base_best, nvmf_best);
            if (o.stats) {
                const LoopRates& h = nvmf_best.host_loops;
                const LoopRates& t = nvmf_best.target_loops;
                std::printf(
                    "  per I/O: host loops %.2f sleeps %.2f cqes %.2f; target loops %.2f sleeps %.2f cqes "
                    "%.2f\n",
                    h.loops, h.sleeps, h.completions, t.loops, t.sleeps, t.completions);
                std::fflush(stdout);
            }
        }
    }
    remote.reset();
    destroy(hr, nvmf_uri);
    check(target->remove_subsystem(nqn), "remove_subsystem");
    target.reset();
    exported.reset();
    baseline.reset();
    destroy(tr, exported_uri);
    destroy(hr, base_uri);
}

int run(int argc, char** argv) {
    Options o;
    CLI::App app{"NVMe-oF/TCP (our host -> our target -> malloc) against a malloc device in-process"};
    app.add_option("-t,--seconds", o.seconds, "seconds per run")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 3600.0));
    app.add_option("-s,--size-mb", o.size_mb, "size of the exported and the baseline device in MiB")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
    app.add_option("-n,--runs", o.runs, "runs of each side, alternating; best of them")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("--target-cpu", o.target_cpu, "CPU of the target's reactor")->capture_default_str();
    app.add_option("--host-cpu", o.host_cpu, "CPU of the host's reactor (and the baseline's)")
        ->capture_default_str();
    app.add_flag("--digests", o.digests, "header and data digests (CRC32C) on the NVMe/TCP connections");
    app.add_option(
           "--busy-poll-us", o.busy_poll_us,
           "both reactors poll their ring this long after activity before sleeping (0: sleep at once)")
        ->capture_default_str()
        ->check(CLI::Range(0u, 1'000'000u));
    app.add_flag("--stats", o.stats, "print the reactors' loop turns, sleeps and completions per I/O");
    app.add_option("-w,--workload", o.workload,
                   "run only this workload (4k-randread, 4k-randwrite, 128k-seqwrite)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    (void)log::set_level("warn");

    std::printf(
        "nvmf: our host (reactor on CPU %d) -> 127.0.0.1 TCP -> our target (reactor on CPU %d) -> malloc;\n"
        "baseline: the same workloads on a malloc device from the host's reactor. %llu MiB devices, best of "
        "%d run(s)\nof %.2f s, alternating, digests %s, busy poll %u us. ratio: nvmf/baseline IOPS; ns/IO: "
        "CPU time per I/O "
        "of the "
        "baseline's reactor,\nthe host's reactor and the target's reactor\n",
        o.host_cpu, o.target_cpu, static_cast<unsigned long long>(o.size_mb), o.runs, o.seconds,
        o.digests ? "on" : "off", o.busy_poll_us);
    std::printf("%-14s %11s %11s %6s %9s %9s %9s %9s %9s\n", "workload", "base IOPS", "nvmf IOPS", "ratio",
                "base MB/s", "nvmf MB/s", "base ns", "host ns", "target ns");
    std::fflush(stdout);

    RuntimeOptions target_opts;
    target_opts.cpus = {o.target_cpu};
    RuntimeOptions host_opts;
    host_opts.cpus = {o.host_cpu};
    target_opts.reactor.busy_poll = std::chrono::microseconds(o.busy_poll_us);
    host_opts.reactor.busy_poll = std::chrono::microseconds(o.busy_poll_us);
    Runtime target_rt(target_opts);
    Runtime host_rt(host_opts);
    return run_reporting("nvmf_perf", [&] { run_all(target_rt, host_rt, o); });
}

}  // namespace
}  // namespace ms::bench

int main(int argc, char** argv) {
    return ms::bench::run(argc, argv);
}
