// Pools, replicas, snapshots and devices as the API's protobuf messages, with the URIs the fact
// sheet fixes.
#pragma once

#include <string>

#include "api/bdev_calls.h"
#include "lvs/lvs.h"
#include "mayastor.pb.h"

namespace ms::api {

// NVMe-oF/TCP port of replica subsystems, and the NQN prefix of every subsystem.
inline constexpr int kNvmfReplicaPort = 8420;
inline constexpr std::string_view kNqnPrefix = "nqn.2019-05.io.openebs:";

// bdev:///<name>?uuid=<lvol uuid>, or the NVMe-oF URI when the replica's share is NVMF.
std::string replica_uri(const lvs::ReplicaInfo& r, const std::string& pod_ip);

void to_proto(const lvs::PoolInfo& p, mayastor::Pool* out);
void to_proto(const lvs::ReplicaInfo& r, const std::string& pod_ip, mayastor::Replica* out);
void to_proto_stats(const lvs::ReplicaInfo& r, mayastor::ReplicaStats* out);
void to_proto_snapshot(const lvs::ReplicaInfo& s, mayastor::ReplicaSnapshot* out);
void to_proto(const BdevInfo& b, mayastor::Bdev* out);

}  // namespace ms::api
