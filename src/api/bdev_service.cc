#include "api/bdev_service.h"

#include "api/bdev_calls.h"
#include "api/grpc_status.h"
#include "api/proto_convert.h"
#include "bdev/device_registry.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

grpc::Status BdevService::List(grpc::ServerContext*, const mayastor::Null*, mayastor::Bdevs* rep) {
    auto list = _ctx.call_on_reactor([] { return list_bdevs(); });
    for (const auto& b : list) {
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
                                mayastor::BdevShareReply*) {
    std::string name = req->name();
    bool exists = _ctx.call_on_reactor([name] { return DeviceRegistry::instance().lookup(name) != nullptr; });
    if (!exists) {
        return grpc_error(StatusCode::NOT_FOUND, fmt::format("no device named '{}'", name));
    }
    if (req->proto() == "nvmf") {
        return unimplemented("BdevRpc.Share", "the NVMe-oF target");
    }
    if (req->proto() == "iscsi") {
        return unimplemented("BdevRpc.Share", "the iSCSI target");
    }
    return grpc_error(StatusCode::INVALID_ARGUMENT,
                      fmt::format("unknown share protocol '{}' (nvmf or iscsi)", req->proto()));
}

grpc::Status BdevService::Unshare(grpc::ServerContext*, const mayastor::CreateReply*, mayastor::Null*) {
    // No device can be shared yet: whatever the name, it is not shared, which is OK.
    return grpc::Status::OK;
}

}  // namespace ms::api
