#include "api/grpc/mayastor_service.h"

#include <sys/resource.h>

#include "api/grpc/block_devices.h"
#include "api/grpc/grpc_status.h"

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

}  // namespace ms::api
