// Mayastor.CreateReplica / DestroyReplica / ListReplicas / StatReplicas / ShareReplica.
#include "api/grpc/grpc_status.h"
#include "api/grpc/mayastor_service.h"
#include "api/grpc/proto_convert.h"
#include "api/ops/share_ops.h"
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

std::optional<std::string_view> MayastorService::replica_protocol(mayastor::ShareProtocolReplica share) {
    switch (share) {
        case mayastor::REPLICA_NVMF:
            return target::kNvmf;
        case mayastor::REPLICA_ISCSI:
            return target::kIscsi;
        default:
            return std::nullopt;
    }
}

grpc::Status MayastorService::share_new_replica(const std::string& name, std::string_view protocol,
                                                std::string_view rpc, mayastor::Replica* rep) {
    auto uri = share_device(_ctx.shares(), _ctx.reactor(), name, protocol);
    if (!uri) {
        // Nothing half-made remains: the replica goes again.
        Status destroyed = _ctx.on_reactor([name] { return pools().destroy_replica(name); });
        if (!destroyed) {
            log::error("{}: replica '{}' could not be destroyed after its share failed: {}", rpc, name,
                       destroyed.error().message);
        }
        return grpc_error(StatusCode::INTERNAL, fmt::format("sharing replica '{}' over {} failed: {}", name,
                                                            protocol, uri.error().message));
    }
    auto info = _ctx.call_on_reactor([name] { return pools().get_replica(name); });
    if (info) {
        to_proto(*info, _ctx.shares(), rep);
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
        to_proto(*existing, _ctx.shares(), rep);
        return grpc::Status::OK;
    }
    auto found = _ctx.call_on_reactor([pool] { return pools().get(pool); });
    if (!found) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, fmt::format("pool '{}' not found", pool));
    }
    auto protocol = replica_protocol(req->share());
    // Checked before anything is made, so that no replica is left behind.
    if (protocol && _ctx.shares().server(*protocol) == nullptr) {
        return grpc_error(StatusCode::INTERNAL,
                          fmt::format("CreateReplica: no {} server is running", *protocol));
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
    to_proto(*made, _ctx.shares(), rep);
    if (protocol) {
        if (grpc::Status s = share_new_replica(name, *protocol, "CreateReplica", rep); !s.ok()) {
            return s;
        }
    }
    log::info("CreateReplica: replica '{}' in pool '{}', {} bytes{}{}{}", name, pool, size,
              thin ? ", thin" : "", protocol ? ", shared over " : "", protocol.value_or(""));
    return grpc::Status::OK;
}

grpc::Status MayastorService::DestroyReplica(grpc::ServerContext*, const mayastor::DestroyReplicaRequest* req,
                                             mayastor::Null*) {
    auto lock = _ctx.serialize();
    std::string name = req->uuid();
    // Unshared first: the share holds the replica open (and claimed).
    if (Status u = unshare_device(_ctx.shares(), _ctx.reactor(), name, true); !u) {
        return grpc_error(StatusCode::INTERNAL, u.error());
    }
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
        to_proto(r, _ctx.shares(), rep->add_replicas());
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
    auto want = replica_protocol(req->share());
    if (want && _ctx.shares().server(*want) == nullptr) {
        // Checked before the current share is touched: a request that cannot be served
        // changes nothing.
        return grpc_error(StatusCode::INTERNAL,
                          fmt::format("replica '{}' cannot be shared over {}: no {} server is running", name,
                                      *want, *want));
    }
    auto have = _ctx.shares().find(name);
    if (have && (!want || have->protocol != *want)) {
        // Another protocol (or none) is asked for: the current share ends first.
        if (Status s = unshare_device(_ctx.shares(), _ctx.reactor(), name); !s) {
            return grpc_error(StatusCode::INTERNAL, s.error());
        }
        log::info("ShareReplica: replica '{}' no longer shared over {}", name, have->protocol);
    } else if (!have && !want && info->share != lvs::ShareProtocol::None) {
        // Stored as shared but not shared now (its share could not be restored): forget it.
        if (Status s = unshare_device(_ctx.shares(), _ctx.reactor(), name); !s) {
            return grpc_error(StatusCode::INTERNAL, s.error());
        }
    }
    if (want) {
        // Idempotent: the registry is, and the stored share is only written when it changes.
        auto uri = share_device(_ctx.shares(), _ctx.reactor(), name, *want);
        if (!uri && have) {
            // Back as it was, if that can be done.
            (void)share_device(_ctx.shares(), _ctx.reactor(), name, have->protocol);
        }
        if (!uri) {
            return grpc_error(StatusCode::INTERNAL, fmt::format("sharing replica '{}' over {} failed: {}",
                                                                name, *want, uri.error().message));
        }
        if (!have || have->protocol != *want) {
            log::info("ShareReplica: replica '{}' shared over {} at {}", name, *want, *uri);
        }
    }
    rep->set_uri(replica_uri(_ctx.shares(), *info));
    return grpc::Status::OK;
}

}  // namespace ms::api
