// mayastor-perf's output: a table for people, JSON for scripts. Per job (core x device) and
// in total: IOPS, MiB/s, mean and p99 latency.
#pragma once

#include <span>
#include <string>

#include "perf/job.h"

namespace ms::perf {

struct JobReport {
    int cpu;  // the CPU the job's reactor ran on (-1: not pinned)
    std::string device;
    const JobResult* result;
};

// `cpu_seconds`: CPU time the whole process (reactors, kernel I/O workers) used during the run.
std::string format_table(const WorkloadSpec& spec, std::span<const JobReport> jobs, double cpu_seconds);
std::string format_json(const WorkloadSpec& spec, std::span<const JobReport> jobs, double cpu_seconds);

}  // namespace ms::perf
