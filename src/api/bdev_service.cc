#include "api/bdev_service.h"

#include "api/bdev_calls.h"
#include "api/grpc_status.h"
#include "api/nvmf_share.h"
#include "api/proto_convert.h"
#include "bdev/device_registry.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

grpc::Status BdevService::List(grpc::ServerContext*, const mayastor::Null*, mayastor::Bdevs* rep) {
    auto list = _ctx.call_on_reactor([] { return list_bdevs(); });
    for (auto& b : list) {
        // Shared over NVMe-oF: the subsystem's URI instead of bdev:///<name>.
        if (_ctx.target() != nullptr && _ctx.target()->has_subsystem(nvmf::nqn_for(b.name))) {
            b.share_uri = _ctx.target()->uri_for(nvmf::nqn_for(b.name));
        }
        to_proto(b, rep->add_bdevs());
    }
    return grpc::Status::OK;
}

grpc::Status BdevService::Create(grpc::ServerContext*, const mayastor::BdevUri* req,
                                 mayastor::CreateReply* rep) {
    std::string uri = req->uri();
    // Serialized with the pool calls: a device and a pool may be made from the same disk.
    auto lock = _ctx.serialize();
    auto name = _ctx.on_reactor([uri] { return create_bdev(uri); });
    if (!name) {
        // A bad URI, scheme or parameter is the caller's; anything else (missing file, name
        // taken by another device, ...) is INTERNAL, as the fact sheet says.
        return grpc_error(name.error().code == EINVAL ? StatusCode::INVALID_ARGUMENT : StatusCode::INTERNAL,
                          name.error());
    }
    rep->set_name(*name);
    log::info("BdevRpc.Create: device '{}' from '{}'", *name, uri);
    return grpc::Status::OK;
}

grpc::Status BdevService::Destroy(grpc::ServerContext*, const mayastor::BdevUri* req, mayastor::Null*) {
    std::string uri = req->uri();
    auto lock = _ctx.serialize();
    Status s = _ctx.on_reactor([uri] { return destroy_bdev(uri); });
    if (!s) {
        switch (s.error().code) {
            case EINVAL:
                return grpc_error(StatusCode::INVALID_ARGUMENT, s.error());
            case ENODEV:
                return grpc_error(StatusCode::NOT_FOUND, s.error());
            default:
                return grpc_error(StatusCode::INTERNAL, s.error());
        }
    }
    log::info("BdevRpc.Destroy: device of '{}' destroyed", uri);
    return grpc::Status::OK;
}

grpc::Status BdevService::Share(grpc::ServerContext*, const mayastor::BdevShareRequest* req,
                                mayastor::BdevShareReply* rep) {
    std::string name = req->name();
    bool exists = _ctx.call_on_reactor([name] { return DeviceRegistry::instance().lookup(name) != nullptr; });
    if (!exists) {
        return grpc_error(StatusCode::NOT_FOUND, fmt::format("no device named '{}'", name));
    }
    if (req->proto() == "nvmf") {
        if (_ctx.target() == nullptr) {
            return grpc_error(StatusCode::INTERNAL, "BdevRpc.Share: the NVMe-oF target is not running");
        }
        auto lock = _ctx.serialize();
        // A replica's subsystem answers the snapshot command as ShareReplica's does.
        bool replica = _ctx.call_on_reactor([name] {
            auto r = lvs::PoolRegistry::instance().get_replica(name);
            return r && r->kind != lvs::LvolKind::Snapshot;
        });
        auto nqn = replica ? share_replica(*_ctx.target(), name) : share_device(*_ctx.target(), name);
        if (!nqn) {
            return grpc_error(nqn.error().code == ENODEV ? StatusCode::NOT_FOUND : StatusCode::INTERNAL,
                              nqn.error());
        }
        rep->set_uri(_ctx.target()->uri_for(*nqn));
        log::info("BdevRpc.Share: device '{}' shared at {}", name, rep->uri());
        return grpc::Status::OK;
    }
    if (req->proto() == "iscsi") {
        return unimplemented("BdevRpc.Share", "the iSCSI target");
    }
    return grpc_error(StatusCode::INVALID_ARGUMENT,
                      fmt::format("unknown share protocol '{}' (nvmf or iscsi)", req->proto()));
}

grpc::Status BdevService::Unshare(grpc::ServerContext*, const mayastor::CreateReply* req, mayastor::Null*) {
    // A device that is not shared (or does not exist) is OK.
    if (_ctx.target() == nullptr) {
        return grpc::Status::OK;
    }
    auto lock = _ctx.serialize();
    std::string name = req->name();
    if (Status s = unshare_device(*_ctx.target(), name); !s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    // A published nexus unshared this way is no longer published.
    if (name.starts_with(kNexusPrefix)) {
        if (auto uuid = Uuid::parse(name.substr(kNexusPrefix.size()))) {
            Uuid u = *uuid;
            (void)_ctx.call_on_reactor(
                [u] { return nexus::NexusRegistry::instance().set_device_uri(u, std::string{}); });
        }
    }
    return grpc::Status::OK;
}

}  // namespace ms::api
