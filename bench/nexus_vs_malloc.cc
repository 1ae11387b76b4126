// nexus_vs_malloc: what mirroring costs. 4 KiB random writes and random reads, 32 in flight per
// reactor, on a nexus of 1, 2 and 3 memory children against one bare device of the same kind
// (the baseline), measured in the same run with the same job runner (mayastor-perf's Job,
// tools/perf/job.h). The two sides alternate; each keeps its best IOPS and its lowest CPU time
// per I/O over the runs, and the ratio nexus/bare is printed.
//
//   nexus_vs_malloc [-n RUNS] [-t SECONDS] [-l CORES] [-s SIZE_MB] [-k malloc|null] [-c MAX_CHILDREN]
//
// The children and the bare device are made once, written in full (so that reads copy real
// pages and writes do not fault them in), and the nexus is built over them as bdev:///NAME.
// Kind null moves no data: it shows the nexus's own cost per I/O. Figures in
// docs/performance.md. Exit status: 0 success, 1 bad arguments, a failed setup or an I/O error.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "mayastor/mayastor.h"
#include "perf/job.h"
#include "perf/workload.h"

namespace ms::bench {
namespace {

struct Options {
    int runs = 3;
    double seconds = 3.0;
    std::string cores = "0";
    uint64_t size_mb = 1024;
    std::string kind = "malloc";
    int max_children = 3;
    int queue_depth = 32;
};

// User + system time of every thread of the process.
double process_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto secs = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
    return secs(ru.ru_utime) + secs(ru.ru_stime);
}

struct Rate {
    double iops = 0;
    double cpu_ns = 1e18;  // CPU time of the process per I/O
    double p99_us = 0;     // of the run with the best IOPS
    void keep_best(const Rate& r) {
        if (r.iops > iops) {
            iops = r.iops;
            p99_us = r.p99_us;
        }
        cpu_ns = std::min(cpu_ns, r.cpu_ns);
    }
};

// One run: a Job on every reactor, all on `desc`, started together.
Rate measure(Environment& env, Descriptor& desc, perf::Pattern pattern, const Options& o, uint64_t seed) {
    perf::WorkloadSpec spec;
    spec.pattern = pattern;
    spec.read_percent = perf::writes(pattern) ? 0 : 100;
    spec.io_size = 4096;
    spec.queue_depth = static_cast<unsigned>(o.queue_depth);
    spec.duration =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(o.seconds));
    const auto n = static_cast<unsigned>(env.size());
    std::vector<std::unique_ptr<perf::Job>> jobs;
    for (unsigned i = 0; i < n; ++i) {
        jobs.push_back(check(perf::Job::create(desc, spec, i, n, seed * 1000 + i, 1), "job"));
    }
    const double cpu0 = process_cpu_seconds();
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < n; ++i) {
        perf::Job* job = jobs[i].get();
        threads.emplace_back([&env, i, job] { env.run_on_reactor(i, [job] { return job->run(); }); });
    }
    for (auto& t : threads) {
        t.join();
    }
    const double cpu = process_cpu_seconds() - cpu0;
    uint64_t ios = 0;
    double seconds = 0;
    LatencyHistogram latency;
    for (const auto& job : jobs) {
        const perf::JobResult& r = job->result();
        if (r.failed()) {
            throw Failure("I/O on " + desc.device().name() + ": " + r.first_failure);
        }
        ios += r.ios();
        seconds = std::max(seconds, std::chrono::duration<double>(r.elapsed).count());
        latency.merge(*r.latency);
    }
    return Rate{double(ios) / seconds, cpu * 1e9 / double(ios), double(latency.percentile(99)) / 1e3};
}

std::string device_uri(const Options& o, const std::string& name) {
    return o.kind + ":///" + name + "?size_mb=" + std::to_string(o.size_mb);
}

std::unique_ptr<Descriptor> make_device(Environment& env, const Options& o, const std::string& name) {
    auto dev = check(env.run([uri = device_uri(o, name)] { return create_device(uri); }), "create " + name);
    auto desc = check(Descriptor::open(dev, OpenMode::ReadWrite), "open " + name);
    if (o.kind == "malloc") {
        check(env.run([&desc] { return perf::prefill(*desc); }), "prefill " + name);
    }
    return desc;
}

