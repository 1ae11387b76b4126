// The store's worker thread: blocking work (fsync, a network round trip) runs here, one job at
// a time in submission order, and the coroutine that awaited it resumes on the reactor it came
// from. An idle worker sleeps on a condition variable: it costs nothing.
#pragma once

#include <condition_variable>
#include <coroutine>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "core/reactor.h"

namespace ms::store {

class StoreWorker {
   public:
    // `name` names the thread (at most 15 characters are kept).
    explicit StoreWorker(std::string name);
    // Runs every job already submitted, then joins the thread.
    ~StoreWorker();
    StoreWorker(const StoreWorker&) = delete;
    StoreWorker& operator=(const StoreWorker&) = delete;

    // Any thread: queue `job` to run on the worker thread.
    void submit(std::function<void()> job);

    // Awaitable: `T v = co_await worker.call<T>(fn);` runs fn on the worker thread and resumes
    // the caller on its reactor. Off-reactor (no reactor owns the calling thread), fn runs
    // inline, on the caller's thread, after the jobs already queued.
    template <typename T>
    class Call;
    template <typename T, typename F>
    Call<T> call(F fn) {
        return Call<T>(*this, std::function<T()>(std::move(fn)));
    }

    // Blocks until every job submitted before this call has run (for off-reactor callers).
    void drain();

   private:
    void loop();

    std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<std::function<void()>> _jobs;
    bool _stopping = false;
    std::thread _thread;
};

template <typename T>
class StoreWorker::Call final : public Message {
   public:
    Call(StoreWorker& worker, std::function<T()> fn) : _worker(worker), _fn(std::move(fn)) {}

    bool await_ready() {
        if (Reactor::current() != nullptr) {
            return false;
        }
        _worker.drain();
        _value.emplace(_fn());
        return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
        _h = h;
        _reactor = Reactor::current();
        // After post() the awaiting coroutine may run and destroy this object at once: the job
        // touches nothing of it afterwards.
        _worker.submit([this] {
            _value.emplace(_fn());
            _reactor->post(this);
        });
    }
    T await_resume() { return std::move(*_value); }
    void run() override { _h.resume(); }

   private:
    StoreWorker& _worker;
    std::function<T()> _fn;
    std::optional<T> _value;
    Reactor* _reactor = nullptr;
    std::coroutine_handle<> _h;
};

}  // namespace ms::store
