// What every gRPC handler needs: the reactor that runs management work, this node's identity,
// the shares (target::ShareRegistry: every protocol server plugs in there), what to tell about
// pools created and destroyed (the daemon keeps its pools file), and the lock that makes
// "Serialized" calls run one at a time. gRPC threads never touch data-path state: they hand
// the work to the reactor with on_reactor() and block until it answers. Share calls are made
// from the gRPC threads directly: they block and must not run on a reactor.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "core/reactor.h"
#include "core/runtime.h"
#include "target/share_registry.h"

namespace ms::api {

struct ApiOptions {
    std::string node_name = "mayastor-node";
    // The IP placed in URIs the API returns (MY_POD_IP).
    std::string pod_ip = "127.0.0.1";
    // The daemon's JSON-RPC socket, target of the JsonRpc service.
    std::string json_rpc_socket = "/var/tmp/mayastor.sock";
};

// Told of every pool CreatePool made or imported (with the disk as Pool.disks reports it) and
// every pool DestroyPool removed; unset: nothing is told.
struct PoolHooks {
    std::function<void(const std::string& name, const std::string& disk)> created;
    std::function<void(const std::string& name)> destroyed;
};

class ApiContext {
   public:
    ApiContext(Reactor& reactor, ApiOptions options, target::ShareRegistry& shares, PoolHooks pool_hooks = {})
        : _reactor(reactor),
          _options(std::move(options)),
          _shares(shares),
          _pool_hooks(std::move(pool_hooks)) {}

    const ApiOptions& options() const { return _options; }
    Reactor& reactor() const { return _reactor; }
    target::ShareRegistry& shares() const { return _shares; }

    // Runs the task `make()` returns on the management reactor; blocks the calling (gRPC)
    // thread until it finishes and returns its value.
    template <typename F>
    auto on_reactor(F make) const {
        return run_on(_reactor, std::move(make));
    }
    // The same for a plain function (a registry lookup, a list).
    template <typename F>
    auto call_on_reactor(F fn) const -> decltype(fn()) {
        using T = decltype(fn());
        return run_on(_reactor, [fn = std::move(fn)]() -> Task<T> { co_return fn(); });
    }

    // Held for the whole of a "Serialized" call.
    [[nodiscard]] std::unique_lock<std::mutex> serialize() { return std::unique_lock(_serial); }

    void pool_created(const std::string& name, const std::string& disk) const {
        if (_pool_hooks.created) {
            _pool_hooks.created(name, disk);
        }
    }
    void pool_destroyed(const std::string& name) const {
        if (_pool_hooks.destroyed) {
            _pool_hooks.destroyed(name);
        }
    }

   private:
    Reactor& _reactor;
    ApiOptions _options;
    target::ShareRegistry& _shares;
    PoolHooks _pool_hooks;
    std::mutex _serial;
};

}  // namespace ms::api
