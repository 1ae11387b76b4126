// `replica list`, `replica stats` and `snapshot list` output (default format), and the replica
// share protocol words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mayastor-client/style.h"
#include "mayastor.pb.h"

namespace ms::client {

std::string replica_share_word(int share);  // none, nvmf, iscsi, unknown

// `-p` of replica create / clone, `replica share`: nvmf, iscsi, none; nullopt for anything else.
std::optional<mayastor::ShareProtocolReplica> parse_replica_share(std::string_view word);

// Columns POOL (min 20) NAME (min 20) THIN (min 8) >SIZE (min 11, header one short of the edge),
// then SHARE and URI when any replica is shared; sizes human unless -u;
// "No replicas have been created" for none.
std::string render_replicas(const mayastor::ListReplicasReply& reply, const Style& style);

// Sheet table POOL NAME RDCNT WRCNT RDBYTES WRBYTES.
std::string render_replica_stats(const mayastor::StatReplicasReply& reply, const Style& style);

// "2024-05-01T12:00:00Z"
std::string utc_timestamp(uint64_t unix_seconds);

// Sheet table POOL NAME REPLICA >SIZE >ALLOCATED CREATED CLONES; "No snapshots found".
std::string render_snapshots(const mayastor::ListReplicaSnapshotsReply& reply, const Style& style);

}  // namespace ms::client
