// nexus_rebuild: how fast a nexus rebuilds a child, against the plain copy it amounts to.
//
//   full:    a nexus over one child (the source, written in full with a pattern); a second
//            child (the destination, holding other bytes) is added and rebuilt in full.
//   raw:     the baseline, in the same run: the same source copied to the same destination
//            directly through Descriptors, with the rebuild's segment size and number of
//            segments in flight (read a segment, write it; no nexus, no range locks).
//   partial: the destination is taken offline, 1 % of the write-intent log's regions are
//            written through the nexus (one 4 KiB write each), and it is brought back online:
//            only those regions are copied.
//
// After each rebuild the destination is compared with the source, byte for byte. Each phase
// keeps its best time over the runs.
//
//   nexus_rebuild [-n RUNS] [-s SIZE_MB] [-b malloc|shm|file] [--segment-kb N] [--tasks N] [-l CORE]
//
// Backing: malloc (memory), shm (files in /dev/shm through uring://) or file (files in /var/tmp
// through uring://). Figures in docs/performance.md. Exit status: 0 success, 1 bad arguments,
// a failed setup, an I/O error or a destination that differs from its source.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_util.h"
#include "mayastor/mayastor.h"
#include "perf/job.h"

namespace ms::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kChunk = 4 * kMiB;  // fill and compare unit

struct Options {
    int runs = 3;
    uint64_t size_mb = 1024;
    std::string backing = "malloc";
    uint64_t segment_kb = 128;
    uint32_t tasks = 4;
    std::string core = "0";
    uint64_t region_kb = 1024;
};

// Counts coroutines spawned on this reactor and resumes the waiter when the last one is done.
class Group {
   public:
    void add() { ++_left; }
    void done() {
        if (--_left == 0 && _waiter) {
            Reactor::current()->schedule(std::exchange(_waiter, {}));
        }
    }
    bool await_ready() const noexcept { return _left == 0; }
    void await_suspend(std::coroutine_handle<> h) noexcept { _waiter = h; }
    void await_resume() const noexcept {}

   private:
    unsigned _left = 0;
    std::coroutine_handle<> _waiter;
};

// Writes [0, size) of `d` in chunks, each with the perf tool's pattern for `seed`.
Task<Status> fill(Descriptor& d, uint64_t size, uint64_t seed) {
    auto buf = d.dma_malloc(kChunk);
    if (!buf) {
        co_return std::unexpected(buf.error());
    }
    for (uint64_t off = 0; off < size; off += kChunk) {
        perf::fill_pattern(buf->span(), off, seed);
        if (Status s = co_await d.write_at(off, *buf); !s) {
            co_return s;
        }
    }
    co_return ok();
}

// First byte offset where `a` and `b` differ in [0, size), or `size` if none.
Task<Result<uint64_t>> first_difference(Descriptor& a, Descriptor& b, uint64_t size) {
    auto ba = a.dma_malloc(kChunk);
    auto bb = b.dma_malloc(kChunk);
    if (!ba || !bb) {
        co_return make_error(ENOMEM, "compare buffers");
    }
    for (uint64_t off = 0; off < size; off += kChunk) {
        if (Status s = co_await a.read_at(off, *ba); !s) {
            co_return std::unexpected(s.error());
        }
        if (Status s = co_await b.read_at(off, *bb); !s) {
            co_return std::unexpected(s.error());
        }
        if (std::memcmp(ba->data(), bb->data(), kChunk) != 0) {
            auto [pa, pb] = std::mismatch(ba->span().begin(), ba->span().end(), bb->span().begin());
            co_return off + static_cast<uint64_t>(pa - ba->span().begin());
        }
    }
    co_return size;
}

Task<void> copy_worker(Descriptor* src, Descriptor* dst, uint64_t size, uint64_t segment, uint64_t* next,
                       Status* result, Group* group) {
    auto buf = src->dma_malloc(segment);
    if (!buf) {
        *result = std::unexpected(buf.error());
    }
    while (buf && *result && *next < size) {
        const uint64_t off = *next;
        *next += segment;
        iovec v{buf->data(), std::min(segment, size - off)};
        const std::span<const iovec> iov(&v, 1);
        Status s = co_await src->readv(off, iov);
        if (s) {
            s = co_await dst->writev(off, iov);
        }
        if (!s && *result) {
            *result = s;
        }
    }
    group->done();
}

