// One core's workload on one device (as in SPDK's bdevperf, every core runs its own job on
// every device): `queue_depth` slots, each with its own buffers, keep one I/O in flight each
// until the deadline. Latencies go to the job's own histogram; nothing is shared between cores.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bdev/descriptor.h"
#include "core/dma_buf.h"
#include "core/latency_histogram.h"
#include "core/task.h"
#include "perf/workload.h"

namespace ms::perf {

struct JobResult {
    uint64_t reads = 0;
    uint64_t writes = 0;
    uint64_t bytes = 0;
    uint64_t errors = 0;      // failed I/Os
    uint64_t mismatches = 0;  // --verify: reads that did not return what was written
    std::chrono::nanoseconds elapsed{0};
    std::unique_ptr<LatencyHistogram> latency = std::make_unique<LatencyHistogram>();
    std::string first_failure;  // the first error or mismatch, for humans

    uint64_t ios() const { return reads + writes; }
    bool failed() const { return errors != 0 || mismatches != 0; }
};

class Job {
   public:
    // `index` of this job among those on the same device (spreads sequential streams); `seed`
    // picks the random offsets, `pattern_seed` (the same for every job of a run) the data that
    // --verify writes, so that two jobs writing one offset write the same bytes.
    static Result<std::unique_ptr<Job>> create(Descriptor& desc, const WorkloadSpec& spec, unsigned index,
                                               unsigned jobs_on_device, uint64_t seed, uint64_t pattern_seed);

    // Runs the workload on the calling reactor until the duration has passed (or an I/O
    // fails), then waits for the I/Os in flight. Call once.
    Task<void> run();

    const JobResult& result() const { return _result; }
    Descriptor& descriptor() { return _desc; }

   private:
    struct Slot {
        DmaBuf buf;
        DmaBuf verify_buf;  // --verify: what a read brings back
        iovec iov{};
        iovec verify_iov{};
    };

    Job(Descriptor& desc, const WorkloadSpec& spec, OffsetGenerator offsets, ReadWriteMix mix,
        uint64_t pattern_seed);

    Task<void> run_slot(Slot& slot);
    Task<void> run_verify_slot(Slot& slot);
    void slot_done();
    void fail(std::string what);

    Descriptor& _desc;
    WorkloadSpec _spec;
    uint64_t _blocks_per_io;
    OffsetGenerator _offsets;
    ReadWriteMix _mix;
    uint64_t _pattern_seed;
    std::vector<Slot> _slots;
    std::chrono::steady_clock::time_point _deadline;
    bool _stop = false;
    unsigned _running = 0;
    std::coroutine_handle<> _waiter;
    JobResult _result;
};

// Writes the whole device once, sequentially in large I/Os, so that a run reads real data and a
// memory device has all its pages before the clock starts. Runs on the calling reactor.
Task<Status> prefill(Descriptor& desc);

// Fills `buf` with the --verify pattern of the I/O at byte `offset`.
void fill_pattern(std::span<uint8_t> buf, uint64_t offset, uint64_t seed);

}  // namespace ms::perf
