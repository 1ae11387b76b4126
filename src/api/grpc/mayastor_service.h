// gRPC service mayastor.Mayastor: pools, replicas, replica snapshots and clones, nexuses and
// their children, rebuilds, host block devices and resource usage. Sharing goes through the
// share registry (src/target: one server per protocol); NVMe-oF controllers are those of our
// NVMe-oF host (src/bdev/nvmf). Status codes per RPC: docs/api.md.
//
// Handlers are split by subject: pool_rpcs.cc, replica_rpcs.cc, snapshot_rpcs.cc,
// nexus_rpcs.cc, nexus_share_rpcs.cc (publish, ANA, nexus snapshots, NVMe controllers),
// rebuild_rpcs.cc and mayastor_service.cc (host information).
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <utility>

#include "api/grpc/api_context.h"
#include "core/uuid.h"
#include "mayastor.grpc.pb.h"
#include "nexus/nexus.h"

namespace ms::api {

#define MS_API_RPC(name, request, reply) \
    grpc::Status name(grpc::ServerContext* ctx, const mayastor::request* req, mayastor::reply* rep) override

class MayastorService final : public mayastor::Mayastor::Service {
   public:
    explicit MayastorService(ApiContext& ctx) : _ctx(ctx) {}

    MS_API_RPC(CreatePool, CreatePoolRequest, Pool);
    MS_API_RPC(DestroyPool, DestroyPoolRequest, Null);
    MS_API_RPC(ListPools, Null, ListPoolsReply);

    MS_API_RPC(CreateReplica, CreateReplicaRequest, Replica);
    MS_API_RPC(DestroyReplica, DestroyReplicaRequest, Null);
    MS_API_RPC(ListReplicas, Null, ListReplicasReply);
    MS_API_RPC(StatReplicas, Null, StatReplicasReply);
    MS_API_RPC(ShareReplica, ShareReplicaRequest, ShareReplicaReply);

    MS_API_RPC(CreateReplicaSnapshot, CreateReplicaSnapshotRequest, ReplicaSnapshot);
    MS_API_RPC(DestroyReplicaSnapshot, DestroyReplicaSnapshotRequest, Null);
    MS_API_RPC(ListReplicaSnapshots, Null, ListReplicaSnapshotsReply);
    MS_API_RPC(CreateReplicaClone, CreateReplicaCloneRequest, Replica);

    MS_API_RPC(ListBlockDevices, ListBlockDevicesRequest, ListBlockDevicesReply);
    MS_API_RPC(GetResourceUsage, Null, GetResourceUsageReply);

    MS_API_RPC(CreateNexus, CreateNexusRequest, Nexus);
    MS_API_RPC(DestroyNexus, DestroyNexusRequest, Null);
    MS_API_RPC(ListNexus, Null, ListNexusReply);
    MS_API_RPC(AddChildNexus, AddChildNexusRequest, Child);
    MS_API_RPC(RemoveChildNexus, RemoveChildNexusRequest, Null);
    MS_API_RPC(FaultNexusChild, FaultNexusChildRequest, Null);
    MS_API_RPC(ChildOperation, ChildNexusRequest, Null);

    MS_API_RPC(StartRebuild, StartRebuildRequest, Null);
    MS_API_RPC(StopRebuild, StopRebuildRequest, Null);
    MS_API_RPC(PauseRebuild, PauseRebuildRequest, Null);
    MS_API_RPC(ResumeRebuild, ResumeRebuildRequest, Null);
    MS_API_RPC(GetRebuildState, RebuildStateRequest, RebuildStateReply);
    MS_API_RPC(GetRebuildStats, RebuildStatsRequest, RebuildStatsReply);
    MS_API_RPC(GetRebuildProgress, RebuildProgressRequest, RebuildProgressReply);

    // Publishing nexuses (nexus_share_rpcs.cc): NBD (the kernel's /dev/nbdN here), NVMe-oF,
    // iSCSI, whichever protocols have a server.
    MS_API_RPC(PublishNexus, PublishNexusRequest, PublishNexusReply);
    MS_API_RPC(UnpublishNexus, UnpublishNexusRequest, Null);
    MS_API_RPC(GetNvmeAnaState, GetNvmeAnaStateRequest, GetNvmeAnaStateReply);
    MS_API_RPC(SetNvmeAnaState, SetNvmeAnaStateRequest, Null);
    MS_API_RPC(CreateSnapshot, CreateSnapshotRequest, CreateSnapshotReply);
    MS_API_RPC(ListNvmeControllers, Null, ListNvmeControllersReply);

   private:
    // Shares new replica (or clone) `name` over `protocol` and stores the share; on failure the
    // replica is destroyed and the error returned. Fills `rep` on success.
    grpc::Status share_new_replica(const std::string& name, std::string_view protocol, std::string_view rpc,
                                   mayastor::Replica* rep);
    // Unshares every replica of pool `pool` (before it is destroyed).
    grpc::Status unshare_pool(const std::string& pool);
    // The protocol of a replica share (none for REPLICA_NONE and unknown values).
    static std::optional<std::string_view> replica_protocol(mayastor::ShareProtocolReplica share);

    // The share protocol a new replica or clone may have: INVALID_ARGUMENT for an unknown one
    // and for iSCSI, OK otherwise (NVMe-oF is shared once the replica is made).
    static grpc::Status check_new_share(mayastor::ShareProtocolReplica share);

    // The nexus uuid of a request: INVALID_ARGUMENT when it is not a UUID.
    static std::expected<Uuid, grpc::Status> nexus_uuid(const std::string& text);
    // The common rule of the nexus RPCs: a bad uuid is INVALID_ARGUMENT, an unknown nexus
    // NOT_FOUND; the parsed uuid otherwise.
    std::expected<Uuid, grpc::Status> existing_nexus(const std::string& text) const;

    // The share of published nexus `uuid` and its server, when that protocol has path states
    // (NVMe ANA); INVALID_ARGUMENT when it is not published or its protocol has none.
    std::expected<std::pair<target::ShareInfo, target::ShareServer*>, grpc::Status> path_share(
        const Uuid& uuid) const;

    // The rebuild RPCs (rebuild_rpcs.cc): Serialized, nexus checked, then `op` on the job into
    // `uri`. A control call's failure is INTERNAL, or `on_enoent` when the code is ENOENT.
    using RebuildControl = Task<Status> (nexus::NexusRegistry::*)(Uuid, std::string);
    grpc::Status control_rebuild(const std::string& uuid_text, const std::string& uri, RebuildControl op,
                                 grpc::StatusCode on_enoent, std::string_view done);
    // Stats of the job into `uri` (state and progress derive from them): INTERNAL if none.
    std::expected<nexus::RebuildStats, grpc::Status> rebuild_stats(const std::string& uuid_text,
                                                                   const std::string& uri);

    ApiContext& _ctx;
};

#undef MS_API_RPC

}  // namespace ms::api
