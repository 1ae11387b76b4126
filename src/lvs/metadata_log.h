// The writer of a pool's metadata: appends batches of records to the log with group commit
// and writes checkpoint images when the log is full (docs/lvs-format.md, "Updates").
//
// commit(records) returns once the records are durable and applied to the state: callers
// queue their records, and one writer task at a time takes everything queued into one batch:
// flush the base device (so data written before the records is durable first), write the
// batch's pages, flush, apply the records, wake the callers. Callers that queue while a batch
// is being written share the next one: concurrent thin first writes share their flushes.
//
// On the pool's reactor only. A failed metadata write leaves the log's tail unknown, so the
// pool's metadata goes read-only (every later commit fails) until it is imported again.
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "bdev/descriptor.h"
#include "core/task.h"
#include "core/async.h"
#include "lvs/format.h"
#include "lvs/pool_state.h"
#include "lvs/record.h"

namespace ms::lvs {

struct MetadataLogStats {
    uint64_t batches = 0;      // log writes
    uint64_t records = 0;      // records in them
    uint64_t checkpoints = 0;  // images written
    uint64_t flushes = 0;      // flushes of the base device
};

class MetadataLog {
   public:
    // `state_mutex` is held while records are applied (readers on other threads take it).
    MetadataLog(Descriptor& base, const Superblock& sb, PoolState& state, std::mutex& state_mutex,
                unsigned image_area, uint64_t next_seq, uint64_t tail);

    // Makes `records` durable (as one batch, possibly with others) and applies them in order.
    // `after_data`: the records publish data written before (zeroed or copied clusters), so
    // the base is flushed before they are written.
    Task<Status> commit(std::vector<Record> records, bool after_data);
    Task<Status> commit(Record record, bool after_data) {
        std::vector<Record> one;
        one.push_back(std::move(record));
        return commit(std::move(one), after_data);
    }
    // Writes the state as the image in the area not in use and restarts the log after it.
    Task<Status> checkpoint();
    // Returns once no batch is queued or being written.
    Task<void> drain();

    // Set after a failed metadata write; every later commit fails with it.
    const std::optional<Error>& failure() const { return _failure; }
    const MetadataLogStats& stats() const { return _stats; }
    uint64_t next_seq() const { return _next_seq; }
    uint64_t tail() const { return _tail; }
    unsigned image_area() const { return _image_area; }

   private:
    struct Pending {
        std::vector<Record> records;
        bool after_data = false;
        std::size_t bytes = 0;
        Status result;
        bool done = false;
        std::coroutine_handle<> waiter;
    };
    struct Wait {
        Pending& p;
        bool await_ready() noexcept { return p.done; }
        void await_suspend(std::coroutine_handle<> h) noexcept { p.waiter = h; }
        void await_resume() noexcept {}
    };

    Task<void> run_writer();
    Task<Status> write_batch(std::vector<Pending*>& batch);
    Task<Status> write_image();
    Status fail(Error e);

    Descriptor& _base;
    const Superblock& _sb;
    PoolState& _state;
    std::mutex& _state_mutex;
    unsigned _image_area;
    uint64_t _next_seq;
    uint64_t _tail;
    std::deque<Pending*> _queue;
    bool _writing = false;
    WaitQueue _idle;
    std::optional<Error> _failure;
    MetadataLogStats _stats;
};

}  // namespace ms::lvs
