#include "perf/report.h"

#include <fmt/format.h>

#include <algorithm>
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

Figures figures_of(const JobResult& r, const LatencyHistogram& h) {
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
    f.mean_us = h.mean() / 1000.0;
    f.p50_us = us(h.percentile(50));
    f.p99_us = us(h.percentile(99));
    f.p999_us = us(h.percentile(99.9));
    f.min_us = us(h.min());
    f.max_us = us(h.max());
    return f;
}

// The total: rates add up over jobs (each ran for about the same time); latencies come from
// the merged histograms.
Figures total_of(std::span<const JobReport> jobs, LatencyHistogram& merged) {
    Figures t;
    for (const JobReport& j : jobs) {
        merged.merge(*j.result->latency);
        Figures f = figures_of(*j.result, *j.result->latency);
        t.reads += f.reads;
        t.writes += f.writes;
        t.errors += f.errors;
        t.mismatches += f.mismatches;
        t.seconds = std::max(t.seconds, f.seconds);
        t.iops += f.iops;
        t.mib_s += f.mib_s;
    }
    t.mean_us = merged.mean() / 1000.0;
    t.p50_us = us(merged.percentile(50));
    t.p99_us = us(merged.percentile(99));
    t.p999_us = us(merged.percentile(99.9));
    t.min_us = us(merged.min());
    t.max_us = us(merged.max());
    return t;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
    return out;
}

std::string json_figures(const Figures& f) {
    return fmt::format(
        "\"reads\": {}, \"writes\": {}, \"errors\": {}, \"mismatches\": {}, \"seconds\": {:.6f}, \"iops\": "
        "{:.1f}, "
        "\"mib_s\": {:.2f}, \"mean_us\": {:.3f}, \"p50_us\": {:.3f}, \"p99_us\": {:.3f}, \"p999_us\": "
        "{:.3f}, "
        "\"min_us\": {:.3f}, \"max_us\": {:.3f}",
        f.reads, f.writes, f.errors, f.mismatches, f.seconds, f.iops, f.mib_s, f.mean_us, f.p50_us, f.p99_us,
        f.p999_us, f.min_us, f.max_us);
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
        row(j.cpu < 0 ? std::string("-") : std::to_string(j.cpu), j.device,
            figures_of(*j.result, *j.result->latency));
    }
    auto merged = std::make_unique<LatencyHistogram>();
    Figures total = total_of(jobs, *merged);
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
    std::string out = fmt::format(
        "{{\n  \"workload\": {}, \"read_percent\": {}, \"io_size\": {}, \"queue_depth\": {}, \"seconds\": "
        "{:.3f}, "
        "\"verify\": {}, \"cpu_seconds\": {:.3f},\n  \"jobs\": [",
        json_string(to_string(spec.pattern)),
        spec.pattern == Pattern::ReadWrite ? spec.read_percent : (writes(spec.pattern) ? 0u : 100u),
        spec.io_size, spec.queue_depth, std::chrono::duration<double>(spec.duration).count(), spec.verify,
        cpu_seconds);
    const char* sep = "\n";
    for (const JobReport& j : jobs) {
        out += fmt::format("{}    {{\"core\": {}, \"device\": {}, {}", sep, j.cpu, json_string(j.device),
                           json_figures(figures_of(*j.result, *j.result->latency)));
        if (!j.result->first_failure.empty()) {
            out += fmt::format(", \"failure\": {}", json_string(j.result->first_failure));
        }
        out += "}";
        sep = ",\n";
    }
    auto merged = std::make_unique<LatencyHistogram>();
    out += fmt::format("\n  ],\n  \"total\": {{{}}}\n}}\n", json_figures(total_of(jobs, *merged)));
    return out;
}

}  // namespace ms::perf
