// Mayastor.PublishNexus / UnpublishNexus / GetNvmeAnaState / SetNvmeAnaState / CreateSnapshot /
// ListNvmeControllers: a nexus exported through the share registry (NBD: the kernel's
// /dev/nbdN on this machine; NVMe-oF: subsystem nqn.2019-05.io.openebs:nexus-<uuid> on the
// replica port, as the fact sheet says; iSCSI when its server runs), its path (ANA) state,
// snapshots of its replicas, and the controllers of the NVMe-oF host. Whether and where a
// nexus is published is the registry's record (ListNexus's device_uri reads it too).
#include <ctime>

#include "api/grpc/grpc_status.h"
#include "api/grpc/mayastor_service.h"
#include "api/grpc/proto_convert.h"
#include "api/ops/share_ops.h"
#include "bdev/nvmf/nvmf_controllers.h"
#include "core/log.h"

namespace ms::api {

using grpc::StatusCode;

namespace {

// How each ShareProtocolNexus is served: the registry protocol, and whether the export is
// attached to this machine's kernel (NBD: file:///dev/nbdN, as the sheet says).
struct NexusShare {
    std::string_view protocol;
    bool local_device;
};

NexusShare nexus_share(mayastor::ShareProtocolNexus p) {
    switch (p) {
        case mayastor::NEXUS_NVMF:
            return {target::kNvmf, false};
        case mayastor::NEXUS_ISCSI:
            return {target::kIscsi, false};
        default:
            return {target::kNbd, true};
    }
}

}  // namespace

std::expected<std::pair<target::ShareInfo, target::ShareServer*>, grpc::Status> MayastorService::path_share(
    const Uuid& uuid) const {
    std::string name = nexus_name(uuid);
    auto share = _ctx.shares().find(name);
    target::ShareServer* server = share ? _ctx.shares().server(share->protocol) : nullptr;
    if (server == nullptr || !server->path_state(name)) {
        return std::unexpected(
            grpc_error(StatusCode::INVALID_ARGUMENT,
                       share ? fmt::format("nexus '{}' is published over {}, which has no ANA state", name,
                                           share->protocol)
                             : fmt::format("nexus '{}' is not published over NVMe-oF", name)));
    }
    return std::pair{*share, server};
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
    std::string name = nexus_name(*uuid);
    NexusShare want = nexus_share(req->share());
    if (auto have = _ctx.shares().find(name)) {
        if (have->protocol != want.protocol || have->local_device != want.local_device) {
            return grpc_error(
                StatusCode::INVALID_ARGUMENT,
                fmt::format("nexus '{}' is already published over {} ({})", name, have->protocol, have->uri));
        }
        rep->set_device_uri(have->uri);  // idempotent
        return grpc::Status::OK;
    }
    target::ShareOptions options;
    options.local_device = want.local_device;
    auto uri = share_device(_ctx.shares(), _ctx.reactor(), name, want.protocol, std::move(options));
    if (!uri) {
        // No server for the protocol on this node is UNIMPLEMENTED; a nexus in use (claimed)
        // FAILED_PRECONDITION; the rest INTERNAL.
        return internal_unless(uri.error(), {{EPROTONOSUPPORT, StatusCode::UNIMPLEMENTED},
                                             {EBUSY, StatusCode::FAILED_PRECONDITION}});
    }
    rep->set_device_uri(*uri);
    log::info("PublishNexus: nexus '{}' published at {}", name, *uri);
    return grpc::Status::OK;
}

grpc::Status MayastorService::UnpublishNexus(grpc::ServerContext*, const mayastor::UnpublishNexusRequest* req,
                                             mayastor::Null*) {
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto lock = _ctx.serialize();
    std::string name = nexus_name(*uuid);
    auto have = _ctx.shares().find(name);
    if (!have) {
        return grpc::Status::OK;  // not published: nothing to do
    }
    if (Status s = _ctx.shares().unshare(name); !s) {
        return grpc_error(StatusCode::INTERNAL, s.error());
    }
    log::info("UnpublishNexus: nexus '{}' unpublished from {}", name, have->uri);
    return grpc::Status::OK;
}

grpc::Status MayastorService::GetNvmeAnaState(grpc::ServerContext*,
                                              const mayastor::GetNvmeAnaStateRequest* req,
                                              mayastor::GetNvmeAnaStateReply* rep) {
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto share = path_share(*uuid);
    if (!share) {
        return share.error();
    }
    auto state = share->second->path_state(share->first.device_name);
    if (!state) {
        return grpc_error(StatusCode::INTERNAL, state.error());
    }
    switch (*state) {
        case target::PathState::Optimized:
            rep->set_ana_state(mayastor::NVME_ANA_OPTIMIZED_STATE);
            break;
        case target::PathState::NonOptimized:
            rep->set_ana_state(mayastor::NVME_ANA_NON_OPTIMIZED_STATE);
            break;
        case target::PathState::Inaccessible:
            rep->set_ana_state(mayastor::NVME_ANA_INACCESSIBLE_STATE);
            break;
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::SetNvmeAnaState(grpc::ServerContext*,
                                              const mayastor::SetNvmeAnaStateRequest* req, mayastor::Null*) {
    auto uuid = existing_nexus(req->uuid());
    if (!uuid) {
        return uuid.error();
    }
    auto share = path_share(*uuid);
    if (!share) {
        return share.error();
    }
    target::PathState state;
    switch (req->ana_state()) {
        case mayastor::NVME_ANA_OPTIMIZED_STATE:
            state = target::PathState::Optimized;
            break;
        case mayastor::NVME_ANA_NON_OPTIMIZED_STATE:
            state = target::PathState::NonOptimized;
            break;
        case mayastor::NVME_ANA_INACCESSIBLE_STATE:
            state = target::PathState::Inaccessible;
            break;
        default:
            return grpc_error(StatusCode::INVALID_ARGUMENT,
                              fmt::format("ANA state {} cannot be set (optimized, non-optimized or "
                                          "inaccessible)",
                                          static_cast<int>(req->ana_state())));
    }
    if (Status s = share->second->set_path_state(share->first.device_name, state); !s) {
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
