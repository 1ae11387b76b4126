// Mayastor.PublishNexus / UnpublishNexus / GetNvmeAnaState / SetNvmeAnaState / CreateSnapshot /
// ListNvmeControllers: a nexus exported by the NVMe-oF target (NQN
// nqn.2019-05.io.openebs:nexus-<uuid>, on the replica port as the fact sheet says), its ANA
// state, snapshots of its replicas, and the controllers of the NVMe-oF host.
//
// A nexus is published over NVMe-oF exactly when its device_uri (NexusRegistry) is an nvmf://
// URI; the target's subsystem and that URI are made and removed together, under the
// serialisation lock.
#include <ctime>

#include "api/grpc_status.h"
#include "api/mayastor_service.h"
#include "api/nvmf_share.h"
#include "api/proto_convert.h"
#include "bdev/nvmf/nvmf_controllers.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

namespace {

auto& nexuses() {
    return nexus::NexusRegistry::instance();
}

std::string_view protocol_name(mayastor::ShareProtocolNexus p) {
    switch (p) {
        case mayastor::NEXUS_NBD:
            return "NBD";
        case mayastor::NEXUS_NVMF:
            return "NVMe-oF";
        case mayastor::NEXUS_ISCSI:
            return "iSCSI";
        default:
            return "unknown";
    }
}

// The protocol a published nexus's device URI means.
mayastor::ShareProtocolNexus protocol_of(const std::string& device_uri) {
    if (device_uri.starts_with("nvmf://")) {
        return mayastor::NEXUS_NVMF;
    }
    if (device_uri.starts_with("iscsi://")) {
        return mayastor::NEXUS_ISCSI;
    }
    return mayastor::NEXUS_NBD;
}

}  // namespace

std::expected<std::string, grpc::Status> MayastorService::nvmf_published(const Uuid& uuid) const {
    auto info = _ctx.call_on_reactor([uuid] { return nexuses().get(uuid); });
    if (!info) {
        return std::unexpected(
            grpc_error(StatusCode::NOT_FOUND, fmt::format("nexus '{}' not found", uuid.to_string())));
    }
    if (_ctx.target() == nullptr || protocol_of(info->device_uri) != mayastor::NEXUS_NVMF ||
        info->device_uri.empty()) {
        return std::unexpected(
            grpc_error(StatusCode::INVALID_ARGUMENT,
                       fmt::format("nexus '{}' is not published over NVMe-oF", info->name)));
    }
    return nvmf::nqn_for(info->name);
}

grpc::Status MayastorService::PublishNexus(grpc::ServerContext*, const mayastor::PublishNexusRequest* req,
                                           mayastor::PublishNexusReply* rep) {
    if (!req->key().empty() && req->key().size() != 16) {
        return grpc_error(StatusCode::INVALID_ARGUMENT, "the key must be empty or 16 characters long");
    }
    if (!mayastor::ShareProtocolNexus_IsValid(req->share())) {
        return grpc_error(StatusCode::INVALID_ARGUMENT,
                          fmt::format("unknown share protocol {}", req->share()));
    }
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto lock = _ctx.serialize();
    Uuid u = *uuid;
    auto info = _ctx.call_on_reactor([u] { return nexuses().get(u); });
    if (!info) {
        return grpc_error(StatusCode::NOT_FOUND, fmt::format("nexus '{}' not found", req->uuid()));
    }
    mayastor::ShareProtocolNexus want = req->share();
    if (!info->device_uri.empty()) {
        mayastor::ShareProtocolNexus have = protocol_of(info->device_uri);
        if (have != want) {
            return grpc_error(StatusCode::INVALID_ARGUMENT,
                              fmt::format("nexus '{}' is already published over {} ({})", info->name,
                                          protocol_name(have), info->device_uri));
        }
        rep->set_device_uri(info->device_uri);  // idempotent
        return grpc::Status::OK;
    }
    if (want == mayastor::NEXUS_NBD) {
        return unimplemented("PublishNexus", "publishing a nexus over NBD");
    }
    if (want == mayastor::NEXUS_ISCSI) {
        return unimplemented("PublishNexus", "publishing a nexus over iSCSI (the iSCSI target)");
    }
    if (grpc::Status s = no_target("PublishNexus"); !s.ok()) {
        return s;
    }
    nvmf::SubsystemHooks hooks;
    hooks.create_snapshot = [u](uint64_t unix_seconds) { return snapshot_nexus(u, unix_seconds); };
    auto nqn = share_device(*_ctx.target(), info->name, std::move(hooks));
    if (!nqn) {
        return grpc_error(StatusCode::INTERNAL, fmt::format("publishing nexus '{}' over NVMe-oF failed: {}",
                                                            info->name, nqn.error().message));
    }
    std::string uri = _ctx.target()->uri_for(*nqn);
    Status recorded = _ctx.call_on_reactor([u, uri] { return nexuses().set_device_uri(u, uri); });
    if (!recorded) {
        (void)_ctx.target()->remove_subsystem(*nqn);
        return grpc_error(StatusCode::INTERNAL, recorded.error());
    }
    rep->set_device_uri(uri);
    log::info("PublishNexus: nexus '{}' published at {}", info->name, uri);
    return grpc::Status::OK;
}

