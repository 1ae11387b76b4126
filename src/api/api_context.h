// What every gRPC handler needs: the reactor that runs management work, this node's identity,
// the pools file to keep up to date, and the lock that makes "Serialized" calls run one at a
// time. gRPC threads never touch data-path state: they hand the work to the reactor with
// on_reactor() and block until it answers. The NVMe-oF target (may be null in tests that do not
// share anything) is called from the gRPC threads directly: its management calls block and
// must not run on a reactor.
#pragma once

#include <mutex>
#include <string>

#include "api/pools_file.h"
#include "core/reactor.h"
#include "core/runtime.h"

namespace ms::nvmf {
class NvmfTarget;
}

namespace ms::api {

struct ApiOptions {
    std::string node_name = "mayastor-node";
    // The IP placed in URIs the API returns (MY_POD_IP).
    std::string pod_ip = "127.0.0.1";
    // The daemon's JSON-RPC socket, target of the JsonRpc service.
    std::string json_rpc_socket = "/var/tmp/mayastor.sock";
};

class ApiContext {
   public:
    // `pools_file` may be null (no -P): then nothing is recorded. `target` may be null: then
    // sharing answers UNAVAILABLE.
    ApiContext(Reactor& reactor, ApiOptions options, PoolsFile* pools_file = nullptr,
               nvmf::NvmfTarget* target = nullptr)
        : _reactor(reactor), _options(std::move(options)), _pools_file(pools_file), _target(target) {}

    const ApiOptions& options() const { return _options; }
    Reactor& reactor() const { return _reactor; }
    nvmf::NvmfTarget* target() const { return _target; }
    // The port of the URIs of shared replicas and nexuses: the target's replica port (8420
    // unless configured otherwise), 8420 without a target.
    uint16_t nvmf_port() const;

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

    // Pool bookkeeping for the pools file (errors are logged: the pool itself was made). `disk`
    // is recorded as a URI (a bare path becomes the absolute aio:// URI it means).
    void pool_created(const std::string& name, const std::string& disk);
    void pool_destroyed(const std::string& name);

   private:
    Reactor& _reactor;
    ApiOptions _options;
    PoolsFile* _pools_file;
    nvmf::NvmfTarget* _target;
    std::mutex _serial;
};

}  // namespace ms::api
