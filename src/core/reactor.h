// The reactor: one thread, one io_uring. Disk I/O, sockets, timers and cross-core wake-ups all
// complete through the ring; coroutines waiting on them are resumed from the completion loop.
// A reactor with nothing to do sleeps in io_uring_enter.
#pragma once

#include <liburing.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/status.h"
#include "core/task.h"

namespace ms {

// Owner of an in-flight SQE: the SQE's user_data points at it, and its CQE is handed to it.
class Completion {
   public:
    virtual void complete(int res, uint32_t cqe_flags) = 0;

   protected:
    ~Completion() = default;
};

// A unit of work sent to a reactor from any thread (cross-core message). Intrusive: the
// sender owns the storage until run() is called on the target reactor.
class Message {
   public:
    virtual void run() = 0;
    Message* next_message = nullptr;

   protected:
    ~Message() = default;
};

// An operation that must not keep a stopping reactor alive (accept, socket receive, sleep):
// it is cancelled when the reactor stops. Block I/O is never cancellable: it completes.
class CancellableOp : public Completion {
   public:
    CancellableOp* prev_cancellable = nullptr;
    CancellableOp* next_cancellable = nullptr;

   protected:
    ~CancellableOp() = default;
};

struct ReactorOptions {
    unsigned queue_depth = 1024;
    // After activity, keep polling the ring this long before sleeping in the kernel.
    std::chrono::microseconds busy_poll{0};
};

struct ReactorStats {
    uint64_t loops = 0;
    uint64_t sleeps = 0;
    uint64_t completions = 0;
    uint64_t messages = 0;
};

class Reactor {
   public:
    Reactor(unsigned id, ReactorOptions options);
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    // The reactor that owns the calling thread, or nullptr off-reactor.
    static Reactor* current() noexcept;

    unsigned id() const { return _id; }

    // Runs the loop on the calling thread until stop is requested and everything in flight
    // (SQEs, spawned tasks, queued messages) has finished.
    void run();
    // Any thread. Cancels cancellable operations; lets I/O and tasks finish.
    void request_stop();
    bool stopping() const { return _stopping; }

    // Reactor thread only. An SQE whose completion goes to `c`; never null (flushes the SQ when
    // full). Counted as in flight until its last CQE.
    io_uring_sqe* prepare(Completion* c);
    // An SQE whose CQE is ignored (e.g. a cancel request). Not counted as in flight.
    io_uring_sqe* prepare_untracked();

    void register_cancellable(CancellableOp* op);
    void unregister_cancellable(CancellableOp* op);
    void cancel(Completion* c);

    // Any thread: run `m` on this reactor.
    void post(Message* m);
    // Any thread: run `fn` on this reactor (allocates; use post() on hot paths).
    void post(std::function<void()> fn);
    // Reactor thread: resume `h` on a later turn of the loop.
    void schedule(std::coroutine_handle<> h) { _ready.push_back(h); }
    // Reactor thread: start `t` detached; the reactor does not stop before it finishes.
    void spawn(Task<void> t);

    uint64_t inflight() const { return _inflight; }
    uint64_t live_tasks() const { return _live_tasks; }
    const ReactorStats& stats() const { return _stats; }
    io_uring& ring() { return _ring; }

   private:
    bool process_completions();
    bool drain_messages();
    bool run_ready();
    void arm_wakeup();
    void sleep();
    void cancel_all_cancellables();
    bool finished() const;

    unsigned _id;
    ReactorOptions _options;
    io_uring _ring{};
    int _wake_fd = -1;
    bool _wake_armed = false;
    uint64_t _inflight = 0;
    uint64_t _live_tasks = 0;
    bool _stopping = false;
    bool _cancelled_on_stop = false;
    std::atomic<bool> _stop_requested{false};
    std::atomic<bool> _sleeping{false};
    std::atomic<Message*> _remote{nullptr};
    // Coroutines to resume on the next turn, and the batch being resumed now: two vectors that
    // swap, so that a steady stream of yields allocates nothing.
    std::vector<std::coroutine_handle<>> _ready;
    std::vector<std::coroutine_handle<>> _resuming;
    CancellableOp* _cancellables = nullptr;
    ReactorStats _stats;
    class WakeCompletion;
    class FnMessage;
    WakeCompletion* _wake_completion = nullptr;
};

// Awaitable io_uring operation: `int res = co_await uring_op([&](io_uring_sqe* s) {...});`
// res is the CQE result (negative errno on failure).
template <typename Prep>
class UringOp final : public Completion {
   public:
    explicit UringOp(Prep prep) : _prep(std::move(prep)) {}
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
        _h = h;
        _prep(Reactor::current()->prepare(this));
    }
    int await_resume() noexcept { return _res; }
    void complete(int res, uint32_t) override {
        _res = res;
        _h.resume();
    }

   private:
    Prep _prep;
    std::coroutine_handle<> _h;
    int _res = 0;
};

template <typename Prep>
UringOp<Prep> uring_op(Prep prep) {
    return UringOp<Prep>(std::move(prep));
}

// Like UringOp, but cancelled (res = -ECANCELED) when the reactor stops, and completed at
// once with -ECANCELED if the reactor is already stopping.
template <typename Prep>
class CancellableUringOp final : public CancellableOp {
   public:
    explicit CancellableUringOp(Prep prep) : _prep(std::move(prep)) {}
    bool await_ready() noexcept {
        if (Reactor::current()->stopping()) {
            _res = -ECANCELED;
            return true;
        }
        return false;
    }
    void await_suspend(std::coroutine_handle<> h) {
        _h = h;
        Reactor* r = Reactor::current();
        r->register_cancellable(this);
        _prep(r->prepare(this));
    }
    int await_resume() noexcept { return _res; }
    void complete(int res, uint32_t) override {
        Reactor::current()->unregister_cancellable(this);
        _res = res;
        _h.resume();
    }

   private:
    Prep _prep;
    std::coroutine_handle<> _h;
    int _res = 0;
};

template <typename Prep>
CancellableUringOp<Prep> cancellable_uring_op(Prep prep) {
    return CancellableUringOp<Prep>(std::move(prep));
}

// Sleep on the current reactor. Returns false if the sleep was cut short by shutdown.
Task<bool> sleep_for(std::chrono::nanoseconds d);

// Move the awaiting coroutine to reactor `target` (a cross-core message, no allocation).
class SwitchTo final : public Message {
   public:
    explicit SwitchTo(Reactor& target) : _target(target) {}
    bool await_ready() noexcept { return Reactor::current() == &_target; }
    void await_suspend(std::coroutine_handle<> h) {
        _h = h;
        _target.post(this);
    }
    void await_resume() noexcept {}
    void run() override { _h.resume(); }

   private:
    Reactor& _target;
    std::coroutine_handle<> _h;
};

inline SwitchTo switch_to(Reactor& target) {
    return SwitchTo(target);
}

// Let other ready work on this reactor run before continuing.
struct Yield {
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { Reactor::current()->schedule(h); }
    void await_resume() noexcept {}
};
inline Yield yield() {
    return {};
}

}  // namespace ms
