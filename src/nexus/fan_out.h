// all_of: runs N tasks concurrently on the current reactor and resumes the awaiting coroutine
// once every one has finished, with each result stored in its slot. The only allocation is
// the coroutine frames (from the per-thread frame pool): one small runner per task. A task
// that ends on another reactor is brought back before it is counted, so the count needs no
// atomics.
//
//   std::array<Status, 4> results;
//   co_await all_of(std::span(results).first(n), [&](std::size_t i) { return write_to(i); });
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <span>

#include "core/frame_pool.h"
#include "core/reactor.h"
#include "core/task.h"

namespace ms::nexus {

namespace detail {

struct Join {
    Reactor* home = nullptr;
    std::size_t pending = 0;
    std::coroutine_handle<> waiter;
};

// A runner frees its own frame when it ends and hands control to the waiter if it was last.
struct JoinRunner {
    struct promise_type {
        Join* join = nullptr;

        JoinRunner get_return_object() noexcept {
            return {std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct Final {
            bool await_ready() noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                Join* j = h.promise().join;
                h.destroy();
                if (--j->pending == 0) {
                    return j->waiter;
                }
                return std::noop_coroutine();
            }
            void await_resume() noexcept {}
        };
        Final final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
        static void* operator new(std::size_t n) { return ms::detail::frame_alloc(n); }
        static void operator delete(void* p, std::size_t n) noexcept { ms::detail::frame_free(p, n); }
    };
    std::coroutine_handle<promise_type> h;
};

template <typename T>
JoinRunner run_joined(Task<T> task, T* out, Reactor* home) {
    *out = co_await std::move(task);
    co_await switch_to(*home);
}

}  // namespace detail

template <typename T, typename Make>
class AllOf {
   public:
    AllOf(std::span<T> results, Make make) : _results(results), _make(std::move(make)) {}

    bool await_ready() noexcept { return _results.empty(); }
    // Starts every task; one extra count held while starting, so that tasks finishing inline
    // never resume the awaiter before it has suspended. False (continue at once) if all
    // finished here.
    bool await_suspend(std::coroutine_handle<> h) {
        _join.home = Reactor::current();
        _join.pending = _results.size() + 1;
        _join.waiter = h;
        for (std::size_t i = 0; i < _results.size(); ++i) {
            detail::JoinRunner r = detail::run_joined<T>(_make(i), &_results[i], _join.home);
            r.h.promise().join = &_join;
            r.h.resume();
        }
        return --_join.pending != 0;
    }
    void await_resume() noexcept {}

   private:
    std::span<T> _results;
    Make _make;
    detail::Join _join;
};

// `make(i)` returns the Task<T> for slot i; it is called while starting, not kept.
template <typename T, typename Make>
AllOf<T, Make> all_of(std::span<T> results, Make make) {
    return AllOf<T, Make>(results, std::move(make));
}

}  // namespace ms::nexus