grpc::Status MayastorService::UnpublishNexus(grpc::ServerContext*, const mayastor::UnpublishNexusRequest* req,
                                             mayastor::Null*) {
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto lock = _ctx.serialize();
    Uuid u = *uuid;
    auto info = _ctx.call_on_reactor([u] { return nexuses().get(u); });
    if (!info) {
        return grpc_error(StatusCode::NOT_FOUND, fmt::format("nexus '{}' not found", req->uuid()));
    }
    if (info->device_uri.empty()) {
        return grpc::Status::OK;  // not published: nothing to do
    }
    if (_ctx.target() != nullptr) {
        if (Status s = unshare_device(*_ctx.target(), info->name); !s) {
            return grpc_error(StatusCode::INTERNAL, s.error());
        }
    }
    Status cleared = _ctx.call_on_reactor([u] { return nexuses().set_device_uri(u, std::string{}); });
    if (!cleared) {
        return grpc_error(StatusCode::INTERNAL, cleared.error());
    }
    log::info("UnpublishNexus: nexus '{}' unpublished from {}", info->name, info->device_uri);
    return grpc::Status::OK;
}

grpc::Status MayastorService::GetNvmeAnaState(grpc::ServerContext*,
                                              const mayastor::GetNvmeAnaStateRequest* req,
                                              mayastor::GetNvmeAnaStateReply* rep) {
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto nqn = nvmf_published(*uuid);
    if (!nqn) {
        return nqn.error();
    }
    auto state = _ctx.target()->ana_state(*nqn);
    if (!state) {
        return grpc_error(StatusCode::INTERNAL, state.error());
    }
    rep->set_ana_state(static_cast<mayastor::NvmeAnaState>(static_cast<int>(*state)));
    return grpc::Status::OK;
}

grpc::Status MayastorService::SetNvmeAnaState(grpc::ServerContext*,
                                              const mayastor::SetNvmeAnaStateRequest* req, mayastor::Null*) {
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto nqn = nvmf_published(*uuid);
    if (!nqn) {
        return nqn.error();
    }
    nvme::AnaState state;
    switch (req->ana_state()) {
        case mayastor::NVME_ANA_OPTIMIZED_STATE:
            state = nvme::AnaState::Optimized;
            break;
        case mayastor::NVME_ANA_NON_OPTIMIZED_STATE:
            state = nvme::AnaState::NonOptimized;
            break;
        case mayastor::NVME_ANA_INACCESSIBLE_STATE:
            state = nvme::AnaState::Inaccessible;
            break;
        default:
            return grpc_error(StatusCode::INVALID_ARGUMENT,
                              fmt::format("ANA state {} cannot be set (optimized, non-optimized or "
                                          "inaccessible)",
                                          static_cast<int>(req->ana_state())));
    }
    if (Status s = _ctx.target()->set_ana_state(*nqn, state); !s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    log::info("SetNvmeAnaState: nexus '{}' ANA state {}", req->uuid(), static_cast<int>(state));
    return grpc::Status::OK;
}

grpc::Status MayastorService::CreateSnapshot(grpc::ServerContext*, const mayastor::CreateSnapshotRequest* req,
                                             mayastor::CreateSnapshotReply* rep) {
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto lock = _ctx.serialize();
    Uuid u = *uuid;
    auto secs = static_cast<uint64_t>(std::time(nullptr));
    Status s = _ctx.on_reactor([u, secs] { return snapshot_nexus(u, secs); });
    if (!s) {
        return grpc_error(s.error().code == ENOENT ? StatusCode::NOT_FOUND : StatusCode::INTERNAL, s.error());
    }
    std::string name = fmt::format("{}-snap-{}", nexus_name(u), secs);
    rep->set_name(name);
    log::info("CreateSnapshot: snapshot '{}' of every replica of nexus '{}'", name, nexus_name(u));
    return grpc::Status::OK;
}

grpc::Status MayastorService::ListNvmeControllers(grpc::ServerContext*, const mayastor::Null*,
                                                  mayastor::ListNvmeControllersReply* rep) {
    for (const auto& c : nvmf_host::list_controllers()) {
        auto* out = rep->add_controllers();
        out->set_name(c.name);
        out->set_state(static_cast<mayastor::NvmeControllerState>(static_cast<int>(c.state)));
        out->set_size(c.size_bytes);
        out->set_blk_size(c.block_size);
    }
    return grpc::Status::OK;
}

}  // namespace ms::api
