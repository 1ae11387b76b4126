// Mayastor.CreatePool / DestroyPool / ListPools.
#include "api/grpc/grpc_status.h"
#include "api/grpc/mayastor_service.h"
#include "api/grpc/proto_convert.h"
#include "api/ops/share_ops.h"
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
        // disk holding a pool of another name is INVALID_ARGUMENT (fact sheet); a disk in use
        // (claimed by a share, a nexus or another pool) FAILED_PRECONDITION.
        return internal_unless(
            e, {{EXDEV, StatusCode::INVALID_ARGUMENT}, {EBUSY, StatusCode::FAILED_PRECONDITION}});
    }
    to_proto(*pool, rep);
    // An imported pool's replicas that were shared are shared again.
    restore_replica_shares(_ctx.shares(), _ctx.reactor(), name);
    // Recorded as reported (creation URI with the base device's uuid): the next start makes
    // the base device with the same uuid, so Pool.disks stays the same across restarts.
    _ctx.pool_created(name, pool->disk);
    log::info("CreatePool: pool '{}' on '{}' ({} bytes)", name, pool->disk, pool->capacity);
    return grpc::Status::OK;
}

grpc::Status MayastorService::unshare_pool(const std::string& pool) {
    auto list = _ctx.call_on_reactor([] { return lvs::PoolRegistry::instance().list_replicas(); });
    for (const auto& r : list) {
        if (r.pool != pool) {
            continue;
        }
        if (Status s = unshare_device(_ctx.shares(), _ctx.reactor(), r.name, true); !s) {
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
    // Its replicas are unshared first: their shares hold them open.
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
