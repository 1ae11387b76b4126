// Mayastor.CreateReplica / DestroyReplica / ListReplicas / StatReplicas / ShareReplica.
#include "api/grpc_status.h"
#include "api/mayastor_service.h"
#include "api/nvmf_share.h"
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

grpc::Status MayastorService::no_target(std::string_view rpc) const {
    if (_ctx.target() != nullptr) {
        return grpc::Status::OK;
    }
    return grpc_error(StatusCode::INTERNAL, fmt::format("{}: the NVMe-oF target is not running", rpc));
}

grpc::Status MayastorService::share_new_replica(const std::string& name, std::string_view rpc,
                                                mayastor::Replica* rep) {
    auto nqn = share_replica(*_ctx.target(), name);
    Status stored =
        nqn ? _ctx.on_reactor([name] { return pools().set_share(name, lvs::ShareProtocol::Nvmf); })
            : Status(std::unexpected(nqn.error()));
    if (!stored) {
        // Nothing half-made remains: the subsystem and the replica go again.
        (void)unshare_device(*_ctx.target(), name);
        Status destroyed = _ctx.on_reactor([name] { return pools().destroy_replica(name); });
        if (!destroyed) {
            log::error("{}: replica '{}' could not be destroyed after its share failed: {}", rpc, name,
                       destroyed.error().message);
        }
        return grpc_error(StatusCode::INTERNAL, fmt::format("sharing replica '{}' over NVMe-oF failed: {}",
                                                            name, stored.error().message));
    }
    rep->set_share(mayastor::REPLICA_NVMF);
    auto info = _ctx.call_on_reactor([name] { return pools().get_replica(name); });
    if (info) {
        to_proto(*info, _ctx.options().pod_ip, rep, _ctx.nvmf_port());
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
        to_proto(*existing, _ctx.options().pod_ip, rep, _ctx.nvmf_port());
        return grpc::Status::OK;
    }
    auto found = _ctx.call_on_reactor([pool] { return pools().get(pool); });
    if (!found) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, fmt::format("pool '{}' not found", pool));
    }
    bool nvmf = req->share() == mayastor::REPLICA_NVMF;
    if (nvmf) {
        // Checked before anything is made, so that no replica is left behind.
        if (grpc::Status s = no_target("CreateReplica"); !s.ok()) {
            return s;
        }
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
    to_proto(*made, _ctx.options().pod_ip, rep, _ctx.nvmf_port());
    if (nvmf) {
        if (grpc::Status s = share_new_replica(name, "CreateReplica", rep); !s.ok()) {
            return s;
        }
    }
    log::info("CreateReplica: replica '{}' in pool '{}', {} bytes{}{}", name, pool, size,
              thin ? ", thin" : "", nvmf ? ", shared over NVMe-oF" : "");
    return grpc::Status::OK;
}

grpc::Status MayastorService::DestroyReplica(grpc::ServerContext*, const mayastor::DestroyReplicaRequest* req,
                                             mayastor::Null*) {
    auto lock = _ctx.serialize();
    std::string name = req->uuid();
    // Unshared first: the target holds the replica open.
    if (_ctx.target() != nullptr) {
        if (Status u = unshare_device(*_ctx.target(), name); !u) {
            return grpc_error(StatusCode::INTERNAL, u.error());
        }
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
        to_proto(r, _ctx.options().pod_ip, rep->add_replicas(), _ctx.nvmf_port());
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
    if (req->share() == mayastor::REPLICA_ISCSI) {
        return grpc_error(StatusCode::INTERNAL, "replicas cannot be shared over iSCSI (use NVMe-oF)");
    }
    if (req->share() == mayastor::REPLICA_NVMF) {
        if (grpc::Status s = no_target("ShareReplica"); !s.ok()) {
            return s;
        }
        // Idempotent: the target's add_subsystem is, and the stored state is only written when
        // it changes.
        if (auto nqn = share_replica(*_ctx.target(), name); !nqn) {
            return grpc_error(
                StatusCode::INTERNAL,
                fmt::format("sharing replica '{}' over NVMe-oF failed: {}", name, nqn.error().message));
        }
        if (info->share != lvs::ShareProtocol::Nvmf) {
            Status s = _ctx.on_reactor([name] { return pools().set_share(name, lvs::ShareProtocol::Nvmf); });
            if (!s) {
                (void)unshare_device(*_ctx.target(), name);
                return grpc_error(StatusCode::INTERNAL, s.error());
            }
            info->share = lvs::ShareProtocol::Nvmf;
            log::info("ShareReplica: replica '{}' shared over NVMe-oF", name);
        }
        rep->set_uri(replica_uri(*info, _ctx.options().pod_ip, _ctx.nvmf_port()));
        return grpc::Status::OK;
    }
    if (_ctx.target() != nullptr) {
        if (Status s = unshare_device(*_ctx.target(), name); !s) {
            return grpc_error(StatusCode::INTERNAL, s.error());
        }
    }
    if (info->share != lvs::ShareProtocol::None) {
        Status s = _ctx.on_reactor([name] { return pools().set_share(name, lvs::ShareProtocol::None); });
        if (!s) {
            return grpc_error(StatusCode::INTERNAL, s.error());
        }
        info->share = lvs::ShareProtocol::None;
        log::info("ShareReplica: replica '{}' unshared", name);
    }
    rep->set_uri(replica_uri(*info, _ctx.options().pod_ip, _ctx.nvmf_port()));
    return grpc::Status::OK;
}

}  // namespace ms::api
