// Mayastor.StartRebuild / StopRebuild / PauseRebuild / ResumeRebuild / GetRebuildState /
// GetRebuildStats / GetRebuildProgress: the rebuild job into child `uri` of a nexus. All are
// Serialized. A bad uuid is INVALID_ARGUMENT, an unknown nexus NOT_FOUND; a missing job is
// INTERNAL (fact sheet), except for StopRebuild, where it is OK.
#include "api/grpc_status.h"
#include "api/mayastor_service.h"
#include "api/proto_convert.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

namespace {

auto& nexuses() {
    return nexus::NexusRegistry::instance();
}

}  // namespace

grpc::Status MayastorService::StartRebuild(grpc::ServerContext*, const mayastor::StartRebuildRequest* req,
                                           mayastor::Null*) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    Status s = _ctx.on_reactor([u, uri] { return nexuses().start_rebuild(u, uri); });
    if (!s) {
        // Not a child: NOT_FOUND; a destination that is not out of sync (EALREADY): INTERNAL.
        const Error& e = s.error();
        return grpc_error(e.code == ENOENT ? StatusCode::NOT_FOUND : StatusCode::INTERNAL, e);
    }
    log::info("StartRebuild: rebuilding child '{}' of nexus '{}'", uri, nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::StopRebuild(grpc::ServerContext*, const mayastor::StopRebuildRequest* req,
                                          mayastor::Null*) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    Status s = _ctx.on_reactor([u, uri] { return nexuses().stop_rebuild(u, uri); });
    if (!s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    log::info("StopRebuild: rebuild of child '{}' of nexus '{}' stopped (or there was none)", uri,
              nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::PauseRebuild(grpc::ServerContext*, const mayastor::PauseRebuildRequest* req,
                                           mayastor::Null*) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    Status s = _ctx.on_reactor([u, uri] { return nexuses().pause_rebuild(u, uri); });
    if (!s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    log::info("PauseRebuild: rebuild of child '{}' of nexus '{}' paused", uri, nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::ResumeRebuild(grpc::ServerContext*, const mayastor::ResumeRebuildRequest* req,
                                            mayastor::Null*) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    Status s = _ctx.on_reactor([u, uri] { return nexuses().resume_rebuild(u, uri); });
    if (!s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    log::info("ResumeRebuild: rebuild of child '{}' of nexus '{}' resumed", uri, nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::GetRebuildState(grpc::ServerContext*, const mayastor::RebuildStateRequest* req,
                                              mayastor::RebuildStateReply* rep) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    auto state = _ctx.call_on_reactor([u, uri] { return nexuses().rebuild_state(u, uri); });
    if (!state) {
        return grpc_error(StatusCode::INTERNAL, state.error());
    }
    rep->set_state(std::string(nexus::to_string(*state)));
    return grpc::Status::OK;
}

grpc::Status MayastorService::GetRebuildStats(grpc::ServerContext*, const mayastor::RebuildStatsRequest* req,
                                              mayastor::RebuildStatsReply* rep) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    auto stats = _ctx.call_on_reactor([u, uri] { return nexuses().rebuild_stats(u, uri); });
    if (!stats) {
        return grpc_error(StatusCode::INTERNAL, stats.error());
    }
    to_proto(*stats, rep);
    return grpc::Status::OK;
}

grpc::Status MayastorService::GetRebuildProgress(grpc::ServerContext*,
                                                 const mayastor::RebuildProgressRequest* req,
                                                 mayastor::RebuildProgressReply* rep) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    std::string uri = req->uri();
    auto stats = _ctx.call_on_reactor([u, uri] { return nexuses().rebuild_stats(u, uri); });
    if (!stats) {
        return grpc_error(StatusCode::INTERNAL, stats.error());
    }
    rep->set_progress(static_cast<uint32_t>(stats->progress));
    return grpc::Status::OK;
}

}  // namespace ms::api
