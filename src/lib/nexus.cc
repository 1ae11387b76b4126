#include "mayastor/nexus.h"

#include <utility>

namespace ms {

Task<Result<std::shared_ptr<BlockDevice>>> nexus_create(std::string name, uint64_t size, Uuid uuid,
                                                        std::vector<std::string> children) {
    auto& registry = nexus::NexusRegistry::instance();
    auto info = co_await registry.create(std::move(name), size, uuid, std::move(children));
    if (!info) {
        co_return std::unexpected(info.error());
    }
    co_return registry.device(uuid);
}

Result<std::shared_ptr<BlockDevice>> nexus_lookup(const Uuid& uuid) {
    return nexus::NexusRegistry::instance().device(uuid);
}

Task<Status> nexus_destroy(Uuid uuid) {
    return nexus::NexusRegistry::instance().destroy(uuid);
}

}  // namespace ms
