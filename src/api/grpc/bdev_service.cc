#include "api/grpc/bdev_service.h"

#include "api/grpc/grpc_status.h"
#include "api/grpc/proto_convert.h"
#include "api/ops/bdev_ops.h"
#include "api/ops/share_ops.h"
#include "bdev/device_registry.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

grpc::Status BdevService::List(grpc::ServerContext*, const mayastor::Null*, mayastor::Bdevs* rep) {
    auto list = _ctx.call_on_reactor([] { return list_bdevs(); });
    for (auto& b : list) {
        // Shared: the share's URI instead of bdev:///<name>.
        b.share_uri = share_uri(_ctx.shares(), b.name);
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

namespace {

// The protocols BdevRpc.Share takes: the sheet's "nvmf" and "iscsi", and our "nbd" (an
// nbd://IP:PORT/NAME export on the NBD server).
bool known_share_protocol(std::string_view proto) {
    return proto == target::kNvmf || proto == target::kIscsi || proto == target::kNbd;
}

}  // namespace

grpc::Status BdevService::Share(grpc::ServerContext*, const mayastor::BdevShareRequest* req,
                                mayastor::BdevShareReply* rep) {
    std::string name = req->name();
    if (!known_share_protocol(req->proto())) {
        return grpc_error(StatusCode::INVALID_ARGUMENT,
                          fmt::format("unknown share protocol '{}' (nvmf, iscsi or nbd)", req->proto()));
    }
    bool exists = _ctx.call_on_reactor([name] { return DeviceRegistry::instance().lookup(name) != nullptr; });
    if (!exists) {
        return grpc_error(StatusCode::NOT_FOUND, fmt::format("no device named '{}'", name));
    }
    auto lock = _ctx.serialize();
    auto uri = share_device(_ctx.shares(), _ctx.reactor(), name, req->proto());
    if (!uri) {
        // In use (claimed by a pool or a nexus, or shared over another protocol) is the
        // caller's to resolve; any other failure is INTERNAL (fact sheet).
        return internal_unless(uri.error(),
                               {{ENODEV, StatusCode::NOT_FOUND}, {EBUSY, StatusCode::FAILED_PRECONDITION}});
    }
    rep->set_uri(*uri);
    log::info("BdevRpc.Share: device '{}' shared at {}", name, rep->uri());
    return grpc::Status::OK;
}

grpc::Status BdevService::Unshare(grpc::ServerContext*, const mayastor::CreateReply* req, mayastor::Null*) {
    // A device that is not shared (or does not exist) is OK.
    auto lock = _ctx.serialize();
    if (Status s = unshare_device(_ctx.shares(), _ctx.reactor(), req->name()); !s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    return grpc::Status::OK;
}

}  // namespace ms::api
