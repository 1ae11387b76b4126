// Task<T>: a lazily started coroutine returning T. Awaiting a Task starts it and resumes the
// awaiter when it finishes, on the thread where it finished (a task may move to another
// reactor with switch_to). A task that finishes without suspending, on the thread that started
// it, hands control back by returning from the awaiter's await_suspend rather than by resuming
// the awaiter: chains of synchronous completions then never grow the stack, even where the
// compiler does not turn symmetric transfer into a tail call (GCC at -O0 or with ASan).
// Exceptions are not used on the data path: an escaping exception terminates.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/frame_pool.h"

namespace ms {

template <typename T = void>
class Task;

namespace detail {

struct PromiseBase;

// The task this thread is starting from an awaiter's await_suspend, and whether it has
// finished inside that call. Thread-local: a task that finishes on another thread must resume
// its awaiter there, not report back to the thread that started it.
struct InlineStart {
    PromiseBase* promise;
    bool finished;
};
inline constinit thread_local InlineStart* t_inline_start = nullptr;

struct PromiseBase {
    std::coroutine_handle<> continuation = std::noop_coroutine();

    static void* operator new(std::size_t n) { return frame_alloc(n); }
    static void operator delete(void* p, std::size_t n) noexcept { frame_free(p, n); }

    std::suspend_always initial_suspend() noexcept { return {}; }

    struct FinalAwaiter {
        bool await_ready() noexcept { return false; }
        template <typename P>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
            PromiseBase& p = h.promise();
            if (t_inline_start != nullptr && t_inline_start->promise == &p) {
                t_inline_start->finished = true;  // the awaiter continues when start returns
                return std::noop_coroutine();
            }
            return p.continuation;
        }
        void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }

    [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
};

template <typename T>
struct Promise : PromiseBase {
    std::optional<T> value;

    Task<T> get_return_object() noexcept;
    template <typename U>
    void return_value(U&& v) {
        value.emplace(std::forward<U>(v));
    }
    T take() { return std::move(*value); }
};

template <>
struct Promise<void> : PromiseBase {
    Task<void> get_return_object() noexcept;
    void return_void() noexcept {}
    void take() {}
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
   public:
    using promise_type = detail::Promise<T>;
    using Handle = std::coroutine_handle<promise_type>;

    Task() = default;
    explicit Task(Handle h) : _h(h) {}
    Task(Task&& o) noexcept : _h(std::exchange(o._h, {})) {}
    Task& operator=(Task&& o) noexcept {
        if (this != &o) {
            reset();
            _h = std::exchange(o._h, {});
        }
        return *this;
    }
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task() { reset(); }

    bool valid() const { return static_cast<bool>(_h); }
    bool done() const { return _h && _h.done(); }

    struct Awaiter {
        Handle h;
        bool await_ready() noexcept { return false; }
        // Runs the task until it finishes or suspends; false (continue at once) if it finished
        // here. Touches nothing but locals after resume(): once the task has suspended, another
        // thread may finish it and run the awaiter.
        bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
            Handle task = h;
            task.promise().continuation = awaiting;
            detail::InlineStart start{&task.promise(), false};
            detail::InlineStart* outer = std::exchange(detail::t_inline_start, &start);
            task.resume();
            detail::t_inline_start = outer;
            return !start.finished;
        }
        T await_resume() { return h.promise().take(); }
    };
    Awaiter operator co_await() && noexcept { return Awaiter{_h}; }
    Awaiter operator co_await() & noexcept { return Awaiter{_h}; }

    // Used by the reactor to drive a task it owns.
    Handle handle() const { return _h; }
    Handle release() { return std::exchange(_h, {}); }

   private:
    void reset() {
        if (_h) {
            _h.destroy();
            _h = {};
        }
    }
    Handle _h;
};

namespace detail {
template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
    return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
    return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

// A task that is already finished with `value`; lets a non-coroutine function return early.
template <typename T>
Task<T> ready(T value) {
    co_return value;
}

}  // namespace ms
