#include "api/mayastor_service.h"

#include <sys/resource.h>

#include "api/block_devices.h"
#include "api/grpc_status.h"

namespace ms::api {

grpc::Status MayastorService::ListBlockDevices(grpc::ServerContext*,
                                               const mayastor::ListBlockDevicesRequest* req,
                                               mayastor::ListBlockDevicesReply* rep) {
    // Host information, not data-path state: read here, on the gRPC thread (it may block on
    // sysfs and device probing, which a reactor must not).
    for (auto& dev : list_block_devices(req->all())) {
        *rep->add_devices() = std::move(dev);
    }
    return grpc::Status::OK;
}

grpc::Status MayastorService::GetResourceUsage(grpc::ServerContext*, const mayastor::Null*,
                                               mayastor::GetResourceUsageReply* rep) {
    rusage ru{};
    if (::getrusage(RUSAGE_SELF, &ru) != 0) {
        return grpc_error(grpc::StatusCode::INTERNAL, fmt::format("getrusage: {}", std::strerror(errno)));
    }
    auto* u = rep->mutable_usage();
    u->set_soft_faults(ru.ru_minflt);
    u->set_hard_faults(ru.ru_majflt);
    u->set_swaps(ru.ru_nswap);
    u->set_in_block_ops(ru.ru_inblock);
    u->set_out_block_ops(ru.ru_oublock);
    u->set_ipc_msg_send(ru.ru_msgsnd);
    u->set_ipc_msg_rcv(ru.ru_msgrcv);
    u->set_signals(ru.ru_nsignals);
    u->set_vol_csw(ru.ru_nvcsw);
    u->set_invol_csw(ru.ru_nivcsw);
    return grpc::Status::OK;
}

// The RPCs of parts that do not exist yet. Those about a nexus first give the answers the fact
// sheet fixes for a bad uuid (INVALID_ARGUMENT) and an unknown nexus (NOT_FOUND).
grpc::Status MayastorService::PublishNexus(grpc::ServerContext*, const mayastor::PublishNexusRequest* req,
                                           mayastor::PublishNexusReply*) {
    if (!req->key().empty() && req->key().size() != 16) {
        return grpc_error(grpc::StatusCode::INVALID_ARGUMENT, "the key must be empty or 16 characters long");
    }
    if (!mayastor::ShareProtocolNexus_IsValid(req->share())) {
        return grpc_error(grpc::StatusCode::INVALID_ARGUMENT,
                          fmt::format("unknown share protocol {}", req->share()));
    }
    if (auto uuid = existing_nexus(req->uuid()); !uuid) {
        return uuid.error();
    }
    return unimplemented("PublishNexus", "sharing a nexus (the NBD, NVMe-oF and iSCSI targets)");
}

grpc::Status MayastorService::UnpublishNexus(grpc::ServerContext*, const mayastor::UnpublishNexusRequest* req,
                                             mayastor::Null*) {
    if (auto uuid = existing_nexus(req->uuid()); !uuid) {
        return uuid.error();
    }
    return unimplemented("UnpublishNexus", "sharing a nexus (the NBD, NVMe-oF and iSCSI targets)");
}

grpc::Status MayastorService::GetNvmeAnaState(grpc::ServerContext*,
                                              const mayastor::GetNvmeAnaStateRequest* req,
                                              mayastor::GetNvmeAnaStateReply*) {
    if (auto uuid = existing_nexus(req->uuid()); !uuid) {
        return uuid.error();
    }
    return unimplemented("GetNvmeAnaState", "the nexus NVMe-oF target (ANA)");
}

grpc::Status MayastorService::SetNvmeAnaState(grpc::ServerContext*,
                                              const mayastor::SetNvmeAnaStateRequest* req, mayastor::Null*) {
    if (auto uuid = existing_nexus(req->uuid()); !uuid) {
        return uuid.error();
    }
    return unimplemented("SetNvmeAnaState", "the nexus NVMe-oF target (ANA)");
}

grpc::Status MayastorService::CreateSnapshot(grpc::ServerContext*, const mayastor::CreateSnapshotRequest* req,
                                             mayastor::CreateSnapshotReply*) {
    if (auto uuid = existing_nexus(req->uuid()); !uuid) {
        return uuid.error();
    }
    return unimplemented(
        "CreateSnapshot",
        "a snapshot through the nexus (snapshot single replicas with CreateReplicaSnapshot)");
}

grpc::Status MayastorService::ListNvmeControllers(grpc::ServerContext*, const mayastor::Null*,
                                                  mayastor::ListNvmeControllersReply*) {
    return unimplemented("ListNvmeControllers", "the NVMe-oF initiator (nvmf:// devices)");
}

}  // namespace ms::api
