#include "nexus/child_device.h"

#include "bdev/device_factory.h"
#include "core/log.h"

namespace ms::nexus {

Task<Result<std::shared_ptr<NexusChild>>> open_child(std::string owner, std::string uri) {
    auto dev = co_await create_device(uri);
    if (!dev) {
        co_return errorf(EINVAL, "child '{}': {}", uri, dev.error().message);
    }
    if (Status s = (*dev)->claim(owner); !s) {
        (void)co_await destroy_device(uri);
        co_return errorf(EINVAL, "child '{}' is in use: {}", uri, s.error().message);
    }
    auto desc = Descriptor::open(*dev, OpenMode::ReadWrite, owner);
    if (!desc) {
        (*dev)->release_claim(owner);
        (void)co_await destroy_device(uri);
        co_return errorf(EINVAL, "child '{}': {}", uri, desc.error().message);
    }
    // destroy_device leaves a device that bdev:/// merely refers to alone, so every child is
    // given back through it.
    co_return std::make_shared<NexusChild>(uri, *dev, std::move(*desc), true);
}

Task<void> release_child(std::string owner, std::shared_ptr<NexusChild> child) {
    child->desc.reset();
    if (child->device) {
        child->device->release_claim(owner);
        child->device.reset();
    }
    if (child->owned) {
        child->owned = false;
        if (Status s = co_await destroy_device(child->uri()); !s) {
            log::warn("nexus '{}': cannot destroy child device '{}': {}", owner, child->uri(),
                      s.error().message);
        }
    }
}

Status check_child_geometry(const BlockDevice& dev, const std::string& uri, uint32_t block_size,
                            uint64_t size) {
    if (dev.block_size() != block_size) {
        return errorf(EINVAL, "child '{}' has {}-byte blocks, the nexus {}-byte blocks", uri,
                      dev.block_size(), block_size);
    }
    if (dev.geometry().size_bytes() < size) {
        return errorf(EFBIG, "child '{}' ({} bytes) is smaller than the nexus ({} bytes)", uri,
                      dev.geometry().size_bytes(), size);
    }
    return ok();
}

}  // namespace ms::nexus
