#include "api/grpc/proto_convert.h"

#include <fmt/format.h>

#include "api/ops/share_ops.h"
#include "core/uri.h"

namespace ms::api {

void to_proto(const lvs::PoolInfo& p, mayastor::Pool* out) {
    out->set_name(p.name);
    out->add_disks(p.disk);
    out->set_state(mayastor::POOL_ONLINE);
    out->set_capacity(p.capacity);
    out->set_used(p.used);
}

void to_proto(const lvs::ReplicaInfo& r, const target::ShareRegistry& shares, mayastor::Replica* out) {
    out->set_uuid(r.name);
    out->set_pool(r.pool);
    out->set_thin(r.thin);
    out->set_size(r.size);
    // The share it has now (the stored one is what its pool's import restores).
    auto share = shares.find(r.name);
    auto stored = share ? stored_share_of(share->protocol) : std::nullopt;
    out->set_share(static_cast<mayastor::ShareProtocolReplica>(stored.value_or(lvs::ShareProtocol::None)));
    out->set_uri(replica_uri(shares, r));
}

void to_proto_stats(const lvs::ReplicaInfo& r, mayastor::ReplicaStats* out) {
    out->set_uuid(r.name);
    out->set_pool(r.pool);
    auto* s = out->mutable_stats();
    s->set_num_read_ops(r.stats.num_read_ops);
    s->set_num_write_ops(r.stats.num_write_ops);
    s->set_bytes_read(r.stats.bytes_read);
    s->set_bytes_written(r.stats.bytes_written);
}

void to_proto_snapshot(const lvs::ReplicaInfo& s, mayastor::ReplicaSnapshot* out) {
    out->set_name(s.name);
    out->set_uuid(s.uuid.to_string());
    out->set_pool(s.pool);
    out->set_replica(s.parent);
    out->set_size(s.size);
    out->set_allocated(s.allocated);
    out->set_timestamp(s.created);
    for (const auto& c : s.clones) {
        out->add_clones(c);
    }
}

void to_proto(const BdevInfo& b, mayastor::Bdev* out) {
    out->set_name(b.name);
    out->set_uuid(b.uuid);
    out->set_num_blocks(b.num_blocks);
    out->set_blk_size(b.blk_size);
    out->set_claimed(!b.claimed_by.empty());
    out->set_claimed_by(b.claimed_by.empty() ? "Orphaned" : b.claimed_by);
    out->set_aliases("");
    out->set_uri(b.uri);
    out->set_product_name(b.product);
    out->set_share_uri(b.share_uri);
}

std::string nexus_name(const Uuid& uuid) {
    return fmt::format("{}{}", kNexusPrefix, uuid.to_string());
}

mayastor::ChildState to_proto(nexus::ChildState state, nexus::FaultReason reason) {
    using nexus::ChildState;
    switch (state) {
        case ChildState::Open:
            return mayastor::CHILD_ONLINE;
        case ChildState::Init:
        case ChildState::Closed:
        case ChildState::Destroying:
            return mayastor::CHILD_DEGRADED;
        case ChildState::Faulted:
            return reason == nexus::FaultReason::OutOfSync ? mayastor::CHILD_DEGRADED
                                                           : mayastor::CHILD_FAULTED;
        case ChildState::ConfigInvalid:
            return mayastor::CHILD_FAULTED;
    }
    return mayastor::CHILD_UNKNOWN;
}

mayastor::NexusState to_proto(nexus::NexusState state) {
    switch (state) {
        case nexus::NexusState::Online:
            return mayastor::NEXUS_ONLINE;
        case nexus::NexusState::Degraded:
            return mayastor::NEXUS_DEGRADED;
        case nexus::NexusState::Faulted:
            return mayastor::NEXUS_FAULTED;
    }
    return mayastor::NEXUS_UNKNOWN;
}

void to_proto(const nexus::ChildInfo& c, mayastor::Child* out) {
    out->set_uri(c.uri);
    out->set_state(to_proto(c.state, c.reason));
    out->set_rebuild_progress(c.rebuild_progress);
}

void to_proto(const nexus::NexusInfo& n, const target::ShareRegistry& shares, mayastor::Nexus* out) {
    std::string_view name = n.name;
    out->set_uuid(name.starts_with(kNexusPrefix) ? std::string(name.substr(kNexusPrefix.size()))
                                                 : n.uuid.to_string());
    out->set_size(n.size);
    out->set_state(to_proto(n.state));
    for (const auto& c : n.children) {
        to_proto(c, out->add_children());
    }
    if (auto share = shares.find(n.name)) {
        out->set_device_uri(share->uri);
    }
    out->set_rebuilds(n.rebuilds);
}

void to_proto(const nexus::RebuildStats& s, mayastor::RebuildStatsReply* out) {
    out->set_blocks_total(s.blocks_total);
    out->set_blocks_recovered(s.blocks_recovered);
    out->set_progress(s.progress);
    out->set_segment_size_blks(s.segment_size_blks);
    out->set_block_size(s.block_size);
    out->set_tasks_total(s.tasks_total);
    out->set_tasks_active(s.tasks_active);
}

}  // namespace ms::api
