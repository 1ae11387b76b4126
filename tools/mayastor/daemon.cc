#include "daemon.h"

#include <fmt/ranges.h>
#include <signal.h>

#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/grpc/api_context.h"
#include "api/grpc/grpc_server.h"
#include "api/jsonrpc/json_rpc_server.h"
#include "api/ops/share_ops.h"
#include "bdev/all_devices.h"
#include "bdev/device_factory.h"
#include "bdev/device_registry.h"
#include "bdev/nbd/nbd_device.h"
#include "bdev/nvmf/nvmf_device.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/signals.h"
#include "lvs/lvs.h"
#include "nexus/nexus.h"
#include "pools_file.h"
#include "store/open_store.h"
#include "target/nbd/nbd_server.h"
#include "target/nvmf/nvmf_target.h"
#include "target/share_registry.h"

#ifndef MS_VERSION
#define MS_VERSION "0.0.0"
#endif

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

// What start-up made, for shutdown to take down. Lives on reactor 0.
struct Served {
    std::vector<std::string> devices;  // -d URIs, in creation order
    std::vector<std::string> described;
    std::vector<std::string> pools;
    std::unique_ptr<api::JsonRpcServer> json_rpc;
};

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

// Devices made over the API (BdevRpc.Create, bdev_create): destroyed until none is left or no
// more can go (one may stand on another).
Task<void> destroy_api_devices() {
    for (;;) {
        bool progress = false;
        auto devices = DeviceRegistry::instance().list();
        for (const auto& dev : devices) {
            if (!dev->uri().empty() && co_await destroy_device(dev->name())) {
                log::debug("destroyed device '{}'", dev->name());
                progress = true;
            }
        }
        if (!progress) {
            break;
        }
    }
    for (const auto& dev : DeviceRegistry::instance().list()) {
        log::warn("device '{}' is left at exit (claimed by '{}')", dev->name(), dev->claimed_by());
    }
}

// Runs on reactor 0: devices, pools, the JSON-RPC server. On failure everything made so far is
// taken down again.
Task<bool> start_up(const DaemonOptions& o, const std::vector<PoolSpec>& pools,
                    const target::ShareRegistry& shares, Served& served) {
    for (const auto& uri : o.devices) {
        auto dev = co_await create_device(uri);
        if (!dev) {
            log::error("cannot create device '{}': {}", uri, dev.error().message);
            co_await destroy_devices(served.devices);
            co_return false;
        }
        served.devices.push_back(uri);
        const auto& d = **dev;
        served.described.push_back(fmt::format("{} ({}, {} x {} B, uuid {})", d.name(), d.product(),
                                               d.num_blocks(), d.block_size(), d.uuid().to_string()));
    }
    // A pool that cannot be made is logged and skipped: the node still serves the others.
    for (const auto& spec : pools) {
        auto pool = co_await lvs::PoolRegistry::instance().create_or_import(spec.name, spec.disks.at(0));
        if (!pool) {
            log::error("cannot create or import pool '{}' on '{}': {}", spec.name, spec.disks.at(0),
                       pool.error().message);
            continue;
        }
        served.pools.push_back(fmt::format("{} ({}, {} bytes)", pool->name, pool->disk, pool->capacity));
    }
    served.json_rpc = std::make_unique<api::JsonRpcServer>(api::jsonrpc::MethodContext{MS_VERSION, &shares});
    if (Status s = served.json_rpc->start(o.json_rpc_socket); !s) {
        log::error("cannot serve JSON-RPC: {}", s.error().message);
        served.json_rpc.reset();
        co_await lvs::PoolRegistry::instance().export_all();
        co_await destroy_devices(served.devices);
        co_return false;
    }
    co_return true;
}

