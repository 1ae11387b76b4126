// ms::Environment: the data plane inside an application. It starts the reactors (one thread
// per selected core, each on its own io_uring) and runs the application's coroutines on them;
// `run` blocks the calling thread until its task has finished and returns the task's value.
// The device and nexus registries are process-wide, so one Environment runs at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "core/runtime.h"
#include "core/status.h"
#include "core/task.h"

namespace ms {

struct EnvironmentOptions {
    // Cores to run one reactor each on: a list ("0", "0,2-3") or a hex mask ("0x3"). Empty:
    // one reactor, not pinned.
    std::string cores;
    // "trace", "debug", "info", "warn", "error", "critical" or "off". A library is quiet by
    // default: only warnings and errors reach stderr.
    std::string log_level = "warn";
    // After activity, a reactor keeps polling its ring this long before it sleeps.
    std::chrono::microseconds busy_poll{0};
};

class Environment {
   public:
    // Starts the reactors. EINVAL: bad options; EBUSY: an Environment is already running.
    static Result<Environment> start(EnvironmentOptions options = {});

    Environment(Environment&& o) noexcept;
    Environment& operator=(Environment&& o) noexcept;
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;
    // stop()
    ~Environment();

    // Number of reactors, and reactor i (0 is where run() runs and where nexuses live).
    std::size_t size() const;
    Reactor& reactor(std::size_t i = 0);

    // Runs the task `make_task()` returns on reactor 0 and waits for it; returns its value.
    // Call from a thread that is not a reactor. `make_task` (and what it captures) lives until
    // the task has finished, so a coroutine lambda may capture by reference.
    template <typename F>
    auto run(F make_task) {
        return run_on(reactor(0), std::move(make_task));
    }
    // The same on reactor `i`.
    template <typename F>
    auto run_on_reactor(std::size_t i, F make_task) {
        return run_on(reactor(i), std::move(make_task));
    }

    // Closes the nexuses still there (as the daemon does at exit: a store, if one was set,
    // keeps their records), then destroys every device that is neither claimed nor open
    // (closing files, freeing memory), then stops the reactors. Close descriptors first.
    // Idempotent; the destructor calls it.
    void stop();

   private:
    explicit Environment(std::unique_ptr<Runtime> runtime) : _runtime(std::move(runtime)) {}
    std::unique_ptr<Runtime> _runtime;
};

}  // namespace ms
