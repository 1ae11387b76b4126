#include "perf/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace ms::perf {
namespace {

struct Figures {
    uint64_t reads = 0;
    uint64_t writes = 0;
    uint64_t errors = 0;
    uint64_t mismatches = 0;
    double seconds = 0;
    double iops = 0;
    double mib_s = 0;
    double mean_us = 0;
    double p50_us = 0;
    double p99_us = 0;
    double p999_us = 0;
    double min_us = 0;
    double max_us = 0;
};

double us(uint64_t ns) {
    return static_cast<double>(ns) / 1000.0;
}

// Latency figures from a histogram (per job, or the merged one for the total).
void set_latency(Figures& f, const LatencyHistogram& h) {
    f.mean_us = h.mean() / 1000.0;
    f.p50_us = us(h.percentile(50));
    f.p99_us = us(h.percentile(99));
    f.p999_us = us(h.percentile(99.9));
    f.min_us = us(h.min());
    f.max_us = us(h.max());
}

Figures figures_of(const JobResult& r) {
    Figures f;
    f.reads = r.reads;
    f.writes = r.writes;
    f.errors = r.errors;
    f.mismatches = r.mismatches;
    f.seconds = std::chrono::duration<double>(r.elapsed).count();
    if (f.seconds > 0) {
        f.iops = static_cast<double>(r.ios()) / f.seconds;
        f.mib_s = static_cast<double>(r.bytes) / f.seconds / (1024.0 * 1024.0);
    }
    set_latency(f, *r.latency);
    return f;
}

// The total: rates add up over jobs (each ran for about the same time); latencies come from
// the merged histograms.
Figures total_of(std::span<const JobReport> jobs) {
    Figures t;
    auto merged = std::make_unique<LatencyHistogram>();
    for (const JobReport& j : jobs) {
        merged->merge(*j.result->latency);
        Figures f = figures_of(*j.result);
        t.reads += f.reads;
        t.writes += f.writes;
        t.errors += f.errors;
        t.mismatches += f.mismatches;
        t.seconds = std::max(t.seconds, f.seconds);
        t.iops += f.iops;
        t.mib_s += f.mib_s;
    }
    set_latency(t, *merged);
    return t;
}

nlohmann::ordered_json json_figures(const Figures& f) {
    return {{"reads", f.reads},           {"writes", f.writes},   {"errors", f.errors},
            {"mismatches", f.mismatches}, {"seconds", f.seconds}, {"iops", f.iops},
            {"mib_s", f.mib_s},           {"mean_us", f.mean_us}, {"p50_us", f.p50_us},
            {"p99_us", f.p99_us},         {"p999_us", f.p999_us}, {"min_us", f.min_us},
            {"max_us", f.max_us}};
}

std::string describe(const WorkloadSpec& spec) {
    std::string what(to_string(spec.pattern));
    if (spec.pattern == Pattern::ReadWrite) {
        what += fmt::format(" ({}% reads)", spec.read_percent);
    }
    if (spec.verify) {
        what += " with verify";
    }
    return fmt::format("{}, {}-byte I/Os, queue depth {}, {:.1f} s", what, spec.io_size, spec.queue_depth,
                       std::chrono::duration<double>(spec.duration).count());
}

}  // namespace

std::string format_table(const WorkloadSpec& spec, std::span<const JobReport> jobs, double cpu_seconds) {
    std::size_t dev_w = 6;
    for (const JobReport& j : jobs) {
        dev_w = std::max(dev_w, j.device.size());
    }
    std::string out = fmt::format("mayastor-perf: {}\n", describe(spec));
    auto row = [&](std::string_view core, std::string_view dev, const Figures& f) {
        out += fmt::format("{:>5}  {:<{}}  {:>12.1f}  {:>9.2f}  {:>9.2f}  {:>9.2f}\n", core, dev, dev_w,
                           f.iops, f.mib_s, f.mean_us, f.p99_us);
    };
    out += fmt::format("{:>5}  {:<{}}  {:>12}  {:>9}  {:>9}  {:>9}\n", "core", "device", dev_w, "IOPS",
                       "MiB/s", "mean us", "p99 us");
    for (const JobReport& j : jobs) {
        row(j.cpu < 0 ? std::string("-") : std::to_string(j.cpu), j.device, figures_of(*j.result));
    }
    Figures total = total_of(jobs);
    row("total", "", total);
    uint64_t ios = total.reads + total.writes;
    out += fmt::format("CPU: {:.2f} s, {:.2f} us per I/O\n", cpu_seconds,
                       ios == 0 ? 0.0 : cpu_seconds * 1e6 / static_cast<double>(ios));
    if (total.errors != 0 || total.mismatches != 0) {
        out += fmt::format("FAILED: {} I/O errors, {} verify mismatches\n", total.errors, total.mismatches);
        for (const JobReport& j : jobs) {
            if (!j.result->first_failure.empty()) {
                out += fmt::format("  core {} {}: {}\n", j.cpu, j.device, j.result->first_failure);
            }
        }
    }
    return out;
}

std::string format_json(const WorkloadSpec& spec, std::span<const JobReport> jobs, double cpu_seconds) {
    nlohmann::ordered_json out;
    out["workload"] = to_string(spec.pattern);
    out["read_percent"] =
        spec.pattern == Pattern::ReadWrite ? spec.read_percent : (writes(spec.pattern) ? 0u : 100u);
    out["io_size"] = spec.io_size;
    out["queue_depth"] = spec.queue_depth;
    out["seconds"] = std::chrono::duration<double>(spec.duration).count();
    out["verify"] = spec.verify;
    out["cpu_seconds"] = cpu_seconds;
    auto& list = out["jobs"] = nlohmann::ordered_json::array();
    for (const JobReport& j : jobs) {
        nlohmann::ordered_json job = {{"core", j.cpu}, {"device", j.device}};
        job.update(json_figures(figures_of(*j.result)));
        if (!j.result->first_failure.empty()) {
            job["failure"] = j.result->first_failure;
        }
        list.push_back(std::move(job));
    }
    out["total"] = json_figures(total_of(jobs));
    return out.dump(2) + "\n";
}

}  // namespace ms::perf
