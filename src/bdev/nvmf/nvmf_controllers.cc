// The process-wide list of host controllers behind list_controllers().
#include "bdev/nvmf/nvmf_controllers.h"

#include <algorithm>
#include <mutex>

#include "bdev/nvmf/controller_entry.h"

namespace ms::nvmf_host {
namespace {

struct Registry {
    std::mutex mutex;
    std::vector<std::shared_ptr<ControllerEntry>> entries;
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

void register_controller(std::shared_ptr<ControllerEntry> entry) {
    auto& r = registry();
    std::lock_guard g(r.mutex);
    r.entries.push_back(std::move(entry));
}

void unregister_controller(const std::shared_ptr<ControllerEntry>& entry) {
    auto& r = registry();
    std::lock_guard g(r.mutex);
    std::erase(r.entries, entry);
}

std::vector<ControllerInfo> list_controllers() {
    auto& r = registry();
    std::lock_guard g(r.mutex);
    std::vector<ControllerInfo> out;
    out.reserve(r.entries.size());
    for (const auto& e : r.entries) {
        ControllerInfo info;
        info.name = e->name;
        info.state = e->state.load();
        info.size_bytes = e->size_bytes.load();
        info.block_size = e->block_size.load();
        out.push_back(std::move(info));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

}  // namespace ms::nvmf_host
