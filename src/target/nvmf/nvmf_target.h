// The NVMe-oF/TCP target: subsystems (one per shared device, NQN
// nqn.2019-05.io.openebs:<device-name>) reachable on the replica port (8420) and the nexus
// port (4421), plus the discovery subsystem. Connections are accepted on one reactor and spread
// over all reactors; each queue (admin or I/O) lives on one reactor, without locks on its I/O
// path. Management calls below are thread-safe and may be made from any thread (gRPC
// threads), but not from a reactor thread unless marked.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bdev/block_device.h"
#include "core/runtime.h"
#include "core/status.h"
#include "nvme/spec.h"
#include "target/share_server.h"

namespace ms::nvmf {

struct TargetOptions {
    // Address the listeners bind ("0.0.0.0" = all IPv4 addresses).
    std::string listen_address = "0.0.0.0";
    // Address put in URIs the API returns (nvmf://<advertised>:8420/<nqn>); empty = the first
    // non-loopback IPv4 address of the machine, or 127.0.0.1.
    std::string advertised_address;
    uint16_t replica_port = nvme::kReplicaPort;  // 0 = pick a free port (tests)
    uint16_t nexus_port = nvme::kNexusPort;      // 0 = pick a free port (tests)
    uint32_t max_io_queues = 64;                 // per controller
    uint32_t max_queue_depth = 128;              // entries per I/O queue (MQES + 1)
    uint32_t in_capsule_data_size = 8192;        // I/O queues; admin queues take 8 KiB too
    uint32_t max_io_size = 128 * 1024;           // MDTS (a power of two >= 4 KiB)
    uint32_t max_h2c_data = 128 * 1024;          // MAXH2CDATA of ICResp
};

// Optional hooks a subsystem's owner can give: the target knows only BlockDevices.
struct SubsystemHooks {
    // Mayastor's vendor admin command 0xC0 (create a snapshot, Unix time in seconds); unset ->
    // the command fails with Invalid Opcode.
    std::function<Task<Status>(uint64_t unix_seconds)> create_snapshot;
};

struct SubsystemSpec {
    std::string nqn;                      // empty = nqn_for(device->name())
    std::shared_ptr<BlockDevice> device;  // namespace 1; opened read-write by the target
    // Host NQNs allowed to connect; empty = any host.
    std::vector<std::string> allowed_hosts;
    uint16_t min_cntlid = nvme::kMinCntlid;
    uint16_t max_cntlid = nvme::kMaxCntlid;
    nvme::AnaState ana_state = nvme::AnaState::Optimized;
    // Claim owner to open a claimed device with (empty: the device must not be claimed by
    // someone else).
    std::string claim_owner;
    SubsystemHooks hooks;
};

struct NamespaceInfo {
    uint32_t nsid = 0;
    std::string device_name;
    Uuid nguid;
};

struct ControllerInfo {
    uint16_t cntlid = 0;
    std::string host_nqn;
    uint32_t io_queues = 0;
};

struct SubsystemInfo {
    std::string nqn;
    std::vector<NamespaceInfo> namespaces;
    std::vector<std::string> allowed_hosts;
    nvme::AnaState ana_state = nvme::AnaState::Optimized;
    std::vector<ControllerInfo> controllers;
};

// nqn.2019-05.io.openebs:<name>
std::string nqn_for(std::string_view device_name);

// The NVMe-oF share server (target::ShareServer): a shared device gets subsystem
// nqn_for(<device name>) with the device as namespace 1, reached at uri_for(nqn); path states
// are the subsystem's ANA state.
class NvmfTarget final : public target::ShareServer {
   public:
    // Binds both ports (EADDRINUSE etc. as errors) and starts accepting on `runtime`'s reactors.
    static Result<std::unique_ptr<NvmfTarget>> start(Runtime& runtime, TargetOptions options);
    // Stops accepting, closes every connection, closes every subsystem's descriptors. Waits.
    ~NvmfTarget() override;

    uint16_t replica_port() const;
    uint16_t nexus_port() const;
    const std::string& advertised_address() const;
    // nvmf://<advertised>:<replica port>/<nqn>
    std::string uri_for(const std::string& nqn) const;

    // Adds a subsystem exporting spec.device as namespace 1. The same NQN with the same device
    // again -> OK (idempotent, the spec's other fields are not changed); with another device ->
    // EEXIST. Bad NQN -> EINVAL; device cannot be opened read-write -> its error (EPERM...).
    Result<std::string> add_subsystem(SubsystemSpec spec);
    // Disconnects every controller of the subsystem (their outstanding I/O completes first),
    // then closes the device. Unknown NQN -> OK.
    Status remove_subsystem(const std::string& nqn);
    bool has_subsystem(const std::string& nqn) const;

    // Namespaces at run time: hosts get a namespace-attribute-changed event and the changed
    // namespace log. ENOENT for an unknown subsystem; removing an unknown nsid -> ENOENT.
    Result<uint32_t> add_namespace(const std::string& nqn, std::shared_ptr<BlockDevice> device,
                                   std::string claim_owner = {});
    Status remove_namespace(const std::string& nqn, uint32_t nsid);

    // ANA state of the subsystem's (single) ANA group; hosts get an ANA-change event.
    Result<nvme::AnaState> ana_state(const std::string& nqn) const;
    Status set_ana_state(const std::string& nqn, nvme::AnaState state);

    Status set_allowed_hosts(const std::string& nqn, std::vector<std::string> hosts);

    std::vector<SubsystemInfo> subsystems() const;

    // target::ShareServer.
    std::string_view protocol() const override { return target::kNvmf; }
    Result<std::string> share(target::ShareRequest req) override;
    Status unshare(const std::string& device_name) override;
    std::vector<target::ShareInfo> list() const override;
    Result<target::PathState> path_state(const std::string& device_name) const override;
    Status set_path_state(const std::string& device_name, target::PathState state) override;

   private:
    struct Impl;
    explicit NvmfTarget(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> _impl;
};

}  // namespace ms::nvmf