void print_row(int children, perf::Pattern p, const Rate& bare, const Rate& nexus) {
    std::printf("%8d %-10s %12.0f %12.0f %6.2f %9.0f %9.0f %6.2f %9.1f %9.1f\n", children,
                std::string(perf::to_string(p)).c_str(), bare.iops, nexus.iops, nexus.iops / bare.iops,
                bare.cpu_ns, nexus.cpu_ns, bare.cpu_ns / nexus.cpu_ns, bare.p99_us, nexus.p99_us);
    std::fflush(stdout);
}

void run_all(Environment& env, const Options& o) {
    auto bare = make_device(env, o, "bench_bare");
    std::vector<std::string> names;
    std::vector<std::unique_ptr<Descriptor>> prefilled;
    for (int i = 0; i < o.max_children; ++i) {
        names.push_back("bench_child" + std::to_string(i));
        prefilled.push_back(make_device(env, o, names.back()));
    }
    prefilled.clear();  // the nexus claims its children: no other writer may hold them open
    const uint64_t size = o.size_mb << 20;
    uint64_t seed = 1;
    for (int k = 1; k <= o.max_children; ++k) {
        Uuid uuid = Uuid::generate();
        std::vector<std::string> children;
        for (int i = 0; i < k; ++i) {
            children.push_back("bdev:///" + names[i]);
        }
        auto dev =
            check(env.run([&] { return nexus_create("bench_nexus", size, uuid, children); }), "nexus_create");
        auto nexus = check(Descriptor::open(dev, OpenMode::ReadWrite), "open the nexus");
        for (perf::Pattern p : {perf::Pattern::RandWrite, perf::Pattern::RandRead}) {
            Rate bare_best;
            Rate nexus_best;
            for (int run = 0; run < o.runs; ++run) {
                bare_best.keep_best(measure(env, *bare, p, o, ++seed));
                nexus_best.keep_best(measure(env, *nexus, p, o, ++seed));
            }
            print_row(k, p, bare_best, nexus_best);
        }
        nexus.reset();
        dev.reset();
        check(env.run([uuid] { return nexus_destroy(uuid); }), "nexus_destroy");
    }
}

int run(int argc, char** argv) {
    Options o;
    CLI::App app{"4 KiB random I/O on a nexus of 1..3 memory children against one bare device"};
    app.add_option("-n,--runs", o.runs, "runs of each side, alternating; best of them")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("-t,--seconds", o.seconds, "seconds per run")
        ->capture_default_str()
        ->check(CLI::Range(0.01, 3600.0));
    app.add_option("-l,--cores", o.cores, "cores, one reactor and one job each (list or 0x mask)")
        ->capture_default_str();
    app.add_option("-s,--size-mb", o.size_mb, "size of each device in MiB")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
    app.add_option("-k,--kind", o.kind, "device kind of the children and the baseline")
        ->capture_default_str()
        ->check(CLI::IsMember({"malloc", "null"}));
    app.add_option("-c,--max-children", o.max_children, "nexuses of 1..this many children")
        ->capture_default_str()
        ->check(CLI::Range(1, 8));
    app.add_option("-q,--queue-depth", o.queue_depth, "I/Os in flight per reactor")
        ->capture_default_str()
        ->check(CLI::Range(1, 4096));
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    auto env = Environment::start({.cores = o.cores, .log_level = "warn"});
    if (!env) {
        std::fprintf(stderr, "nexus_vs_malloc: %s\n", env.error().to_string().c_str());
        return 1;
    }
    std::printf(
        "4 KiB random I/O, qd %d per reactor, %zu reactor(s) on cores %s, %s devices of %llu MiB; nexus of N "
        "children\nvs one bare device (baseline), alternating, best of %d run(s) of %.2f s. ns/IO: CPU time "
        "of the process\nper I/O; ratio: nexus/bare IOPS; CPU ratio: bare/nexus ns/IO (1 = no overhead)\n",
        o.queue_depth, env->size(), o.cores.c_str(), o.kind.c_str(),
        static_cast<unsigned long long>(o.size_mb), o.runs, o.seconds);
    std::printf("%8s %-10s %12s %12s %6s %9s %9s %6s %9s %9s\n", "children", "workload", "bare IOPS",
                "nexus IOPS", "ratio", "bare ns", "nexus ns", "CPU r", "bare p99", "nexus p99");
    return run_reporting("nexus_vs_malloc", [&] { run_all(*env, o); });
}

}  // namespace
}  // namespace ms::bench

int main(int argc, char** argv) {
    return ms::bench::run(argc, argv);
}
