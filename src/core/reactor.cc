#include "core/reactor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <stdexcept>

#include "core/log.h"

namespace ms {
namespace {

thread_local Reactor* t_current = nullptr;

// user_data of SQEs whose completion nobody waits for (cancel requests).
constexpr uint64_t kUntracked = 0;

}  // namespace

// The multishot poll on the wake-up eventfd: lets other threads end a sleep in the kernel.
class Reactor::WakeCompletion final : public Completion {
   public:
    explicit WakeCompletion(Reactor& r) : _r(r) {}
    void complete(int, uint32_t flags) override {
        uint64_t v;
        while (::read(_r._wake_fd, &v, sizeof v) == sizeof v) {
        }
        if ((flags & IORING_CQE_F_MORE) == 0) {
            _r._wake_armed = false;
            _r.arm_wakeup();
        }
    }

   private:
    Reactor& _r;
};

class Reactor::FnMessage final : public Message {
   public:
    explicit FnMessage(std::function<void()> fn) : _fn(std::move(fn)) {}
    void run() override {
        auto fn = std::move(_fn);
        delete this;
        fn();
    }

   private:
    std::function<void()> _fn;
};

// A detached task: owns the Task it runs and frees itself when that task finishes.
struct DetachedTaskPromise;
struct DetachedTask {
    using promise_type = DetachedTaskPromise;
    std::coroutine_handle<DetachedTaskPromise> h;
};
struct DetachedTaskPromise {
    DetachedTask get_return_object() noexcept {
        return {std::coroutine_handle<DetachedTaskPromise>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
    static void* operator new(std::size_t n) { return detail::frame_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { detail::frame_free(p, n); }
};

namespace {
// The task may end on another reactor (switch_to): the count belongs to the spawning reactor,
// which may be asleep waiting for it, so come back before counting down.
DetachedTask run_detached(Reactor* home, uint64_t* live, Task<void> t) {
    co_await std::move(t);
    co_await switch_to(*home);
    --*live;
}
}  // namespace

Reactor::Reactor(unsigned id, ReactorOptions options) : _id(id), _options(options) {
    if (t_current != nullptr) {
        throw std::logic_error("a thread can own only one reactor");
    }
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(options.queue_depth, &_ring, &p);
    if (rc < 0) {
        // Older kernels: plain ring.
        p = {};
        rc = io_uring_queue_init_params(options.queue_depth, &_ring, &p);
    }
    if (rc < 0) {
        throw std::runtime_error(std::string("io_uring_queue_init: ") + std::strerror(-rc));
    }
    _wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (_wake_fd < 0) {
        io_uring_queue_exit(&_ring);
        throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    }
    _wake_completion = new WakeCompletion(*this);
    t_current = this;
    arm_wakeup();
}

Reactor::~Reactor() {
    io_uring_queue_exit(&_ring);
    ::close(_wake_fd);
    delete _wake_completion;
    if (t_current == this) {
        t_current = nullptr;
    }
}

Reactor* Reactor::current() noexcept {
    return t_current;
}

void Reactor::arm_wakeup() {
    if (_wake_armed) {
        return;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
    while (sqe == nullptr) {
        io_uring_submit(&_ring);
        sqe = io_uring_get_sqe(&_ring);
    }
    io_uring_prep_poll_multishot(sqe, _wake_fd, POLLIN);
    io_uring_sqe_set_data(sqe, static_cast<Completion*>(_wake_completion));
    _wake_armed = true;
}

io_uring_sqe* Reactor::prepare(Completion* c) {
    io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
    while (sqe == nullptr) {
        io_uring_submit(&_ring);
        sqe = io_uring_get_sqe(&_ring);
    }
    io_uring_sqe_set_data(sqe, c);
    ++_inflight;
    return sqe;
}

io_uring_sqe* Reactor::prepare_untracked() {
    io_uring_sqe* sqe = io_uring_get_sqe(&_ring);
    while (sqe == nullptr) {
        io_uring_submit(&_ring);
        sqe = io_uring_get_sqe(&_ring);
    }
    io_uring_sqe_set_data64(sqe, kUntracked);
    return sqe;
}

void Reactor::register_cancellable(CancellableOp* op) {
    op->prev_cancellable = nullptr;
    op->next_cancellable = _cancellables;
    if (_cancellables != nullptr) {
        _cancellables->prev_cancellable = op;
    }
    _cancellables = op;
}

void Reactor::unregister_cancellable(CancellableOp* op) {
    if (op->prev_cancellable != nullptr) {
        op->prev_cancellable->next_cancellable = op->next_cancellable;
    } else {
        _cancellables = op->next_cancellable;
    }
    if (op->next_cancellable != nullptr) {
        op->next_cancellable->prev_cancellable = op->prev_cancellable;
    }
    op->prev_cancellable = op->next_cancellable = nullptr;
}

void Reactor::cancel(Completion* c) {
    io_uring_sqe* sqe = prepare_untracked();
    io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(c), 0);
}

void Reactor::cancel_all_cancellables() {
    for (CancellableOp* op = _cancellables; op != nullptr; op = op->next_cancellable) {
        cancel(op);
    }
}

void Reactor::post(Message* m) {
    Message* head = _remote.load(std::memory_order_relaxed);
    do {
        m->next_message = head;
    } while (!_remote.compare_exchange_weak(head, m, std::memory_order_seq_cst, std::memory_order_relaxed));
    if (_sleeping.exchange(false, std::memory_order_seq_cst)) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(_wake_fd, &one, sizeof one);
    }
}

void Reactor::post(std::function<void()> fn) {
    post(new FnMessage(std::move(fn)));
}

void Reactor::spawn(Task<void> t) {
    ++_live_tasks;
    DetachedTask d = run_detached(this, &_live_tasks, std::move(t));
    _ready.push_back(d.h);
}

void Reactor::request_stop() {
    _stop_requested.store(true, std::memory_order_seq_cst);
    if (_sleeping.exchange(false, std::memory_order_seq_cst)) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(_wake_fd, &one, sizeof one);
    }
}

bool Reactor::drain_messages() {
    Message* list = _remote.exchange(nullptr, std::memory_order_acquire);
    if (list == nullptr) {
        return false;
    }
    // The stack holds the newest first: reverse it so messages run in the order sent.
    Message* fifo = nullptr;
    while (list != nullptr) {
        Message* next = list->next_message;
        list->next_message = fifo;
        fifo = list;
        list = next;
    }
    while (fifo != nullptr) {
        Message* next = fifo->next_message;
        ++_stats.messages;
        fifo->run();
        fifo = next;
    }
    return true;
}

bool Reactor::run_ready() {
    if (_ready.empty()) {
        return false;
    }
    // Only what is ready now: work scheduled while running waits for the next turn, so that
    // completions and messages are not starved by a task that keeps yielding.
    _resuming.swap(_ready);
    for (std::coroutine_handle<> h : _resuming) {
        h.resume();
    }
    _resuming.clear();
    return true;
}

bool Reactor::process_completions() {
    std::array<io_uring_cqe*, 256> batch;
    struct Done {
        Completion* c;
        int res;
        uint32_t flags;
    };
    std::array<Done, 256> done;
    bool any = false;
    for (;;) {
        unsigned n = io_uring_peek_batch_cqe(&_ring, batch.data(), batch.size());
        if (n == 0) {
            return any;
        }
        any = true;
        // Copy and release the CQ slots first: completions may submit more work.
        for (unsigned i = 0; i < n; ++i) {
            done[i] = {reinterpret_cast<Completion*>(io_uring_cqe_get_data(batch[i])), batch[i]->res,
                       batch[i]->flags};
        }
        io_uring_cq_advance(&_ring, n);
        for (unsigned i = 0; i < n; ++i) {
            Completion* c = done[i].c;
            if (c == nullptr) {
                continue;
            }
            if (c != _wake_completion && (done[i].flags & IORING_CQE_F_MORE) == 0) {
                --_inflight;
            }
            ++_stats.completions;
            c->complete(done[i].res, done[i].flags);
        }
    }
}

bool Reactor::finished() const {
    return _inflight == 0 && _live_tasks == 0 && _ready.empty() &&
           _remote.load(std::memory_order_acquire) == nullptr;
}

void Reactor::sleep() {
    _sleeping.store(true, std::memory_order_seq_cst);
    if (_remote.load(std::memory_order_seq_cst) != nullptr ||
        _stop_requested.load(std::memory_order_seq_cst) != _stopping) {
        _sleeping.store(false, std::memory_order_relaxed);
        return;
    }
    ++_stats.sleeps;
    int rc = io_uring_submit_and_wait(&_ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
        log::error("reactor {}: io_uring_submit_and_wait: {}", _id, std::strerror(-rc));
    }
    _sleeping.store(false, std::memory_order_relaxed);
}

void Reactor::run() {
    using clock = std::chrono::steady_clock;
    auto last_active = clock::now();
    for (;;) {
        ++_stats.loops;
        if (!_stopping && _stop_requested.load(std::memory_order_acquire)) {
            _stopping = true;
            cancel_all_cancellables();
        }
        bool active = drain_messages();
        active |= run_ready();
        active |= process_completions();
        if (_stopping && finished()) {
            break;
        }
        if (active || !_ready.empty()) {
            if (io_uring_sq_ready(&_ring) > 0 || _inflight > 0) {
                io_uring_submit_and_get_events(&_ring);
            }
            if (_options.busy_poll.count() > 0) {
                last_active = clock::now();
            }
            continue;
        }
        if (_options.busy_poll.count() > 0 && clock::now() - last_active < _options.busy_poll) {
            io_uring_submit_and_get_events(&_ring);
            continue;
        }
        sleep();
    }
    io_uring_submit(&_ring);
}

namespace {
class SleepOp final : public CancellableOp {
   public:
    explicit SleepOp(std::chrono::nanoseconds d) {
        auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
        _ts.tv_sec = s.count();
        _ts.tv_nsec = (d - s).count();
    }
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
        io_uring_prep_timeout(r->prepare(this), &_ts, 0, 0);
    }
    int await_resume() noexcept { return _res; }
    void complete(int res, uint32_t) override {
        Reactor::current()->unregister_cancellable(this);
        _res = res;
        _h.resume();
    }

   private:
    __kernel_timespec _ts{};
    std::coroutine_handle<> _h;
    int _res = 0;
};
}  // namespace

Task<bool> sleep_for(std::chrono::nanoseconds d) {
    int res = co_await SleepOp(d);
    co_return res == -ETIME;
}

}  // namespace ms
