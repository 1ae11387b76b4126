#include "bdev/null.h"

namespace ms {
namespace {

class NullDevice final : public BlockDevice {
   public:
    NullDevice(std::string name, Geometry g, Uuid uuid)
        : BlockDevice(std::move(name), "Null disk", g, uuid) {}

    bool io_type_supported(IoType) const override { return true; }
    Task<Status> submit(IoChannel&, IoRequest) override { co_return ok(); }
};

}  // namespace

DeviceFactory null_device_factory() {
    DeviceFactory f;
    f.name_of = &device_name_of_path;
    f.create = [](const Uri& uri) -> Task<Result<std::shared_ptr<BlockDevice>>> {
        auto spec = parse_memory_device_uri(uri);
        if (!spec) {
            co_return std::unexpected(spec.error());
        }
        co_return std::make_shared<NullDevice>(spec->name, spec->geometry, spec->uuid);
    };
    return f;
}

}  // namespace ms
