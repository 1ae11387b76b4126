// The tasks of a protocol server still running (accept loops, connections, timers), for its
// management calls (any thread) to wait on: until none is left (shutdown), or until a condition
// that a finishing task or notify() may make true (an export's connections all gone).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace ms::target {

class LiveTasks {
   public:
    void started() {
        std::lock_guard lk(_mu);
        ++_live;
    }
    void finished() {
        std::lock_guard lk(_mu);
        --_live;
        _cv.notify_all();
    }
    // Wakes the waiters: a condition they wait for may have changed.
    void notify() {
        std::lock_guard lk(_mu);
        _cv.notify_all();
    }
    void wait_idle() {
        std::unique_lock lk(_mu);
        _cv.wait(lk, [&] { return _live == 0; });
    }
    // Waits until `done()` or `timeout`; returns done().
    template <typename Pred>
    bool wait_for(std::chrono::milliseconds timeout, Pred done) {
        std::unique_lock lk(_mu);
        return _cv.wait_for(lk, timeout, done);
    }

   private:
    std::mutex _mu;
    std::condition_variable _cv;
    int _live = 0;
};

}  // namespace ms::target
