// The process's devices by name. Management-plane only (guarded by a mutex); the data path
// holds descriptors and never looks devices up.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bdev/block_device.h"

namespace ms {

class DeviceRegistry {
   public:
    static DeviceRegistry& instance();

    // EEXIST if the name is taken.
    Status add(std::shared_ptr<BlockDevice> dev);
    std::shared_ptr<BlockDevice> lookup(std::string_view name) const;
    std::shared_ptr<BlockDevice> lookup_uuid(const Uuid& uuid) const;
    std::vector<std::shared_ptr<BlockDevice>> list() const;
    // Takes the device out of the registry. ENODEV if unknown; EBUSY if it is claimed or has
    // open descriptors (and then it stays registered).
    Result<std::shared_ptr<BlockDevice>> remove(std::string_view name);

   private:
    mutable std::mutex _mutex;
    std::map<std::string, std::shared_ptr<BlockDevice>, std::less<>> _devices;
};

}  // namespace ms
