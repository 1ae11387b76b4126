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

// The RPCs of parts that do not exist yet.
#define MS_API_UNIMPLEMENTED(name, request, reply, what)                                                   \
    grpc::Status MayastorService::name(grpc::ServerContext*, const mayastor::request*, mayastor::reply*) { \
        return unimplemented(#name, what);                                                                 \
    }

MS_API_UNIMPLEMENTED(CreateNexus, CreateNexusRequest, Nexus, "the nexus")
MS_API_UNIMPLEMENTED(DestroyNexus, DestroyNexusRequest, Null, "the nexus")
MS_API_UNIMPLEMENTED(ListNexus, Null, ListNexusReply, "the nexus")
MS_API_UNIMPLEMENTED(AddChildNexus, AddChildNexusRequest, Child, "the nexus")
MS_API_UNIMPLEMENTED(RemoveChildNexus, RemoveChildNexusRequest, Null, "the nexus")
MS_API_UNIMPLEMENTED(FaultNexusChild, FaultNexusChildRequest, Null, "the nexus")
MS_API_UNIMPLEMENTED(PublishNexus, PublishNexusRequest, PublishNexusReply,
                     "the nexus (and its NBD, NVMe-oF and iSCSI targets)")
MS_API_UNIMPLEMENTED(UnpublishNexus, UnpublishNexusRequest, Null, "the nexus")
MS_API_UNIMPLEMENTED(GetNvmeAnaState, GetNvmeAnaStateRequest, GetNvmeAnaStateReply,
                     "the nexus NVMe-oF target (ANA)")
MS_API_UNIMPLEMENTED(SetNvmeAnaState, SetNvmeAnaStateRequest, Null, "the nexus NVMe-oF target (ANA)")
MS_API_UNIMPLEMENTED(ChildOperation, ChildNexusRequest, Null, "the nexus")
MS_API_UNIMPLEMENTED(StartRebuild, StartRebuildRequest, Null, "nexus rebuild")
MS_API_UNIMPLEMENTED(StopRebuild, StopRebuildRequest, Null, "nexus rebuild")
MS_API_UNIMPLEMENTED(PauseRebuild, PauseRebuildRequest, Null, "nexus rebuild")
MS_API_UNIMPLEMENTED(ResumeRebuild, ResumeRebuildRequest, Null, "nexus rebuild")
MS_API_UNIMPLEMENTED(GetRebuildState, RebuildStateRequest, RebuildStateReply, "nexus rebuild")
MS_API_UNIMPLEMENTED(GetRebuildStats, RebuildStatsRequest, RebuildStatsReply, "nexus rebuild")
MS_API_UNIMPLEMENTED(GetRebuildProgress, RebuildProgressRequest, RebuildProgressReply, "nexus rebuild")
MS_API_UNIMPLEMENTED(CreateSnapshot, CreateSnapshotRequest, CreateSnapshotReply,
                     "the nexus (snapshot single replicas with CreateReplicaSnapshot)")
MS_API_UNIMPLEMENTED(ListNvmeControllers, Null, ListNvmeControllersReply,
                     "the NVMe-oF initiator (nvmf:// devices)")

#undef MS_API_UNIMPLEMENTED

}  // namespace ms::api
