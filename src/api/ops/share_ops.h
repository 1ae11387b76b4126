// Sharing as the API sees it, for the gRPC services and the JSON-RPC methods alike: a device
// shared over any protocol through target::ShareRegistry, with what the API adds on top — a
// replica's share is stored on the replica (and shared again when its pool is imported), a
// replica's or a nexus's export answers Mayastor's snapshot command, and the URIs the API
// returns. No protocol is named here: protocols are the registry's servers.
//
// Functions taking a ShareRegistry block (its servers do) and run on gRPC threads or the
// daemon's main thread, never on a reactor; `mgmt` is the reactor that owns the pool and
// nexus registries. The Task functions run on a reactor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/reactor.h"
#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"
#include "lvs/lvs.h"
#include "target/share_registry.h"

namespace ms::api {

// The protocol a replica's stored share names (None: not shared), and back.
std::optional<std::string_view> share_protocol_name(lvs::ShareProtocol share);
std::optional<lvs::ShareProtocol> stored_share_of(std::string_view protocol);

// Snapshot of replica `replica` named `<replica>-snap-<unix seconds>`. Runs on a reactor.
Task<Status> snapshot_replica(std::string replica, uint64_t unix_seconds);
// The snapshot of every child of nexus `uuid`: a local replica (bdev:///<name>) directly, an
// nvmf:// child through the vendor admin command on its controller. Every child is tried; the
// first failure is returned (ENOENT for an unknown nexus). Runs on a reactor.
Task<Status> snapshot_nexus(Uuid uuid, uint64_t unix_seconds);

// Shares device `name` over `protocol` and returns its URI (the registry's rules: idempotent,
// EBUSY when claimed or shared over another protocol, ENODEV, EPROTONOSUPPORT). A replica's or
// a nexus's export gets its snapshot hook; a replica's share is stored (when that fails the
// share is undone and the error returned).
Result<std::string> share_device(target::ShareRegistry& shares, Reactor& mgmt, const std::string& name,
                                 std::string_view protocol, target::ShareOptions options = {});
// Stops sharing device `name` (not shared: OK). A replica's stored share is cleared unless
// `keep_stored` (its pool is about to go).
Status unshare_device(target::ShareRegistry& shares, Reactor& mgmt, const std::string& name,
                      bool keep_stored = false);
// Shares again every replica with a stored share (of pool `pool`, or of every pool when
// empty), as after a pool import; failures are logged. Returns how many are shared.
std::size_t restore_replica_shares(target::ShareRegistry& shares, Reactor& mgmt,
                                   const std::string& pool = {});

// Where device `name` is reached: its share's URI, or bdev:///<name> when it is not shared.
std::string share_uri(const target::ShareRegistry& shares, const std::string& name);
// A replica's URI: share_uri with ?uuid=<lvol uuid> (the fact sheet's Replica.uri).
std::string replica_uri(const target::ShareRegistry& shares, const lvs::ReplicaInfo& r);

}  // namespace ms::api