// Runs on reactor 0 once gRPC has stopped.
Task<bool> shut_down(Served& served) {
    if (served.json_rpc) {
        co_await served.json_rpc->stop();
        served.json_rpc.reset();
    }
    // Nexuses first: they hold their children (replicas, devices) open. Their store records are
    // kept, so that a restart knows which children are stale.
    co_await nexus::NexusRegistry::instance().shutdown_all();
    co_await lvs::PoolRegistry::instance().export_all();
    bool ok = co_await destroy_devices(served.devices);
    co_await destroy_api_devices();
    co_return ok;
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
    // Blocked before any thread starts, so that every thread (reactors, gRPC) inherits the mask
    // and the signals are only ever taken from reactor 0's signalfd.
    block_signals(kStopSignals);

    std::unique_ptr<PoolsFile> pools_file;
    std::vector<PoolSpec> pools = options.pools;
    if (!options.pools_file.empty()) {
        auto f = PoolsFile::open(options.pools_file);
        if (!f) {
            log::error("pools file: {}", f.error().message);
            return 1;
        }
        pools_file = std::move(*f);
        for (auto& p : pools_file->pools()) {
            pools.push_back(std::move(p));
        }
    }

    // The store says which children of each nexus hold current data: serving a nexus without
    // it could rebuild from a stale child, so a store that cannot be opened (a directory that
    // cannot be made or written, an etcd that does not answer) stops the start.
    store::StoreSpec store_spec;
    store_spec.dir = options.store_dir;
    if (options.store_endpoint) {
        store_spec.etcd_endpoint = options.store_endpoint->to_string();
    }
    auto store = store::open_store(store_spec);
    if (!store) {
        log::error("cannot open the store: {}", store.error().message);
        return 1;
    }
    log::info("store: {}", (*store)->describe());
    nexus::NexusRegistry::instance().set_store(*store);
    // Released when run_daemon returns (after the reactors, declared below, have stopped), not
    // at static destruction, where gRPC may already be gone.
    struct ReleaseStore {
        ~ReleaseStore() { nexus::NexusRegistry::instance().set_store(nullptr); }
    } release_store;

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
    Reactor& r0 = runtime->reactor(0);
    // Every device scheme: nvmf:// (our NVMe-oF host) and nbd:// children among them.
    register_all_device_factories();
    // The NVMe-oF target listens before pools are imported: their shared replicas are exported
    // again right after. A port that cannot be bound stops the start.
    nvmf::TargetOptions target_options;
    target_options.listen_address = options.nvmf_address;
    target_options.advertised_address = options.pod_ip;
    target_options.replica_port = options.nvmf_replica_port;
    target_options.nexus_port = options.nvmf_nexus_port;
    auto target = nvmf::NvmfTarget::start(*runtime, target_options);
    if (!target) {
        log::error("cannot start the NVMe-oF target on {} (ports {} and {}): {}", options.nvmf_address,
                   options.nvmf_replica_port, options.nvmf_nexus_port, target.error().message);
        runtime->stop();
        log::info("mayastor stopped (exit 1)");
        return 1;
    }
    std::unique_ptr<nvmf::NvmfTarget> nvmf_target = std::move(*target);
    // The NBD server: nbd://IP:PORT/NAME exports (BdevRpc.Share "nbd") and nexuses published
    // over NBD as this machine's /dev/nbdN.
    nbd::NbdServerOptions nbd_options;
    nbd_options.listen_address = options.nbd_address;
    nbd_options.port = options.nbd_port;
    nbd_options.unix_socket = options.nbd_socket;
    nbd_options.advertised_address = options.pod_ip;
    auto nbd = nbd::NbdServer::start(*runtime, nbd_options);
    if (!nbd) {
        log::error("cannot start the NBD server on {} port {}{}: {}", options.nbd_address, options.nbd_port,
                   options.nbd_socket.empty() ? "" : " and socket " + options.nbd_socket,
                   nbd.error().message);
        nvmf_target.reset();
        runtime->stop();
        log::info("mayastor stopped (exit 1)");
        return 1;
    }
    std::unique_ptr<nbd::NbdServer> nbd_server = std::move(*nbd);
    // Every protocol server plugs into the share registry; the API and the JSON-RPC methods
    // know only the registry. Unregistered (everything it shares unshared) before the servers go.
    target::ShareRegistry shares;
    (void)shares.add_server(*nvmf_target);
    (void)shares.add_server(*nbd_server);
    auto stop_servers = [&] {
        shares.unshare_all();
        for (const auto& p : shares.protocols()) {
            shares.remove_server(p);
        }
        nbd_server.reset();
        nvmf_target.reset();
    };
    Served served;
    if (!run_on(r0, [&] { return start_up(options, pools, shares, served); })) {
        stop_servers();
        runtime->stop();
        log::info("mayastor stopped (exit 1)");
        return 1;
    }
    // Replicas with a stored share are exported again (the share survives a restart).
    std::size_t reshared = api::restore_replica_shares(shares, r0);

    api::ApiOptions api_options;
    api_options.node_name = options.node_name;
    api_options.pod_ip = options.pod_ip;
    api_options.json_rpc_socket = options.json_rpc_socket;
    api::PoolHooks pool_hooks;
    if (pools_file) {
        pool_hooks.created = [&pools_file](const std::string& name, const std::string& disk) {
            pools_file->pool_created(name, disk);
        };
        pool_hooks.destroyed = [&pools_file](const std::string& name) { pools_file->pool_destroyed(name); };
    }
    api::ApiContext api_ctx(r0, api_options, shares, std::move(pool_hooks));
    api::GrpcServer grpc(api_ctx);
    auto port = grpc.start(options.grpc_endpoint.to_string());
    if (!port) {
        log::error("{}", port.error().message);
        stop_servers();
        run_on(r0, [&] { return shut_down(served); });
        runtime->stop();
        log::info("mayastor stopped (exit 1)");
        return 1;
    }

    log::info(
        "mayastor ready: node {}, {} reactor(s) on cores {}, devices: {}, pools: {}, gRPC on {}:{}, "
        "JSON-RPC on {}, NVMe-oF/TCP on {} ports {} and {}, NBD on {}:{}{} ({} replica(s) shared)",
        options.node_name, options.cores.size(), fmt::join(options.cores, ","), join(served.described),
        join(served.pools), options.grpc_endpoint.host, *port, options.json_rpc_socket, options.nvmf_address,
        nvmf_target->replica_port(), nvmf_target->nexus_port(), options.nbd_address, nbd_server->port(),
        options.nbd_socket.empty() ? "" : " and " + options.nbd_socket, reshared);

    auto sig = run_on(r0, [] { return wait_for_signal(kStopSignals); });
    if (sig) {
        log::info("received {}, shutting down", signal_name(*sig));
    } else {
        log::error("waiting for SIGTERM/SIGINT failed ({}), shutting down", sig.error().message);
    }
    grpc.stop();
    // The shares first: they hold replicas and nexuses open (and claimed). Replicas keep their
    // stored shares: the next start exports them again.
    stop_servers();
    bool destroyed = run_on(r0, [&] { return shut_down(served); });
    runtime->stop();
    int rc = (sig && destroyed) ? 0 : 1;
    log::info("mayastor stopped (exit {})", rc);
    return rc;
}

}  // namespace ms::daemon
