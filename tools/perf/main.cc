// mayastor-perf: runs a workload against devices given by URI, in-process, one reactor per
// selected core (like SPDK's bdevperf), and prints IOPS, MiB/s, mean and p99 latency.
//
// Exit status: 0 success; 1 bad arguments or a device that cannot be set up; 2 I/O errors or
// --verify mismatches during the run.
#include <sched.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <bit>
#include <cstdio>
#include <random>
#include <thread>

#include "bdev/all_devices.h"
#include "bdev/device_factory.h"
#include "bdev/nbd/nbd_device.h"
#include "bdev/nvmf/nvmf_device.h"
#include "core/cpu_list.h"
#include "core/log.h"
#include "core/runtime.h"
#include "lvs/lvs.h"
#include "perf/job.h"
#include "perf/report.h"
#include "perf/workload.h"

namespace ms::perf {
namespace {

constexpr int kUsageError = 1;
constexpr int kRunFailed = 2;

int usage_error(const std::string& message) {
    fmt::print(stderr, "mayastor-perf: {}\n", message);
    return kUsageError;
}

// User + system time of every thread of the process, the kernel's io_uring workers included.
double process_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return secs(ru.ru_utime) + secs(ru.ru_stime);
}

struct Options {
    std::vector<std::string> uris;
    std::string workload = "randread";
    int read_percent = 50;
    bool read_percent_given = false;
    std::string io_size = "4k";
    int queue_depth = 32;
    double seconds = 10;
    std::string core_mask;
    std::string core_list;
    unsigned busy_poll_us = 0;
    bool json = false;
    bool verify = false;
    bool prefill = false;
    // --pool NAME=DISK and --replica POOL/NAME:SIZE[:thin], made before the -u devices.
    std::vector<std::string> pools;
    std::vector<std::string> replicas;
};

struct PoolArg {
    std::string name;
    std::string disk;
};

struct ReplicaArg {
    std::string pool;
    std::string name;
    uint64_t size = 0;
    bool thin = false;
};

Result<PoolArg> parse_pool_arg(const std::string& text) {
    auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
        return errorf(EINVAL, "--pool '{}': expected NAME=DISK", text);
    }
    return PoolArg{text.substr(0, eq), text.substr(eq + 1)};
}

Result<ReplicaArg> parse_replica_arg(const std::string& text) {
    auto slash = text.find('/');
    auto colon = text.find(':', slash == std::string::npos ? 0 : slash);
    if (slash == std::string::npos || colon == std::string::npos || slash == 0 || colon == slash + 1) {
        return errorf(EINVAL, "--replica '{}': expected POOL/NAME:SIZE[:thin]", text);
    }
    ReplicaArg r{text.substr(0, slash), text.substr(slash + 1, colon - slash - 1)};
    std::string size = text.substr(colon + 1);
    if (size.ends_with(":thin")) {
        r.thin = true;
        size.resize(size.size() - 5);
    } else if (size.ends_with(":thick")) {
        size.resize(size.size() - 6);
    }
    auto bytes = parse_size(size);
    if (!bytes) {
        return errorf(EINVAL, "--replica '{}': {}", text, bytes.error().message);
    }
    r.size = *bytes;
    return r;
}

// Creates (or imports) the --pool pools and creates the --replica replicas on reactor `r`.
Status make_pools_and_replicas(Reactor& r, const Options& o, std::vector<std::string>& made_replicas) {
    for (const auto& text : o.pools) {
        auto p = parse_pool_arg(text);
        if (!p) {
            return std::unexpected(p.error());
        }
        auto info =
            run_on(r, [&p] { return lvs::PoolRegistry::instance().create_or_import(p->name, p->disk); });
        if (!info) {
            return errorf(info.error().code, "pool '{}' on '{}': {}", p->name, p->disk, info.error().message);
        }
    }
    for (const auto& text : o.replicas) {
        auto a = parse_replica_arg(text);
        if (!a) {
            return std::unexpected(a.error());
        }
        auto info = run_on(r, [&a] {
            return lvs::PoolRegistry::instance().create_replica(a->pool, a->name, a->size, a->thin);
        });
        if (!info) {
            return errorf(info.error().code, "replica '{}': {}", text, info.error().message);
        }
        made_replicas.push_back(a->name);
    }
    return ok();
}