// The baseline: `tasks` coroutines copy `segment`-sized pieces from src to dst.
Task<Status> raw_copy(Descriptor& src, Descriptor& dst, uint64_t size, uint64_t segment, uint32_t tasks) {
    uint64_t next = 0;
    Status result = ok();
    Group group;
    for (uint32_t i = 0; i < tasks; ++i) {
        group.add();
        Reactor::current()->spawn(copy_worker(&src, &dst, size, segment, &next, &result, &group));
    }
    co_await group;
    co_return result;
}

// Waits until child `uri` of the nexus is open again (its rebuild completed). The registry has
// no completion event, so it polls: every 1/1000 of the time waited so far (at least 20 us), which
// bounds the error of a measured time to 0.1 % + 20 us without waking the reactor (which runs
// the rebuild) thousands of times a second during a long rebuild.
Task<Status> wait_rebuilt(Uuid uuid, std::string uri) {
    const auto t0 = Clock::now();
    for (;;) {
        auto info = nexus::NexusRegistry::instance().get(uuid);
        if (!info) {
            co_return std::unexpected(info.error());
        }
        auto child = std::find_if(info->children.begin(), info->children.end(),
                                  [&uri](const nexus::ChildInfo& c) { return c.uri == uri; });
        if (child == info->children.end()) {
            co_return errorf(ENOENT, "child {} is gone", uri);
        }
        if (child->state == nexus::ChildState::Open && child->rebuild_progress < 0) {
            co_return ok();
        }
        if (child->state == nexus::ChildState::Faulted && child->reason != nexus::FaultReason::OutOfSync) {
            co_return errorf(EIO, "child {} faulted: {}", uri, nexus::to_string(child->reason));
        }
        co_await sleep_for(
            std::max<Clock::duration>(std::chrono::microseconds(20), (Clock::now() - t0) / 1000));
    }
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// User + system time of every thread of the process (the kernel's io_uring workers included):
// on a shared machine it moves less with the load than the elapsed time does.
double process_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
    return secs(ru.ru_utime) + secs(ru.ru_stime);
}

struct Times {
    // Elapsed and CPU seconds, each the lowest over the runs.
    double raw = 1e18;
    double full = 1e18;
    double partial = 1e18;
    double raw_cpu = 1e18;
    double full_cpu = 1e18;
    uint64_t partial_blocks = 0;  // blocks the partial job had to copy (0: not seen)
};

class Bench {
   public:
    Bench(Environment& env, const Options& o) : _env(env), _o(o), _size(o.size_mb * kMiB) {}

    void setup() {
        std::string src_uri = "malloc:///rb_src?size_mb=" + std::to_string(_o.size_mb);
        std::string dst_uri = "malloc:///rb_dst?size_mb=" + std::to_string(_o.size_mb);
        if (_o.backing != "malloc") {
            const std::string dir = _o.backing == "shm" ? "/dev/shm" : "/var/tmp";
            _files.push_back(std::make_unique<ScratchFile>(dir, "ms-rebuild-bench", _size));
            _files.push_back(std::make_unique<ScratchFile>(dir, "ms-rebuild-bench", _size));
            src_uri = "uring://" + _files[0]->path();
            dst_uri = "uring://" + _files[1]->path();
        }
        _src = check(_env.run([&] { return create_device(src_uri); }), "create " + src_uri);
        _dst = check(_env.run([&] { return create_device(dst_uri); }), "create " + dst_uri);
        _src_child = "bdev:///" + _src->name();
        _dst_child = "bdev:///" + _dst->name();
        auto src = check(Descriptor::open(_src, OpenMode::ReadWrite), "open source");
        check(_env.run([&] { return fill(*src, _size, 1); }), "fill source");
        nexus::NexusOptions no;
        no.rebuild.segment_bytes = _o.segment_kb * 1024;
        no.rebuild.max_tasks = _o.tasks;
        no.rebuild.rate_limit = 0;
        no.wil_region_bytes = _o.region_kb * 1024;
        nexus::NexusRegistry::instance().set_options(no);
    }

