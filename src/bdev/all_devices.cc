#include "bdev/all_devices.h"

#include <mutex>

#include "bdev/device_factory.h"
#include "bdev/nbd/nbd_device.h"
#include "bdev/nvmf/nvmf_device.h"

namespace ms {

void register_all_device_factories() {
    static std::once_flag once;
    std::call_once(once, [] {
        register_builtin_device_factories();
        register_device_factory("nvmf", nvmf_host::nvmf_device_factory());
        register_device_factory("nbd", nbd_host::nbd_device_factory());
        register_device_factory("nbd+unix", nbd_host::nbd_device_factory());
    });
}

}  // namespace ms