Result<WorkloadSpec> make_spec(const Options& o) {
    WorkloadSpec spec;
    auto pattern = parse_pattern(o.workload);
    if (!pattern) {
        return std::unexpected(pattern.error());
    }
    spec.pattern = *pattern;
    if (o.read_percent_given && spec.pattern != Pattern::ReadWrite) {
        return make_error(EINVAL, "-M (read percentage) applies only to -w rw");
    }
    if (o.read_percent < 0 || o.read_percent > 100) {
        return errorf(EINVAL, "read percentage {} is out of range (0..100)", o.read_percent);
    }
    spec.read_percent = spec.pattern == Pattern::ReadWrite ? static_cast<unsigned>(o.read_percent)
                                                           : (writes(spec.pattern) ? 0 : 100);
    auto size = parse_size(o.io_size);
    if (!size) {
        return errorf(EINVAL, "bad I/O size: {}", size.error().message);
    }
    spec.io_size = *size;
    if (o.queue_depth <= 0) {
        return errorf(EINVAL, "queue depth {} is out of range (1..{})", o.queue_depth, kMaxQueueDepth);
    }
    spec.queue_depth = static_cast<unsigned>(o.queue_depth);
    if (!(o.seconds > 0) || o.seconds > 365.0 * 86400) {
        return errorf(EINVAL, "run time {} s is out of range", o.seconds);
    }
    spec.duration =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(o.seconds));
    spec.verify = o.verify;
    if (Status s = validate(spec); !s) {
        return std::unexpected(s.error());
    }
    return spec;
}

// The CPUs to run on: -m or -l, else the first CPU this process may run on.
Result<std::vector<int>> select_cpus(const Options& o) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        return errno_error(errno, "sched_getaffinity");
    }
    std::vector<int> cpus;
    if (!o.core_mask.empty()) {
        auto r = parse_core_mask(o.core_mask);
        if (!r) {
            return std::unexpected(r.error());
        }
        cpus = std::move(*r);
    } else if (!o.core_list.empty()) {
        auto r = parse_core_list(o.core_list);
        if (!r) {
            return std::unexpected(r.error());
        }
        cpus = std::move(*r);
    } else {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &allowed)) {
                cpus.push_back(c);
                break;
            }
        }
    }
    for (int c : cpus) {
        if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed)) {
            return errorf(EINVAL, "core {} is not available to this process (see nproc / taskset -p $$)", c);
        }
    }
    if (cpus.empty()) {
        return make_error(EINVAL, "no core selected");
    }
    return cpus;
}

int run(const Options& o) {
    auto spec = make_spec(o);
    if (!spec) {
        return usage_error(spec.error().message);
    }
    auto cpus = select_cpus(o);
    if (!cpus) {
        return usage_error(cpus.error().message);
    }
    log::init("warn");
    // The schemes outside ms_bdev: -u takes every device URI.
    register_all_device_factories();

    RuntimeOptions ro;
    ro.cpus = *cpus;
    ro.reactor.busy_poll = std::chrono::microseconds(o.busy_poll_us);
    // Room in the ring for every I/O a core keeps in flight, so that completions never overflow.
    uint64_t per_core = uint64_t{spec->queue_depth} * o.uris.size() + 64;
    ro.reactor.queue_depth =
        static_cast<unsigned>(std::clamp<uint64_t>(std::bit_ceil(per_core), 1024, 32768));
    std::unique_ptr<Runtime> rt;
    try {
        rt = std::make_unique<Runtime>(ro);
    } catch (const std::exception& e) {
        return usage_error(fmt::format("cannot start the reactors: {}", e.what()));
    }
    Reactor& first = rt->reactor(0);

    std::vector<std::shared_ptr<BlockDevice>> devices;
    std::vector<std::unique_ptr<Descriptor>> descs;
    std::vector<std::unique_ptr<Job>> jobs;
    std::vector<JobReport> reports;
    std::vector<std::string> made_replicas;
    int rc = 0;
    auto cleanup = [&] {
        jobs.clear();
        descs.clear();
        // Newest first: a device may hold (claim) one created before it.
        // By the URI they were made from: bdev:///NAME (a replica) only refers to a device.
        for (std::size_t i = devices.size(); i-- > 0;) {
            devices[i].reset();
            const std::string& name = o.uris[i];
            Status s = run_on(first, [&name] { return destroy_device(name); });
            if (!s) {
                log::warn("cannot destroy '{}': {}", name, s.error().to_string());
            }
        }
        for (const auto& name : made_replicas) {
            if (Status s =
                    run_on(first, [&name] { return lvs::PoolRegistry::instance().destroy_replica(name); });
                !s) {
                log::warn("cannot destroy replica '{}': {}", name, s.error().to_string());
            }
        }
        run_on(first, [] { return lvs::PoolRegistry::instance().export_all(); });
        rt->stop();
    };
    if (Status s = make_pools_and_replicas(first, o, made_replicas); !s) {
        rc = usage_error(s.error().message);
        cleanup();
        return rc;
    }

    OpenMode mode =
        writes(spec->pattern) || spec->verify || o.prefill ? OpenMode::ReadWrite : OpenMode::ReadOnly;
    for (const std::string& uri : o.uris) {
        auto dev = run_on(first, [&uri] { return create_device(uri); });
        if (!dev) {
            rc = usage_error(fmt::format("cannot create device '{}': {}", uri, dev.error().message));
            break;
        }
        devices.push_back(*dev);
        auto desc = Descriptor::open(*dev, mode);
        if (!desc) {
            rc = usage_error(fmt::format("cannot open '{}': {}", uri, desc.error().message));
            break;
        }
        descs.push_back(std::move(*desc));
        if (o.prefill) {
            Descriptor& d = *descs.back();
            if (Status s = run_on(first, [&d] { return prefill(d); }); !s) {
                rc = usage_error(s.error().message);
                break;
            }
        }
    }

    std::random_device rd;
    uint64_t pattern_seed = (uint64_t{rd()} << 32) | rd();
    for (std::size_t d = 0; rc == 0 && d < descs.size(); ++d) {
        for (std::size_t c = 0; c < rt->size(); ++c) {
            uint64_t seed = (uint64_t{rd()} << 32) | rd();
            auto job = Job::create(*descs[d], *spec, static_cast<unsigned>(c),
                                   static_cast<unsigned>(rt->size()), seed, pattern_seed);
            if (!job) {
                rc = usage_error(job.error().message);
                break;
            }
            reports.push_back(JobReport{rt->cpu(c), descs[d]->device().name(), &(*job)->result()});
            jobs.push_back(std::move(*job));
        }
    }
    if (rc != 0) {
        cleanup();
        return rc;
    }

    double cpu_before = process_cpu_seconds();
    {
        // Every job starts on its core at once; each blocks its own thread until done.
        std::vector<std::jthread> waiters;
        for (std::size_t j = 0; j < jobs.size(); ++j) {
            Reactor& r = rt->reactor(j % rt->size());
            waiters.emplace_back([&r, job = jobs[j].get()] { run_on(r, [job] { return job->run(); }); });
        }
    }

    double cpu_seconds = process_cpu_seconds() - cpu_before;
    bool failed = false;
    for (const auto& job : jobs) {
        failed |= job->result().failed();
    }
    std::string out =
        o.json ? format_json(*spec, reports, cpu_seconds) : format_table(*spec, reports, cpu_seconds);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    if (failed && o.json) {
        fmt::print(stderr, "mayastor-perf: the run had I/O errors or verify mismatches\n");
    }
    cleanup();
    return failed ? kRunFailed : 0;
}

}  // namespace
}  // namespace ms::perf

