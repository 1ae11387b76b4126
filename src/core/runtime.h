// The set of reactors of a process: one thread per configured core, each pinned to its core.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "core/reactor.h"

namespace ms {

struct RuntimeOptions {
    // CPUs to run reactors on, one reactor each; empty = one reactor, not pinned.
    std::vector<int> cpus;
    ReactorOptions reactor;
};

class Runtime {
   public:
    // Starts the reactor threads; returns once every reactor is ready.
    explicit Runtime(RuntimeOptions options);
    // Stops the reactors and waits for them (see stop()).
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    std::size_t size() const { return _reactors.size(); }
    Reactor& reactor(std::size_t i) { return *_reactors.at(i); }
    // Pinned CPU of reactor i, or -1.
    int cpu(std::size_t i) const;

    // Asks every reactor to stop and joins their threads. Reactors finish all I/O in flight
    // and every spawned task first. Idempotent.
    void stop();

   private:
    std::vector<std::unique_ptr<Reactor>> _reactors;
    std::vector<std::thread> _threads;
    std::vector<int> _cpus;
    bool _stopped = false;
};

namespace detail {
template <typename T>
struct TaskValue;
template <typename T>
struct TaskValue<Task<T>> {
    using type = T;
};

// `make` is kept in this frame: a coroutine lambda's captures live in the lambda object, which
// must outlive the task it started.
template <typename T, typename F>
Task<void> fulfil(F make, std::promise<T>* p) {
    if constexpr (std::is_void_v<T>) {
        co_await make();
        p->set_value();
    } else {
        p->set_value(co_await make());
    }
}
}  // namespace detail

// Run a task on reactor `r` from a non-reactor thread and block until it finishes.
template <typename F>
auto run_on(Reactor& r, F make_task) -> typename detail::TaskValue<decltype(make_task())>::type {
    using T = typename detail::TaskValue<decltype(make_task())>::type;
    std::promise<T> p;
    auto fut = p.get_future();
    r.post(
        [&r, &p, make = std::move(make_task)]() mutable { r.spawn(detail::fulfil<T>(std::move(make), &p)); });
    return fut.get();
}

}  // namespace ms
