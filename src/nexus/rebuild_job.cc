// The rebuild job (see rebuild_job.h). The job's state lives in a Core shared by the job and
// its copy tasks: max_tasks worker coroutines on the home reactor each take the next segment
// from a cursor over the ranges to copy, and the last worker to leave ends the job. Everything
// but the counters read by stats()/state() is touched on the home reactor only.
#include "nexus/rebuild_job.h"

#include <sys/uio.h>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <optional>
#include <utility>
#include <vector>

#include "core/dma_buf.h"
#include "core/reactor.h"

namespace ms::nexus {

namespace {

using Clock = std::chrono::steady_clock;

// Longest single sleep of the rate limiter, so that stop() is not held up by a long wait.
constexpr auto kMaxThrottleSleep = std::chrono::milliseconds(20);

struct Segment {
    uint64_t offset_blocks = 0;
    uint64_t num_blocks = 0;
};

// Coroutines suspended until a later notify(); resumed on a later turn of the reactor loop.
class Waiters {
   public:
    struct Awaiter {
        Waiters& w;
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { w._handles.push_back(h); }
        void await_resume() noexcept {}
    };
    Awaiter wait() { return Awaiter{*this}; }
    void notify_all() {
        Reactor* r = Reactor::current();
        for (auto h : std::exchange(_handles, {})) {
            r->schedule(h);
        }
    }

   private:
    std::vector<std::coroutine_handle<>> _handles;
};

}  // namespace

struct RebuildJobCore {
    RebuildTarget target;
    RebuildOptions options;
    uint64_t segment_blocks = 1;
    uint32_t tasks = 1;

    // Ranges to copy [start, start + length) and the cursor over them.
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    std::size_t range_index = 0;
    uint64_t range_offset = 0;
    uint64_t blocks_total = 0;

    std::atomic<uint64_t> blocks_recovered{0};
    std::atomic<uint64_t> tasks_active{0};
    std::atomic<RebuildState> state{RebuildState::Init};
    // The job's copy of the state (what RebuildJob::state() reads); null once the job is gone.
    std::atomic<RebuildState>* job_state = nullptr;

    Reactor* home = nullptr;
    std::function<void(RebuildState, const Error*)> on_done;
    bool started = false;
    bool ended = false;
    bool stop_requested = false;
    bool stopped_before_start = false;
    std::optional<Error> error;
    uint32_t workers_alive = 0;
    Waiters resume_waiters;  // workers waiting while paused
    Waiters end_waiters;     // wait() callers

    // Rate limiter: the time at which the next copy may start (a token bucket as a virtual
    // clock; its depth is one segment, so an idle period gives at most one segment of burst).
    Clock::time_point next_slot{};

    void set_state(RebuildState s) {
        state.store(s, std::memory_order_release);
        if (job_state != nullptr) {
            job_state->store(s, std::memory_order_release);
        }
    }
    bool stopping() const { return stop_requested || error.has_value(); }
    bool exhausted() const { return range_index >= ranges.size(); }
    bool paused() const { return state.load(std::memory_order_relaxed) == RebuildState::Paused; }