    void run_once(Times& best) {
        scramble_destination();
        {
            auto src = check(Descriptor::open(_src, OpenMode::ReadOnly), "open source");
            auto dst = check(Descriptor::open(_dst, OpenMode::ReadWrite), "open destination");
            auto t0 = Clock::now();
            const double cpu0 = process_cpu_seconds();
            check(_env.run([&] { return raw_copy(*src, *dst, _size, _o.segment_kb * 1024, _o.tasks); }),
                  "raw copy");
            best.raw = std::min(best.raw, seconds_since(t0));
            best.raw_cpu = std::min(best.raw_cpu, process_cpu_seconds() - cpu0);
            verify("raw copy");
        }
        scramble_destination();

        auto& registry = nexus::NexusRegistry::instance();
        const Uuid uuid = Uuid::generate();
        auto dev = check(_env.run([&] { return nexus_create("rb_nexus", _size, uuid, {_src_child}); }),
                         "nexus_create");
        auto t0 = Clock::now();
        const double cpu0 = process_cpu_seconds();
        check(_env.run([&]() -> Task<Status> {
            auto child = co_await registry.add_child(uuid, _dst_child, false);
            if (!child) {
                co_return std::unexpected(child.error());
            }
            co_return co_await wait_rebuilt(uuid, _dst_child);
        }),
              "full rebuild");
        best.full = std::min(best.full, seconds_since(t0));
        best.full_cpu = std::min(best.full_cpu, process_cpu_seconds() - cpu0);
        verify("full rebuild");

        check(_env.run([&] { return registry.offline_child(uuid, _dst_child); }), "offline the destination");
        write_regions(dev);
        t0 = Clock::now();
        uint64_t blocks = 0;
        check(_env.run([&]() -> Task<Status> {
            if (Status s = co_await registry.online_child(uuid, _dst_child); !s) {
                co_return s;
            }
            // The job runs on this reactor: it has not gone far when online_child returns.
            if (auto stats = registry.rebuild_stats(uuid, _dst_child); stats && stats->partial) {
                blocks = stats->blocks_total;
            }
            co_return co_await wait_rebuilt(uuid, _dst_child);
        }),
              "partial rebuild");
        const double partial = seconds_since(t0);
        if (partial < best.partial) {
            best.partial = partial;
            best.partial_blocks = blocks;
        }
        verify("partial rebuild");
        dev.reset();
        check(_env.run([&] { return nexus_destroy(uuid); }), "nexus_destroy");
    }

    uint64_t regions() const { return (_size + _o.region_kb * 1024 - 1) / (_o.region_kb * 1024); }
    uint64_t dirty_regions() const { return std::max<uint64_t>(1, regions() / 100); }
    uint64_t size() const { return _size; }
    uint32_t block_size() const { return _src->block_size(); }

   private:
    // Other bytes everywhere on the destination, so that a rebuild that skips a segment shows.
    void scramble_destination() {
        auto dst = check(Descriptor::open(_dst, OpenMode::ReadWrite), "open destination");
        check(_env.run([&] { return fill(*dst, _size, ++_scramble_seed + 100); }), "scramble destination");
    }

    // One 4 KiB write at a random place in each of dirty_regions() distinct regions.
    void write_regions(const std::shared_ptr<BlockDevice>& dev) {
        auto nexus = check(Descriptor::open(dev, OpenMode::ReadWrite), "open the nexus");
        std::mt19937_64 rng(_scramble_seed);
        std::set<uint64_t> picked;
        while (picked.size() < dirty_regions()) {
            picked.insert(rng() % regions());
        }
        const uint64_t region = _o.region_kb * 1024;
        check(_env.run([&]() -> Task<Status> {
            auto buf = nexus->dma_malloc(4096);
            if (!buf) {
                co_return std::unexpected(buf.error());
            }
            for (uint64_t r : picked) {
                const uint64_t len = std::min(region, _size - r * region);
                const uint64_t off = r * region + (rng() % (len / 4096)) * 4096;
                perf::fill_pattern(buf->span(), off, 7 + _scramble_seed);
                if (Status s = co_await nexus->write_at(off, *buf); !s) {
                    co_return s;
                }
            }
            co_return ok();
        }),
              "write while offline");
    }

