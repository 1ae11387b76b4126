// Mayastor.CreatePool / DestroyPool / ListPools.
#include "api/grpc_status.h"
#include "api/mayastor_service.h"
#include "api/nvmf_share.h"
#include "api/proto_convert.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

grpc::Status MayastorService::CreatePool(grpc::ServerContext*, const mayastor::CreatePoolRequest* req,
                                         mayastor::Pool* rep) {
    if (req->disks_size() != 1) {
        return grpc_error(
            StatusCode::INVALID_ARGUMENT,
            fmt::format("pool '{}' must have exactly one disk, not {}", req->name(), req->disks_size()));
    }
    if (req->name().empty() || req->name().size() > lvs::kMaxNameLength) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, fmt::format("bad pool name '{}' (1-{} characters)",
                                                                    req->name(), lvs::kMaxNameLength));
    }
    auto lock = _ctx.serialize();
    std::string name = req->name();
    std::string disk = req->disks(0);
    auto pool =
        _ctx.on_reactor([name, disk] { return lvs::PoolRegistry::instance().create_or_import(name, disk); });
    if (!pool) {
        const Error& e = pool.error();
        // Same name on another disk (EEXIST) and failures of the base device are INTERNAL; the
        // disk holding a pool of another name is INVALID_ARGUMENT (fact sheet).
        return grpc_error(e.code == EXDEV ? StatusCode::INVALID_ARGUMENT : StatusCode::INTERNAL, e);
    }
    to_proto(*pool, rep);
    // An imported pool's replicas that were shared over NVMe-oF are shared again.
    if (_ctx.target() != nullptr) {
        restore_replica_shares(*_ctx.target(), _ctx.reactor(), name);
    }
    // Recorded as reported (creation URI with the base device's uuid): the next start makes
    // the base device with the same uuid, so Pool.disks stays the same across restarts.
    _ctx.pool_created(name, pool->disk);
    log::info("CreatePool: pool '{}' on '{}' ({} bytes)", name, pool->disk, pool->capacity);
    return grpc::Status::OK;
}

grpc::Status MayastorService::unshare_pool(const std::string& pool) {
    if (_ctx.target() == nullptr) {
        return grpc::Status::OK;
    }
    auto list = _ctx.call_on_reactor([] { return lvs::PoolRegistry::instance().list_replicas(); });
    for (const auto& r : list) {
        if (r.pool != pool) {
            continue;
        }
        if (Status s = unshare_device(*_ctx.target(), r.name); !s) {
            return grpc_error(
                StatusCode::INTERNAL,
                fmt::format("pool '{}': unsharing replica '{}' failed: {}", pool, r.name, s.error().message));
        }
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::DestroyPool(grpc::ServerContext*, const mayastor::DestroyPoolRequest* req,
                                          mayastor::Null*) {
    auto lock = _ctx.serialize();
    std::string name = req->name();
    // Its replicas are unshared first: the target holds them open.
    if (grpc::Status u = unshare_pool(name); !u.ok()) {
        return u;
    }
    Status s = _ctx.on_reactor([name] { return lvs::PoolRegistry::instance().destroy(name); });
    if (!s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    _ctx.pool_destroyed(name);
    log::info("DestroyPool: pool '{}' destroyed (or did not exist)", name);
    return grpc::Status::OK;
}

grpc::Status MayastorService::ListPools(grpc::ServerContext*, const mayastor::Null*,
                                        mayastor::ListPoolsReply* rep) {
    auto lock = _ctx.serialize();
    auto pools = _ctx.call_on_reactor([] { return lvs::PoolRegistry::instance().list(); });
    for (const auto& p : pools) {
        to_proto(p, rep->add_pools());
    }
    return grpc::Status::OK;
}

}  // namespace ms::api
