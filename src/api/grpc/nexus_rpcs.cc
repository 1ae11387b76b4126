// Mayastor.CreateNexus / DestroyNexus / ListNexus / AddChildNexus / RemoveChildNexus /
// FaultNexusChild / ChildOperation over nexus::NexusRegistry. The registry's error codes
// (nexus.h) become the status codes the fact sheet gives each RPC.
#include <fmt/ranges.h>

#include "api/grpc/grpc_status.h"
#include "api/grpc/mayastor_service.h"
#include "api/grpc/proto_convert.h"
#include "api/ops/share_ops.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

namespace {

auto& nexuses() {
    return nexus::NexusRegistry::instance();
}

}  // namespace

std::expected<Uuid, grpc::Status> MayastorService::nexus_uuid(const std::string& text) {
    auto uuid = Uuid::parse(text);
    if (!uuid) {
        return std::unexpected(
            grpc_error(StatusCode::INVALID_ARGUMENT, fmt::format("'{}' is not a valid nexus uuid", text)));
    }
    return *uuid;
}

std::expected<Uuid, grpc::Status> MayastorService::existing_nexus(const std::string& text) const {
    auto uuid = nexus_uuid(text);
    if (!uuid) {
        return uuid;
    }
    Uuid u = *uuid;
    auto found = _ctx.call_on_reactor([u] { return nexuses().get(u); });
    if (!found) {
        return std::unexpected(grpc_error(StatusCode::NOT_FOUND, fmt::format("nexus '{}' not found", text)));
    }
    return u;
}

grpc::Status MayastorService::CreateNexus(grpc::ServerContext*, const mayastor::CreateNexusRequest* req,
                                          mayastor::Nexus* rep) {
    auto uuid = nexus_uuid(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto lock = _ctx.serialize();
    Uuid u = *uuid;
    std::string name = nexus_name(u);
    uint64_t size = req->size();
    std::vector<std::string> children(req->children().begin(), req->children().end());
    // An existing nexus with this uuid is returned as it is (the registry's create is idempotent).
    auto made =
        _ctx.on_reactor([name, size, u, children] { return nexuses().create(name, size, u, children); });
    if (!made) {
        const Error& e = made.error();
        switch (e.code) {
            case EINVAL:  // bad size, no children, a child that cannot be made or opened
                return grpc_error(StatusCode::INVALID_ARGUMENT, e);
            case EEXIST:  // the name is taken by a device that is not this nexus
                return grpc_error(StatusCode::ALREADY_EXISTS, e);
            default:  // EFBIG (a child smaller than the nexus), EUCLEAN (every child stale), ...
                return grpc_error(StatusCode::INTERNAL, e);
        }
    }
    to_proto(*made, _ctx.shares(), rep);
    log::info("CreateNexus: nexus '{}' of {} bytes over {}", name, size, fmt::join(children, ", "));
    return grpc::Status::OK;
}

grpc::Status MayastorService::DestroyNexus(grpc::ServerContext*, const mayastor::DestroyNexusRequest* req,
                                           mayastor::Null*) {
    auto uuid = nexus_uuid(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto lock = _ctx.serialize();
    Uuid u = *uuid;
    // Unpublished implicitly: the target holds the nexus open.
    if (Status un = _ctx.shares().unshare(nexus_name(u)); !un) {
        return grpc_error(StatusCode::INTERNAL, un.error());
    }
    Status s = _ctx.on_reactor([u] { return nexuses().destroy(u); });
    if (!s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    log::info("DestroyNexus: nexus '{}' destroyed (or did not exist)", nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::ListNexus(grpc::ServerContext*, const mayastor::Null*,
                                        mayastor::ListNexusReply* rep) {
    auto list = _ctx.call_on_reactor([] { return nexuses().list(); });
    for (const auto& n : list) {
        to_proto(n, _ctx.shares(), rep->add_nexus_list());
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::AddChildNexus(grpc::ServerContext*, const mayastor::AddChildNexusRequest* req,
                                            mayastor::Child* rep) {
    auto uuid = nexus_uuid(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    bool norebuild = req->norebuild();
    auto child = _ctx.on_reactor([u, uri, norebuild] { return nexuses().add_child(u, uri, norebuild); });
    if (!child) {
        const Error& e = child.error();
        switch (e.code) {
            case ENOENT:
                return grpc_error(StatusCode::NOT_FOUND, e);
            case EINVAL:  // a URI that cannot be made or opened, another block size
            case EFBIG:   // smaller than the nexus
                return grpc_error(StatusCode::INVALID_ARGUMENT, e);
            default:  // EEXIST (already a child) and the rest
                return grpc_error(StatusCode::INTERNAL, e);
        }
    }
    to_proto(*child, rep);
    log::info("AddChildNexus: child '{}' added to nexus '{}'{}", uri, nexus_name(u),
              norebuild ? " (no rebuild)" : "");
    return grpc::Status::OK;
}

grpc::Status MayastorService::RemoveChildNexus(grpc::ServerContext*,
                                               const mayastor::RemoveChildNexusRequest* req,
                                               mayastor::Null*) {
    auto uuid = nexus_uuid(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    Status s = _ctx.on_reactor([u, uri] { return nexuses().remove_child(u, uri); });
    if (!s) {
        const Error& e = s.error();
        switch (e.code) {
            case ENOENT:
                return grpc_error(StatusCode::NOT_FOUND, e);
            case EINVAL:  // the last child
                return grpc_error(StatusCode::INVALID_ARGUMENT, e);
            default:
                return grpc_error(StatusCode::INTERNAL, e);
        }
    }
    log::info("RemoveChildNexus: child '{}' removed from nexus '{}' (or was not a child)", uri,
              nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::FaultNexusChild(grpc::ServerContext*,
                                              const mayastor::FaultNexusChildRequest* req, mayastor::Null*) {
    auto uuid = nexus_uuid(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    Status s = _ctx.on_reactor([u, uri] { return nexuses().fault_child(u, uri); });
    if (!s) {
        // No such nexus or not a child: NOT_FOUND; the last healthy child (EBUSY): INTERNAL.
        const Error& e = s.error();
        return grpc_error(e.code == ENOENT ? StatusCode::NOT_FOUND : StatusCode::INTERNAL, e);
    }
    log::info("FaultNexusChild: child '{}' of nexus '{}' faulted", uri, nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::ChildOperation(grpc::ServerContext*, const mayastor::ChildNexusRequest* req,
                                             mayastor::Null*) {
    auto uuid = nexus_uuid(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    mayastor::ChildAction action = req->action();
    if (action != mayastor::offline && action != mayastor::online) {
        return grpc_error(StatusCode::INVALID_ARGUMENT,
                          fmt::format("unknown child action {}", req->action()));
    }
    auto lock = _ctx.serialize();
    Uuid u = *uuid;
    std::string uri = req->uri();
    Status s = action == mayastor::offline
                   ? _ctx.on_reactor([u, uri] { return nexuses().offline_child(u, uri); })
                   : _ctx.on_reactor([u, uri] { return nexuses().online_child(u, uri); });
    if (!s) {
        // No such nexus or child: NOT_FOUND; the last healthy child (EBUSY), a child that is
        // already open (EALREADY) and the rest: INTERNAL.
        const Error& e = s.error();
        return grpc_error(e.code == ENOENT ? StatusCode::NOT_FOUND : StatusCode::INTERNAL, e);
    }
    log::info("ChildOperation: child '{}' of nexus '{}' {}", uri, nexus_name(u),
              action == mayastor::offline ? "offline" : "online (rebuilding)");
    return grpc::Status::OK;
}

}  // namespace ms::api