    uint64_t peek_blocks() const {
        return std::min(segment_blocks, ranges[range_index].second - range_offset);
    }
    Segment next_segment() {
        const auto& [start, length] = ranges[range_index];
        Segment s{start + range_offset, std::min(segment_blocks, length - range_offset)};
        range_offset += s.num_blocks;
        if (range_offset >= length) {
            ++range_index;
            range_offset = 0;
        }
        return s;
    }
    void fail(Error e) {
        if (!error) {
            error = std::move(e);
        }
    }
};

namespace {

// Sleeps until `bytes` more may be copied under the rate limit. Returns early (false) if the
// job is stopping.
Task<bool> throttle(std::shared_ptr<RebuildJobCore> c, uint64_t bytes) {
    const uint64_t rate = c->options.rate_limit;
    auto cost = [rate](uint64_t b) {
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(static_cast<double>(b) / static_cast<double>(rate)));
    };
    const Clock::time_point now = Clock::now();
    const Clock::duration burst = cost(c->segment_blocks * c->target.block_size);
    const Clock::time_point slot = std::max(c->next_slot, now - burst);
    c->next_slot = slot + cost(bytes);
    for (Clock::time_point t = now; t < slot; t = Clock::now()) {
        if (c->stopping()) {
            co_return false;
        }
        auto d = std::min<Clock::duration>(slot - t, kMaxThrottleSleep);
        if (!co_await sleep_for(d)) {
            c->stop_requested = true;  // the reactor is shutting down: end the job
            co_return false;
        }
        co_await switch_to(*c->home);
    }
    co_return !c->stopping();
}

// Copies one segment under its range lock with the task's buffer.
Task<Status> copy_segment(RebuildJobCore& c, Segment seg, DmaBuf& buf) {
    std::unique_ptr<RangeLock> lock = co_await c.target.lock_range(seg.offset_blocks, seg.num_blocks);
    co_await switch_to(*c.home);
    const uint64_t offset = seg.offset_blocks * c.target.block_size;
    const iovec iov{buf.data(), static_cast<std::size_t>(seg.num_blocks * c.target.block_size)};
    Status st = co_await c.target.source->readv(offset, std::span<const iovec>(&iov, 1));
    co_await switch_to(*c.home);
    if (!st) {
        co_return errorf(st.error().code, "rebuild: reading blocks {}+{} of the source: {}",
                         seg.offset_blocks, seg.num_blocks, st.error().message);
    }
    st = co_await c.target.destination->writev(offset, std::span<const iovec>(&iov, 1));
    co_await switch_to(*c.home);
    if (!st) {
        co_return errorf(st.error().code, "rebuild: writing blocks {}+{} of the destination: {}",
                         seg.offset_blocks, seg.num_blocks, st.error().message);
    }
    co_return ok();
}

// Ends the job once the last worker has left: flushes the destination after a full copy, sets
// the final state, runs on_done, then wakes wait() callers.
Task<void> finish(std::shared_ptr<RebuildJobCore> c) {
    RebuildState final_state = RebuildState::Completed;
    if (c->error) {
        final_state = RebuildState::Failed;
    } else if (c->stop_requested && (!c->exhausted() || c->stopped_before_start)) {
        final_state = RebuildState::Stopped;
    } else {
        Status st = co_await c->target.destination->flush();
        co_await switch_to(*c->home);
        if (!st) {
            c->fail(Error{st.error().code, "rebuild: flushing the destination: " + st.error().message});
            final_state = RebuildState::Failed;
        }
    }
    c->ended = true;
    c->set_state(final_state);
    // Taken out first: on_done may destroy the job.
    auto done = std::exchange(c->on_done, nullptr);
    if (done) {
        done(final_state, c->error ? &*c->error : nullptr);
    }
    c->end_waiters.notify_all();
}

Task<void> worker(std::shared_ptr<RebuildJobCore> c) {
    DmaBuf buf;
    bool charged = false;  // the rate limiter has been paid for the next segment
    for (;;) {
        if (c->stopping() || c->exhausted()) {
            break;
        }
        if (c->paused()) {
            co_await c->resume_waiters.wait();
            continue;
        }
        if (c->options.rate_limit != 0 && !charged) {
            charged = co_await throttle(c, c->peek_blocks() * c->target.block_size);
            continue;  // state may have changed while sleeping
        }
        charged = false;
        if (buf.size() == 0) {
            // One buffer per task, aligned for both devices, reused for every segment.
            Descriptor* d = c->target.source;
            if (c->target.destination->device().geometry().buf_align > d->device().geometry().buf_align) {
                d = c->target.destination;
            }
            auto b = d->dma_malloc(static_cast<std::size_t>(c->segment_blocks * c->target.block_size));
            if (!b) {
                c->fail(Error{b.error().code, "rebuild: allocating a copy buffer: " + b.error().message});
                break;
            }
            buf = std::move(*b);
        }
        Segment seg = c->next_segment();
        c->tasks_active.fetch_add(1, std::memory_order_relaxed);
        Status st = co_await copy_segment(*c, seg, buf);
        c->tasks_active.fetch_sub(1, std::memory_order_relaxed);
        if (!st) {
            c->fail(std::move(st.error()));
            break;
        }
        c->blocks_recovered.fetch_add(seg.num_blocks, std::memory_order_relaxed);
    }
    if (--c->workers_alive == 0) {
        co_await finish(c);
    }
}

// Starts the workers on a later turn of the loop, so on_done never runs inside start().
Task<void> launch(std::shared_ptr<RebuildJobCore> c) {
    co_await yield();
    if (c->stop_requested) {  // stopped before the first copy: one worker ends the job
        c->workers_alive = 1;
        co_await worker(c);
        co_return;
    }
    c->workers_alive = c->tasks;
    for (uint32_t i = 0; i < c->tasks; ++i) {
        c->home->spawn(worker(c));
    }
}

}  // namespace

