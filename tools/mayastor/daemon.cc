#include "daemon.h"

#include <fmt/ranges.h>
#include <signal.h>

#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "bdev/device_factory.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/signals.h"

namespace ms::daemon {

namespace {

// Named, not braced at the call: GCC 12 rejects a braced list inside a co_await expression.
const std::initializer_list<int> kStopSignals{SIGTERM, SIGINT};

std::string signal_name(int sig) {
    switch (sig) {
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        default:
            return "signal " + std::to_string(sig);
    }
}

std::string join(const std::vector<std::string>& items) {
    std::string s;
    for (const auto& item : items) {
        s += (s.empty() ? "" : ", ") + item;
    }
    return s.empty() ? "none" : s;
}

// Newest first: a later device may stand on an earlier one (error:///e?base=m0 claims m0).
Task<bool> destroy_devices(std::vector<std::string> uris) {
    bool all_ok = true;
    for (auto it = uris.rbegin(); it != uris.rend(); ++it) {
        if (Status s = co_await destroy_device(*it); !s) {
            log::error("cannot destroy device '{}': {}", *it, s.error().message);
            all_ok = false;
        } else {
            log::debug("destroyed device '{}'", *it);
        }
    }
    co_return all_ok;
}

// Runs on reactor 0 for the daemon's whole life.
Task<int> serve(const DaemonOptions& o) {
    std::vector<std::string> created;
    std::vector<std::string> described;
    for (const auto& uri : o.devices) {
        auto dev = co_await create_device(uri);
        if (!dev) {
            log::error("cannot create device '{}': {}", uri, dev.error().message);
            co_await destroy_devices(created);
            co_return 1;
        }
        created.push_back(uri);
        const auto& d = **dev;
        described.push_back(fmt::format("{} ({}, {} x {} B, uuid {})", d.name(), d.product(), d.num_blocks(),
                                        d.block_size(), d.uuid().to_string()));
    }
    log::debug(
        "not served by this version: gRPC on {}, JSON-RPC on {}{}", o.grpc_endpoint.to_string(),
        o.json_rpc_socket,
        o.store_endpoint ? fmt::format(", store at {}", o.store_endpoint->to_string()) : std::string());
    log::info("mayastor ready: node {}, {} reactor(s) on cores {}, devices: {}", o.node_name, o.cores.size(),
              fmt::join(o.cores, ","), join(described));

    auto sig = co_await wait_for_signal(kStopSignals);
    if (sig) {
        log::info("received {}, shutting down", signal_name(*sig));
    } else {
        log::error("waiting for SIGTERM/SIGINT failed ({}), shutting down", sig.error().message);
    }
    bool destroyed = co_await destroy_devices(std::move(created));
    co_return (sig && destroyed) ? 0 : 1;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
    // Blocked before any thread starts, so that every thread inherits the mask and the signals
    // are only ever taken from reactor 0's signalfd.
    block_signals(kStopSignals);

    RuntimeOptions ro;
    ro.cpus = options.cores;
    ro.reactor.busy_poll = options.busy_poll;
    std::optional<Runtime> runtime;
    try {
        runtime.emplace(ro);
    } catch (const std::exception& e) {
        log::error("cannot start the reactors: {}", e.what());
        return 1;
    }
    int rc = run_on(runtime->reactor(0), [&options] { return serve(options); });
    runtime->stop();
    log::info("mayastor stopped (exit {})", rc);
    return rc;
}

}  // namespace ms::daemon
