// Waiting on one reactor: a queue of suspended coroutines woken together, and a mutex for
// coroutines. Not thread-safe: each queue belongs to one reactor (a pool's, a nexus channel's,
// a nexus's home) and everything that waits on it runs there.
#pragma once

#include <coroutine>
#include <utility>
#include <vector>

#include "core/task.h"

namespace ms {

class WaitQueue {
   public:
    struct Awaiter {
        WaitQueue& q;
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { q._waiters.push_back(h); }
        void await_resume() noexcept {}
    };
    // Suspends until the next wake_all(). Callers re-check their condition in a loop.
    Awaiter wait() { return Awaiter{*this}; }
    // Resumes every waiter on a later turn of the current reactor's loop. Cheap when nobody
    // waits (the data path calls it after every I/O that may have been the last).
    void wake_all() {
        if (!_waiters.empty()) {
            resume_all();
        }
    }
    bool empty() const { return _waiters.empty(); }

   private:
    void resume_all();
    std::vector<std::coroutine_handle<>> _waiters;
};

class AsyncMutex {
   public:
    class Guard {
       public:
        Guard() = default;
        explicit Guard(AsyncMutex* m) : _m(m) {}
        Guard(Guard&& o) noexcept : _m(std::exchange(o._m, nullptr)) {}
        Guard& operator=(Guard&& o) noexcept {
            if (this != &o) {
                release();
                _m = std::exchange(o._m, nullptr);
            }
            return *this;
        }
        ~Guard() { release(); }
        void release() {
            if (_m != nullptr) {
                std::exchange(_m, nullptr)->unlock();
            }
        }

       private:
        AsyncMutex* _m = nullptr;
    };

    Task<Guard> lock();
    bool locked() const { return _locked; }

   private:
    void unlock() {
        _locked = false;
        _queue.wake_all();
    }
    bool _locked = false;
    WaitQueue _queue;
};

}  // namespace ms