struct RebuildJob::Impl {
    std::shared_ptr<RebuildJobCore> core;
};

RebuildJob::RebuildJob(RebuildTarget target, RebuildOptions options) : _impl(std::make_unique<Impl>()) {
    auto c = std::make_shared<RebuildJobCore>();
    const uint32_t bs = std::max<uint32_t>(target.block_size, 1);
    c->segment_blocks = std::max<uint64_t>(options.segment_bytes / bs, 1);
    c->tasks = std::max<uint32_t>(options.max_tasks, 1);
    if (target.regions) {
        for (auto [start, length] : target.regions->dirty_ranges()) {
            if (start >= target.num_blocks) {
                break;
            }
            length = std::min(length, target.num_blocks - start);
            c->ranges.emplace_back(start, length);
            c->blocks_total += length;
        }
    } else if (target.num_blocks > 0) {
        c->ranges.emplace_back(0, target.num_blocks);
        c->blocks_total = target.num_blocks;
    }
    c->target = std::move(target);
    c->options = options;
    c->job_state = &_state;
    _impl->core = std::move(c);
}

RebuildJob::~RebuildJob() {
    auto& c = _impl->core;
    // Required: ended or never started. Should it still run, its tasks keep the core alive and
    // end on their own (without on_done); the descriptors must outlive them.
    c->job_state = nullptr;
    if (c->started && !c->ended) {
        c->on_done = nullptr;
        stop();
    }
}

void RebuildJob::start(std::function<void(RebuildState, const Error*)> on_done) {
    auto& c = _impl->core;
    if (c->started) {
        return;
    }
    c->started = true;
    c->ended = false;  // stopped before start: it ends (on_done) through launch
    c->home = Reactor::current();
    c->on_done = std::move(on_done);
    if (!c->stop_requested) {
        c->set_state(RebuildState::Running);
    }
    c->next_slot = Clock::now();
    c->home->spawn(launch(c));
}

Status RebuildJob::pause() {
    auto& c = _impl->core;
    if (c->ended || !c->started || c->stop_requested || c->state.load() != RebuildState::Running) {
        return make_error(EALREADY, "rebuild job is not running");
    }
    c->set_state(RebuildState::Paused);
    return ok();
}

Status RebuildJob::resume() {
    auto& c = _impl->core;
    if (c->ended || c->state.load() != RebuildState::Paused) {
        return make_error(EALREADY, "rebuild job is not paused");
    }
    c->set_state(RebuildState::Running);
    c->resume_waiters.notify_all();
    return ok();
}

void RebuildJob::stop() {
    auto& c = _impl->core;
    if (c->ended || c->stop_requested) {
        return;
    }
    c->stop_requested = true;
    if (!c->started) {
        // Never started: ends here; a later start() only reports it.
        c->stopped_before_start = true;
        c->ended = true;
        c->set_state(RebuildState::Stopped);
        return;
    }
    c->resume_waiters.notify_all();
}

Task<RebuildState> RebuildJob::wait() {
    std::shared_ptr<RebuildJobCore> c = _impl->core;  // the job may be destroyed by on_done
    if (c->started && !c->ended) {
        co_await c->end_waiters.wait();
    }
    co_return c->state.load(std::memory_order_acquire);
}

RebuildStats RebuildJob::stats() const {
    const auto& c = *_impl->core;
    RebuildStats s;
    s.blocks_total = c.blocks_total;
    s.blocks_recovered = c.blocks_recovered.load(std::memory_order_relaxed);
    s.progress = s.blocks_total == 0 ? 100 : s.blocks_recovered * 100 / s.blocks_total;
    s.segment_size_blks = c.segment_blocks;
    s.block_size = c.target.block_size;
    s.tasks_total = c.tasks;
    s.tasks_active = c.tasks_active.load(std::memory_order_relaxed);
    s.partial = static_cast<bool>(c.target.regions);
    return s;
}

}  // namespace ms::nexus