    void verify(const std::string& after) {
        auto src = check(Descriptor::open(_src, OpenMode::ReadOnly), "open source");
        auto dst = check(Descriptor::open(_dst, OpenMode::ReadOnly), "open destination");
        uint64_t at = check(_env.run([&] { return first_difference(*src, *dst, _size); }), "compare");
        if (at != _size) {
            throw Failure("after the " + after + " the destination differs from the source at byte " +
                          std::to_string(at));
        }
    }

    Environment& _env;
    const Options& _o;
    uint64_t _size;
    std::vector<std::unique_ptr<ScratchFile>> _files;
    std::shared_ptr<BlockDevice> _src;
    std::shared_ptr<BlockDevice> _dst;
    std::string _src_child;
    std::string _dst_child;
    uint64_t _scramble_seed = 0;
};

int run(int argc, char** argv) {
    Options o;
    CLI::App app{"Nexus rebuild (full and partial) against a raw copy of the same size"};
    app.add_option("-n,--runs", o.runs, "runs; each phase keeps its best time")
        ->capture_default_str()
        ->check(CLI::Range(1, 100));
    app.add_option("-s,--size-mb", o.size_mb, "size of the child in MiB")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{4}, uint64_t{1} << 20));
    app.add_option("-b,--backing", o.backing, "malloc, shm (/dev/shm files) or file (/var/tmp files)")
        ->capture_default_str()
        ->check(CLI::IsMember({"malloc", "shm", "file"}));
    app.add_option("--segment-kb", o.segment_kb, "rebuild (and copy) segment in KiB")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{4}, uint64_t{16384}));
    app.add_option("--tasks", o.tasks, "segments in flight")
        ->capture_default_str()
        ->check(CLI::Range(1u, 256u));
    app.add_option("--region-kb", o.region_kb, "write-intent log region in KiB")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{4}, uint64_t{1} << 20));
    app.add_option("-l,--core", o.core, "the core of the one reactor")->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    auto env = Environment::start({.cores = o.core, .log_level = "warn"});
    if (!env) {
        std::fprintf(stderr, "nexus_rebuild: %s\n", env.error().to_string().c_str());
        return 1;
    }
    return run_reporting("nexus_rebuild", [&] {
        Bench bench(*env, o);
        bench.setup();
        Times best;
        for (int i = 0; i < o.runs; ++i) {
            bench.run_once(best);
        }
        const double mib = double(bench.size()) / double(kMiB);
        std::printf(
            "child of %.0f MiB (%s), segment %llu KiB, %u in flight, one reactor on core %s, best of %d "
            "run(s)\n",
            mib, o.backing.c_str(), static_cast<unsigned long long>(o.segment_kb), o.tasks, o.core.c_str(),
            o.runs);
        std::printf("raw copy (baseline)  %9.1f ms  %8.0f MiB/s  CPU %7.1f ms\n", best.raw * 1e3,
                    mib / best.raw, best.raw_cpu * 1e3);
        std::printf(
            "full rebuild         %9.1f ms  %8.0f MiB/s  CPU %7.1f ms  %.2fx the raw copy's throughput (goal "
            ">= "
            "0.8), CPU ratio raw/rebuild %.2f\n",
            best.full * 1e3, mib / best.full, best.full_cpu * 1e3, best.raw / best.full,
            best.raw_cpu / best.full_cpu);
        std::printf(
            "partial rebuild      %9.1f ms  %llu of %llu regions written while offline (%llu blocks to copy)"
            ": %.2f %% of the full rebuild (goal <= 5 %%)\n",
            best.partial * 1e3, static_cast<unsigned long long>(bench.dirty_regions()),
            static_cast<unsigned long long>(bench.regions()),
            static_cast<unsigned long long>(best.partial_blocks), 100.0 * best.partial / best.full);
        std::printf("verified: the destination equals the source after every copy and rebuild\n");
    });
}

}  // namespace
}  // namespace ms::bench

int main(int argc, char** argv) {
    return ms::bench::run(argc, argv);
}
