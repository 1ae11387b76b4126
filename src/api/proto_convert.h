// Pools, replicas, snapshots, devices and nexuses as the API's protobuf messages, with the URIs
// and state mappings the fact sheet fixes.
#pragma once

#include <string>

#include "api/bdev_calls.h"
#include "lvs/lvs.h"
#include "mayastor.pb.h"
#include "nexus/nexus.h"
#include "nvme/spec.h"

namespace ms::api {

// NVMe-oF/TCP port of replica subsystems.
inline constexpr int kNvmfReplicaPort = nvme::kReplicaPort;

// bdev:///<name>?uuid=<lvol uuid>, or the NVMe-oF URI when the replica's share is NVMF
// (nvmf://<pod ip>:<port>/nqn.2019-05.io.openebs:<name>?uuid=<lvol uuid>).
std::string replica_uri(const lvs::ReplicaInfo& r, const std::string& pod_ip,
                        uint16_t nvmf_port = kNvmfReplicaPort);

void to_proto(const lvs::PoolInfo& p, mayastor::Pool* out);
void to_proto(const lvs::ReplicaInfo& r, const std::string& pod_ip, mayastor::Replica* out,
              uint16_t nvmf_port = kNvmfReplicaPort);
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
void to_proto(const nexus::NexusInfo& n, mayastor::Nexus* out);
void to_proto(const nexus::RebuildStats& s, mayastor::RebuildStatsReply* out);

}  // namespace ms::api
