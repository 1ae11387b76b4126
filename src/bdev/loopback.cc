#include "bdev/loopback.h"

#include "bdev/device_registry.h"

namespace ms {

DeviceFactory loopback_device_factory() {
    DeviceFactory f;
    f.refers_to_existing = true;
    f.name_of = &device_name_of_path;
    f.create = [](const Uri& uri) -> Task<Result<std::shared_ptr<BlockDevice>>> {
        auto name = name_from_path(uri);
        if (!name) {
            co_return std::unexpected(name.error());
        }
        QueryParams params(uri);
        auto uuid_text = params.take("uuid");
        if (Status s = params.finish(); !s) {
            co_return std::unexpected(s.error());
        }
        auto dev = DeviceRegistry::instance().lookup(*name);
        if (!dev) {
            co_return errorf(ENODEV, "no device named '{}' for '{}'", *name, uri.to_string());
        }
        if (uuid_text) {
            auto uuid = Uuid::parse(*uuid_text);
            if (!uuid) {
                co_return std::unexpected(uuid.error());
            }
            if (*uuid != dev->uuid()) {
                co_return errorf(EINVAL, "device '{}' has uuid {}, not {}", *name, dev->uuid().to_string(),
                                 uuid->to_string());
            }
        }
        co_return dev;
    };
    return f;
}

}  // namespace ms
