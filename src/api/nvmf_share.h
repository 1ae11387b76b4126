// Sharing over the NVMe-oF target: the subsystem a replica, a nexus or any device gets (NQN
// nqn.2019-05.io.openebs:<device name>), the URIs the API returns for them, and the snapshot
// hooks of the vendor admin command 0xC0. The target's management calls block, so the functions
// taking an NvmfTarget run on gRPC threads or the daemon's main thread, never on a reactor; the
// Task functions run on a reactor.
#pragma once

#include <cstdint>
#include <string>

#include "core/reactor.h"
#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"
#include "target/nvmf/nvmf_target.h"

namespace ms::api {

// Snapshot of replica `replica` named `<replica>-snap-<unix seconds>` (what the vendor command
// asks of a replica subsystem). Runs on a reactor.
Task<Status> snapshot_replica(std::string replica, uint64_t unix_seconds);
// The snapshot of every child of nexus `uuid`: a local replica (bdev:///<name>) directly, an
// nvmf:// child through the vendor admin command on its controller. Every child is tried; the
// first failure is returned (ENOENT for an unknown nexus). Runs on a reactor.
Task<Status> snapshot_nexus(Uuid uuid, uint64_t unix_seconds);

// Adds the subsystem of device `device_name` (ENODEV if there is no such device) and returns its
// NQN. Idempotent. A replica's subsystem gets the replica snapshot hook, a nexus's the nexus one.
Result<std::string> share_device(nvmf::NvmfTarget& target, const std::string& device_name,
                                 nvmf::SubsystemHooks hooks = {});
// Adds the subsystem of replica `name` with its snapshot hook. Idempotent.
Result<std::string> share_replica(nvmf::NvmfTarget& target, const std::string& name);
// Removes the subsystem of device `device_name`; not shared -> OK.
Status unshare_device(nvmf::NvmfTarget& target, const std::string& device_name);

// Shares again every replica whose stored share protocol is NVMF (of pool `pool`, or of every
// pool when empty), as after a pool import; failures are logged. Returns how many are shared.
// `reactor` is where the pool registry is read.
std::size_t restore_replica_shares(nvmf::NvmfTarget& target, Reactor& reactor, const std::string& pool = {});

}  // namespace ms::api
