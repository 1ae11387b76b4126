// Extensions of this project: Mayastor.CreateReplicaSnapshot / DestroyReplicaSnapshot /
// ListReplicaSnapshots / CreateReplicaClone.
#include <ctime>

#include "api/grpc/grpc_status.h"
#include "api/grpc/mayastor_service.h"
#include "api/grpc/proto_convert.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

namespace {

auto& pools() {
    return lvs::PoolRegistry::instance();
}

// The codes the extension RPCs share.
grpc::Status snapshot_error(const Error& e) {
    switch (e.code) {
        case ENOENT:
            return grpc_error(StatusCode::NOT_FOUND, e);
        case EEXIST:
            return grpc_error(StatusCode::ALREADY_EXISTS, e);
        case EINVAL:
            return grpc_error(StatusCode::INVALID_ARGUMENT, e);
        case ENOSPC:
            return grpc_error(StatusCode::RESOURCE_EXHAUSTED, e);
        case EBUSY:
            return grpc_error(StatusCode::FAILED_PRECONDITION, e);
        default:
            return grpc_error(StatusCode::INTERNAL, e);
    }
}

}  // namespace

grpc::Status MayastorService::CreateReplicaSnapshot(grpc::ServerContext*,
                                                    const mayastor::CreateReplicaSnapshotRequest* req,
                                                    mayastor::ReplicaSnapshot* rep) {
    if (req->replica().empty()) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, "no replica given");
    }
    std::string replica = req->replica();
    std::string name =
        req->name().empty() ? fmt::format("{}-snap-{}", replica, std::time(nullptr)) : req->name();
    auto lock = _ctx.serialize();
    auto snap = _ctx.on_reactor([replica, name] { return pools().create_snapshot(replica, name); });
    if (!snap) {
        return snapshot_error(snap.error());
    }
    to_proto_snapshot(*snap, rep);
    log::info("CreateReplicaSnapshot: snapshot '{}' of replica '{}'", name, replica);
    return grpc::Status::OK;
}

grpc::Status MayastorService::DestroyReplicaSnapshot(grpc::ServerContext*,
                                                     const mayastor::DestroyReplicaSnapshotRequest* req,
                                                     mayastor::Null*) {
    std::string name = req->name();
    auto lock = _ctx.serialize();
    Status s = _ctx.on_reactor([name] { return pools().destroy_snapshot(name); });
    if (!s) {
        return snapshot_error(s.error());
    }
    log::info("DestroyReplicaSnapshot: snapshot '{}' destroyed (or did not exist)", name);
    return grpc::Status::OK;
}

grpc::Status MayastorService::ListReplicaSnapshots(grpc::ServerContext*, const mayastor::Null*,
                                                   mayastor::ListReplicaSnapshotsReply* rep) {
    auto lock = _ctx.serialize();
    auto list = _ctx.call_on_reactor([] { return pools().list_snapshots(); });
    for (const auto& s : list) {
        to_proto_snapshot(s, rep->add_snapshots());
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::CreateReplicaClone(grpc::ServerContext*,
                                                 const mayastor::CreateReplicaCloneRequest* req,
                                                 mayastor::Replica* rep) {
    if (grpc::Status s = check_new_share(req->share()); !s.ok()) {
        return s;
    }
    if (req->snapshot().empty() || req->uuid().empty()) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, "both the snapshot and the clone's uuid are needed");
    }
    std::string snapshot = req->snapshot();
    std::string name = req->uuid();
    auto lock = _ctx.serialize();
    auto existing = _ctx.call_on_reactor([name] { return pools().get_replica(name); });
    if (existing && existing->kind == lvs::LvolKind::Clone && existing->parent == snapshot) {
        to_proto(*existing, _ctx.shares(), rep);
        return grpc::Status::OK;
    }
    auto protocol = replica_protocol(req->share());
    if (protocol && _ctx.shares().server(*protocol) == nullptr) {
        return grpc_error(StatusCode::INTERNAL,
                          fmt::format("CreateReplicaClone: no {} server is running", *protocol));
    }
    auto clone = _ctx.on_reactor([snapshot, name] { return pools().create_clone(snapshot, name); });
    if (!clone) {
        return snapshot_error(clone.error());
    }
    to_proto(*clone, _ctx.shares(), rep);
    if (protocol) {
        if (grpc::Status s = share_new_replica(name, *protocol, "CreateReplicaClone", rep); !s.ok()) {
            return s;
        }
    }
    log::info("CreateReplicaClone: clone '{}' of snapshot '{}'{}{}", name, snapshot,
              protocol ? ", shared over " : "", protocol.value_or(""));
    return grpc::Status::OK;
}

}  // namespace ms::api
