// Mayastor.StartRebuild / StopRebuild / PauseRebuild / ResumeRebuild / GetRebuildState /
// GetRebuildStats / GetRebuildProgress: the rebuild job into child `uri` of a nexus. All are
// Serialized. A bad uuid is INVALID_ARGUMENT, an unknown nexus NOT_FOUND; a missing job is
// INTERNAL (fact sheet), except for StopRebuild, where it is OK.
#include "api/grpc/grpc_status.h"
#include "api/grpc/mayastor_service.h"
#include "api/grpc/proto_convert.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

namespace {

auto& nexuses() {
    return nexus::NexusRegistry::instance();
}

}  // namespace

grpc::Status MayastorService::control_rebuild(const std::string& uuid_text, const std::string& uri,
                                              RebuildControl op, StatusCode on_enoent,
                                              std::string_view done) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(uuid_text);
    if (!uuid) {
        return uuid.error();
    }
    Uuid u = *uuid;
    Status s = _ctx.on_reactor([u, uri, op] { return (nexuses().*op)(u, uri); });
    if (!s) {
        const Error& e = s.error();
        return grpc_error(e.code == ENOENT ? on_enoent : StatusCode::INTERNAL, e);
    }
    log::info("rebuild of child '{}' of nexus '{}': {}", uri, nexus_name(u), done);
    return grpc::Status::OK;
}

std::expected<nexus::RebuildStats, grpc::Status> MayastorService::rebuild_stats(const std::string& uuid_text,
                                                                                const std::string& uri) {
    auto lock = _ctx.serialize();
    auto uuid = existing_nexus(uuid_text);
    if (!uuid) {
        return std::unexpected(uuid.error());
    }
    Uuid u = *uuid;
    auto stats = _ctx.call_on_reactor([u, uri] { return nexuses().rebuild_stats(u, uri); });
    if (!stats) {
        return std::unexpected(grpc_error(StatusCode::INTERNAL, stats.error()));
    }
    return *stats;
}

grpc::Status MayastorService::StartRebuild(grpc::ServerContext*, const mayastor::StartRebuildRequest* req,
                                           mayastor::Null*) {
    // Not a child: NOT_FOUND; a destination that is not out of sync (EALREADY): INTERNAL.
    return control_rebuild(req->uuid(), req->uri(), &nexus::NexusRegistry::start_rebuild,
                           StatusCode::NOT_FOUND, "started");
}

grpc::Status MayastorService::StopRebuild(grpc::ServerContext*, const mayastor::StopRebuildRequest* req,
                                          mayastor::Null*) {
    // No job is OK (the registry says so itself).
    return control_rebuild(req->uuid(), req->uri(), &nexus::NexusRegistry::stop_rebuild, StatusCode::INTERNAL,
                           "stopped (or there was none)");
}

grpc::Status MayastorService::PauseRebuild(grpc::ServerContext*, const mayastor::PauseRebuildRequest* req,
                                           mayastor::Null*) {
    return control_rebuild(req->uuid(), req->uri(), &nexus::NexusRegistry::pause_rebuild,
                           StatusCode::INTERNAL, "paused");
}

grpc::Status MayastorService::ResumeRebuild(grpc::ServerContext*, const mayastor::ResumeRebuildRequest* req,
                                            mayastor::Null*) {
    return control_rebuild(req->uuid(), req->uri(), &nexus::NexusRegistry::resume_rebuild,
                           StatusCode::INTERNAL, "resumed");
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
    auto stats = rebuild_stats(req->uuid(), req->uri());
    if (!stats) {
        return stats.error();
    }
    to_proto(*stats, rep);
    return grpc::Status::OK;
}

grpc::Status MayastorService::GetRebuildProgress(grpc::ServerContext*,
                                                 const mayastor::RebuildProgressRequest* req,
                                                 mayastor::RebuildProgressReply* rep) {
    auto stats = rebuild_stats(req->uuid(), req->uri());
    if (!stats) {
        return stats.error();
    }
    rep->set_progress(static_cast<uint32_t>(stats->progress));
    return grpc::Status::OK;
}

}  // namespace ms::api
