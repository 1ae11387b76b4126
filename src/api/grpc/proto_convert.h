// Pools, replicas, snapshots, devices and nexuses as the API's protobuf messages, with the URIs
// and state mappings the fact sheet fixes.
#pragma once

#include <string>

#include "api/ops/bdev_ops.h"
#include "lvs/lvs.h"
#include "mayastor.pb.h"
#include "nexus/nexus.h"
#include "target/share_registry.h"

namespace ms::api {

void to_proto(const lvs::PoolInfo& p, mayastor::Pool* out);
// Share and URI as the replica is shared now (share_ops.h's replica_uri).
void to_proto(const lvs::ReplicaInfo& r, const target::ShareRegistry& shares, mayastor::Replica* out);
void to_proto_stats(const lvs::ReplicaInfo& r, mayastor::ReplicaStats* out);
void to_proto_snapshot(const lvs::ReplicaInfo& s, mayastor::ReplicaSnapshot* out);
void to_proto(const BdevInfo& b, mayastor::Bdev* out);

// The nexus device name is "nexus-<uuid>"; the API shows the uuid part.
inline constexpr std::string_view kNexusPrefix = "nexus-";
std::string nexus_name(const Uuid& uuid);

// Sheet mapping: Open -> ONLINE; Init, Closed, Destroying, Faulted(OutOfSync) -> DEGRADED;
// Faulted(any other reason), ConfigInvalid -> FAULTED.
mayastor::ChildState to_proto(nexus::ChildState state, nexus::FaultReason reason);
mayastor::NexusState to_proto(nexus::NexusState state);
void to_proto(const nexus::ChildInfo& c, mayastor::Child* out);
// device_uri: where the nexus is published now (empty: not published).
void to_proto(const nexus::NexusInfo& n, const target::ShareRegistry& shares, mayastor::Nexus* out);
void to_proto(const nexus::RebuildStats& s, mayastor::RebuildStatsReply* out);

}  // namespace ms::api