int main(int argc, char** argv) {
    ms::perf::Options o;
    CLI::App app{
        "mayastor-perf: a block device benchmark (like SPDK's bdevperf). Each selected core runs the "
        "workload "
        "on every device given, in-process, and the tool prints IOPS, MiB/s, mean and p99 latency per core "
        "and "
        "in total.\n"};
    app.add_option(
           "-u,--uri", o.uris,
           "device URI, repeatable: malloc:///m0?size_mb=1024, null:///n0?size_mb=1024, uring:///path, "
           "aio:///path, nvmf://host:port/nqn, nbd://host:port/export, nbd+unix:///export?socket=path, ...")
        ->required()
        ->allow_extra_args(false);
    app.add_option("-w,--workload", o.workload, "randread, randwrite, read, write or rw")
        ->capture_default_str();
    auto* m_opt = app.add_option("-M,--rw-mix-read", o.read_percent, "percentage of reads for -w rw")
                      ->capture_default_str();
    app.add_option("-o,--io-size", o.io_size, "I/O size in bytes; k, m, g suffixes (4k, 128k, 1m)")
        ->capture_default_str();
    app.add_option("-q,--queue-depth", o.queue_depth, "I/Os in flight per core and device")
        ->capture_default_str();
    app.add_option("-t,--time", o.seconds, "run time in seconds")->capture_default_str();
    auto* mask = app.add_option("-m,--core-mask", o.core_mask, "cores to run on, as a hex mask (0x3)");
    auto* list = app.add_option("-l,--core-list", o.core_list, "cores to run on, as a list (0,2-3)");
    mask->excludes(list);
    list->excludes(mask);
    app.add_option("--busy-poll-us", o.busy_poll_us, "poll the ring this long after activity before sleeping")
        ->capture_default_str();
    app.add_flag("--json", o.json, "print the results as JSON");
    app.add_flag("--verify", o.verify,
                 "every I/O writes a pattern and reads it back to compare; mismatches fail the run (exit 2)");
    app.add_flag(
        "--prefill", o.prefill,
        "write every device once before the run (real data to read, memory devices fully allocated)");
    app.add_option(
        "--pool", o.pools,
        "NAME=DISK: create (or import) a pool on the device DISK first; repeatable. Exported at exit.");
    app.add_option("--replica", o.replicas,
                   "POOL/NAME:SIZE[:thin]: create a replica first (thick unless :thin), reach it with -u "
                   "bdev:///NAME; destroyed at exit; repeatable");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : 1;
    }
    o.read_percent_given = m_opt->count() > 0;
    return ms::perf::run(o);
}
