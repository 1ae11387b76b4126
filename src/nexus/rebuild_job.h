// A rebuild job: copies a nexus's data from a healthy source child into a destination child in
// segments, several in flight, each under an LBA range lock that the nexus provides (writes of
// the application to that range wait while it is copied, so a copy never overwrites newer data
// with stale data). Application writes keep going to the destination during the rebuild, so
// regions already copied stay current. A full job copies every block; a partial job copies the
// dirty regions of a write-intent log only. An optional rate limit keeps application latency.
//
// A job runs on the reactor that started it (the nexus's home); control calls (pause, resume,
// stop) are made there too. state() and stats() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "bdev/descriptor.h"
#include "core/status.h"
#include "core/task.h"
#include "nexus/nexus.h"
#include "nexus/write_intent_log.h"

namespace ms::nexus {

// Held while one segment is copied; releasing it (destruction) lets waiting writes go.
class RangeLock {
   public:
    virtual ~RangeLock() = default;
};

struct RebuildTarget {
    // Opened read-write by the nexus; they outlive the job.
    Descriptor* source = nullptr;
    Descriptor* destination = nullptr;
    uint64_t num_blocks = 0;  // the nexus's size in blocks (children may be larger)
    uint32_t block_size = 0;
    // Locks [offset_blocks, offset_blocks + num_blocks) of the nexus against writes; waits for
    // writes in flight in the range to finish first.
    std::function<Task<std::unique_ptr<RangeLock>>(uint64_t offset_blocks, uint64_t num_blocks)> lock_range;
    // Partial rebuild: copy only these regions (null = full rebuild). Read once, when the job is
    // constructed (marks made later are not copied); not changed by the job.
    std::shared_ptr<const WriteIntentLog> regions;
};

class RebuildJob {
   public:
    // segment_bytes is rounded down to whole blocks (at least one); max_tasks 0 counts as 1.
    RebuildJob(RebuildTarget target, RebuildOptions options);
    // Requires the job ended (wait() completed) or never started. A job destroyed while running
    // is stopped and its copies in flight finish on their own, without on_done; the target's
    // descriptors and lock_range must outlive them.
    ~RebuildJob();
    RebuildJob(const RebuildJob&) = delete;
    RebuildJob& operator=(const RebuildJob&) = delete;

    // Starts copying on the current reactor. `on_done` runs there once, when the job ends
    // (Completed, Failed with the error, or Stopped), after its last copy has finished; never
    // inside start(). It may destroy the job. Completed follows a flush of the destination (a
    // failed flush fails the job). A second start() does nothing.
    void start(std::function<void(RebuildState, const Error*)> on_done);
    // Paused: copies in flight finish, no new one starts. Not running: EALREADY.
    Status pause();
    // Not paused: EALREADY.
    Status resume();
    // Ends the job (Stopped) once the copies in flight have finished; Completed instead if every
    // segment had already been taken. Idempotent. Before start(): Stopped at once. A read or
    // write error ends the job the same way, as Failed.
    void stop();
    // Completes when the job has ended (on_done has run), with the final state; at once if it
    // has ended or was never started (then with its current state).
    Task<RebuildState> wait();

    RebuildState state() const { return _state.load(std::memory_order_acquire); }
    RebuildStats stats() const;

   private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
    std::atomic<RebuildState> _state{RebuildState::Init};
};

}  // namespace ms::nexus
