#include "api/api_context.h"

#include "bdev/device_factory.h"
#include "core/log.h"
#include "target/nvmf/nvmf_target.h"

namespace ms::api {

uint16_t ApiContext::nvmf_port() const {
    return _target != nullptr ? _target->replica_port() : nvme::kReplicaPort;
}

void ApiContext::pool_created(const std::string& name, const std::string& disk) {
    if (_pools_file == nullptr) {
        return;
    }
    // A bare (maybe relative) path is recorded as the absolute aio:// URI it means, so that the
    // file does not depend on the daemon's working folder.
    std::string recorded = disk;
    if (auto uri = parse_device_uri(disk)) {
        recorded = uri->to_string();
    }
    if (Status s = _pools_file->add(PoolSpec{name, {recorded}}); !s) {
        log::error("pool '{}' created, but the pools file '{}' was not updated: {}", name,
                   _pools_file->path(), s.error().message);
    }
}

void ApiContext::pool_destroyed(const std::string& name) {
    if (_pools_file == nullptr) {
        return;
    }
    if (Status s = _pools_file->remove(name); !s) {
        log::error("pool '{}' destroyed, but the pools file '{}' was not updated: {}", name,
                   _pools_file->path(), s.error().message);
    }
}

}  // namespace ms::api
