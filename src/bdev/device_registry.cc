#include "bdev/device_registry.h"

namespace ms {

DeviceRegistry& DeviceRegistry::instance() {
    static DeviceRegistry r;
    return r;
}

Status DeviceRegistry::add(std::shared_ptr<BlockDevice> dev) {
    std::lock_guard g(_mutex);
    auto [it, inserted] = _devices.emplace(dev->name(), dev);
    if (!inserted) {
        return errorf(EEXIST, "a device named '{}' already exists", dev->name());
    }
    return ok();
}

std::shared_ptr<BlockDevice> DeviceRegistry::lookup(std::string_view name) const {
    std::lock_guard g(_mutex);
    auto it = _devices.find(name);
    return it == _devices.end() ? nullptr : it->second;
}

std::shared_ptr<BlockDevice> DeviceRegistry::lookup_uuid(const Uuid& uuid) const {
    std::lock_guard g(_mutex);
    for (const auto& [name, dev] : _devices) {
        if (dev->uuid() == uuid) {
            return dev;
        }
    }
    return nullptr;
}

std::vector<std::shared_ptr<BlockDevice>> DeviceRegistry::list() const {
    std::lock_guard g(_mutex);
    std::vector<std::shared_ptr<BlockDevice>> out;
    out.reserve(_devices.size());
    for (const auto& [name, dev] : _devices) {
        out.push_back(dev);
    }
    return out;
}

Result<std::shared_ptr<BlockDevice>> DeviceRegistry::remove(std::string_view name) {
    std::lock_guard g(_mutex);
    auto it = _devices.find(name);
    if (it == _devices.end()) {
        return errorf(ENODEV, "no device named '{}'", name);
    }
    auto& dev = it->second;
    if (std::string owner = dev->claimed_by(); !owner.empty()) {
        return errorf(EBUSY, "device '{}' is claimed by '{}'", name, owner);
    }
    if (int n = dev->open_count(); n > 0) {
        return errorf(EBUSY, "device '{}' has {} open descriptor(s)", name, n);
    }
    auto out = std::move(dev);
    _devices.erase(it);
    return out;
}

}  // namespace ms
