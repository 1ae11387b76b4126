// Mayastor.CreateReplica / DestroyReplica / ListReplicas / StatReplicas / ShareReplica.
#include "api/grpc_status.h"
#include "api/mayastor_service.h"
#include "api/proto_convert.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

namespace {

auto& pools() {
    return lvs::PoolRegistry::instance();
}

}  // namespace

grpc::Status MayastorService::check_new_share(mayastor::ShareProtocolReplica share) {
    if (!mayastor::ShareProtocolReplica_IsValid(share)) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, fmt::format("unknown share protocol {}", share));
    }
    if (share == mayastor::REPLICA_ISCSI) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, "replicas cannot be shared over iSCSI (use NVMe-oF)");
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::CreateReplica(grpc::ServerContext*, const mayastor::CreateReplicaRequest* req,
                                            mayastor::Replica* rep) {
    if (grpc::Status s = check_new_share(req->share()); !s.ok()) {
        return s;
    }
    auto lock = _ctx.serialize();
    std::string name = req->uuid();
    std::string pool = req->pool();
    // An existing replica is returned as it is, whatever the request says (idempotent).
    auto existing = _ctx.call_on_reactor([name] { return pools().get_replica(name); });
    if (existing) {
        if (existing->kind == lvs::LvolKind::Snapshot) {
            return grpc_error(StatusCode::ALREADY_EXISTS,
                              fmt::format("'{}' is a snapshot, not a replica", name));
        }
        to_proto(*existing, _ctx.options().pod_ip, rep);
        return grpc::Status::OK;
    }
    auto found = _ctx.call_on_reactor([pool] { return pools().get(pool); });
    if (!found) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, fmt::format("pool '{}' not found", pool));
    }
    if (req->share() == mayastor::REPLICA_NVMF) {
        // Checked before anything is made, so that no replica is left behind.
        return unimplemented("CreateReplica", "sharing a replica over NVMe-oF");
    }
    uint64_t size = req->size();
    bool thin = req->thin();
    auto made =
        _ctx.on_reactor([pool, name, size, thin] { return pools().create_replica(pool, name, size, thin); });
    if (!made) {
        const Error& e = made.error();
        switch (e.code) {
            case ENOSPC:
                return grpc_error(StatusCode::RESOURCE_EXHAUSTED, e);
            case EINVAL:
                return grpc_error(StatusCode::INVALID_ARGUMENT, e);
            case ENOENT:  // the pool went away in between
                return grpc_error(StatusCode::INVALID_ARGUMENT, e);
            case EEXIST:  // the name is a snapshot, or an object of another pool
                return grpc_error(StatusCode::ALREADY_EXISTS, e);
            default:
                return grpc_error(StatusCode::INTERNAL, e);
        }
    }
    to_proto(*made, _ctx.options().pod_ip, rep);
    log::info("CreateReplica: replica '{}' in pool '{}', {} bytes{}", name, pool, size, thin ? ", thin" : "");
    return grpc::Status::OK;
}

grpc::Status MayastorService::DestroyReplica(grpc::ServerContext*, const mayastor::DestroyReplicaRequest* req,
                                             mayastor::Null*) {
    auto lock = _ctx.serialize();
    std::string name = req->uuid();
    // Nothing is exported by a target yet, so there is nothing to unshare first.
    Status s = _ctx.on_reactor([name] { return pools().destroy_replica(name); });
    if (!s) {
        return grpc_error(s.error().code == EINVAL ? StatusCode::INVALID_ARGUMENT : StatusCode::INTERNAL,
                          s.error());
    }
    log::info("DestroyReplica: replica '{}' destroyed (or did not exist)", name);
    return grpc::Status::OK;
}

grpc::Status MayastorService::ListReplicas(grpc::ServerContext*, const mayastor::Null*,
                                           mayastor::ListReplicasReply* rep) {
    auto lock = _ctx.serialize();
    // Replicas and clones; snapshots are listed by ListReplicaSnapshots (docs/api.md).
    auto list = _ctx.call_on_reactor([] { return pools().list_replicas(); });
    for (const auto& r : list) {
        to_proto(r, _ctx.options().pod_ip, rep->add_replicas());
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::StatReplicas(grpc::ServerContext*, const mayastor::Null*,
                                           mayastor::StatReplicasReply* rep) {
    auto list = _ctx.call_on_reactor([] { return pools().list_replicas(); });
    for (const auto& r : list) {
        to_proto_stats(r, rep->add_replicas());
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::ShareReplica(grpc::ServerContext*, const mayastor::ShareReplicaRequest* req,
                                           mayastor::ShareReplicaReply* rep) {
    if (!mayastor::ShareProtocolReplica_IsValid(req->share())) {
        return grpc_error(StatusCode::INVALID_ARGUMENT,
                          fmt::format("unknown share protocol {}", req->share()));
    }
    auto lock = _ctx.serialize();
    std::string name = req->uuid();
    auto info = _ctx.call_on_reactor([name] { return pools().get_replica(name); });
    if (!info) {
        // INTERNAL, not NOT_FOUND: the fact sheet's code for an unknown replica.
        return grpc_error(StatusCode::INTERNAL, info.error());
    }
    if (info->kind == lvs::LvolKind::Snapshot) {
        return grpc_error(StatusCode::INTERNAL, fmt::format("'{}' is a snapshot, not a replica", name));
    }
    switch (req->share()) {
        case mayastor::REPLICA_ISCSI:
            return grpc_error(StatusCode::INTERNAL, "replicas cannot be shared over iSCSI (use NVMe-oF)");
        case mayastor::REPLICA_NVMF:
            return unimplemented("ShareReplica", "sharing a replica over NVMe-oF");
        default:
            break;
    }
    if (info->share != lvs::ShareProtocol::None) {
        Status s = _ctx.on_reactor([name] { return pools().set_share(name, lvs::ShareProtocol::None); });
        if (!s) {
            return grpc_error(StatusCode::INTERNAL, s.error());
        }
        info->share = lvs::ShareProtocol::None;
        log::info("ShareReplica: replica '{}' unshared", name);
    }
    rep->set_uri(replica_uri(*info, _ctx.options().pod_ip));
    return grpc::Status::OK;
}

}  // namespace ms::api
