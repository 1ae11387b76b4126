#include "mayastor/environment.h"

#include <atomic>
#include <exception>
#include <utility>
#include <vector>

#include "bdev/device_registry.h"
#include "core/cpu_list.h"
#include "core/log.h"
#include "nexus/nexus.h"

namespace ms {
namespace {

// Set while an Environment runs: the registries it drives are process-wide.
std::atomic<bool> g_running{false};

Result<std::vector<int>> parse_cores(const std::string& cores) {
    if (cores.empty()) {
        return std::vector<int>{};
    }
    if (cores.starts_with("0x") || cores.starts_with("0X")) {
        return parse_core_mask(cores);
    }
    return parse_core_list(cores);
}

// Takes every device out of the registry that nobody holds, and shuts it down. Repeats while
// it makes progress: a device over another (error:///) releases its base when it goes.
Task<void> destroy_unused_devices() {
    auto& registry = DeviceRegistry::instance();
    for (bool progress = true; progress;) {
        progress = false;
        for (const auto& dev : registry.list()) {
            auto removed = registry.remove(dev->name());
            if (removed) {
                co_await (*removed)->shutdown();
                progress = true;
            }
        }
    }
    for (const auto& dev : registry.list()) {
        log::warn("environment stop: device '{}' is still {}", dev->name(),
                  dev->open_count() > 0 ? "open" : "claimed by " + dev->claimed_by());
    }
}

Task<void> tear_down() {
    co_await nexus::NexusRegistry::instance().shutdown_all();
    co_await destroy_unused_devices();
}

}  // namespace

Result<Environment> Environment::start(EnvironmentOptions options) {
    auto cpus = parse_cores(options.cores);
    if (!cpus) {
        return std::unexpected(cpus.error());
    }
    if (Status s = log::set_level(options.log_level); !s) {
        return std::unexpected(s.error());
    }
    if (g_running.exchange(true)) {
        return make_error(EBUSY, "an Environment is already running in this process");
    }
    RuntimeOptions ro;
    ro.cpus = std::move(*cpus);
    ro.reactor.busy_poll = options.busy_poll;
    try {
        return Environment(std::make_unique<Runtime>(std::move(ro)));
    } catch (const std::exception& e) {
        g_running = false;
        return errorf(EINVAL, "cannot start the reactors on cores '{}': {}", options.cores, e.what());
    }
}

Environment::Environment(Environment&& o) noexcept : _runtime(std::move(o._runtime)) {}

Environment& Environment::operator=(Environment&& o) noexcept {
    if (this != &o) {
        stop();
        _runtime = std::move(o._runtime);
    }
    return *this;
}

Environment::~Environment() {
    stop();
}

std::size_t Environment::size() const {
    return _runtime ? _runtime->size() : 0;
}

Reactor& Environment::reactor(std::size_t i) {
    return _runtime->reactor(i);
}

void Environment::stop() {
    if (!_runtime) {
        return;
    }
    run_on(_runtime->reactor(0), [] { return tear_down(); });
    _runtime->stop();
    _runtime.reset();
    g_running = false;
}

}  // namespace ms
