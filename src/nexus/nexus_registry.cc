// NexusRegistry: the process's nexuses by uuid, and the entry points of nexus.h. Each call
// finds its nexus under the registry's mutex (management plane only), hops to the nexus's
// home reactor, runs there and hops back to the caller's reactor.
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "bdev/device_registry.h"
#include "core/log.h"
#include "nexus/nexus.h"
#include "nexus/nexus_device.h"

namespace ms::nexus {

struct NexusRegistry::State {
    mutable std::mutex mutex;
    std::map<Uuid, std::shared_ptr<Nexus>> nexuses;
    std::set<Uuid> busy;  // being created or destroyed: other calls for it wait
    std::shared_ptr<store::KvStore> store;
    NexusOptions options;

    std::shared_ptr<Nexus> find(const Uuid& uuid) const {
        std::lock_guard g(mutex);
        auto it = nexuses.find(uuid);
        return it == nexuses.end() ? nullptr : it->second;
    }
};

namespace {

std::unexpected<Error> no_nexus(const Uuid& uuid) {
    return errorf(ENOENT, "no nexus {}", uuid.to_string());
}

// Runs make(nexus) on the nexus's home reactor and comes back to the caller's.
template <typename T, typename F>
Task<T> on_home(std::shared_ptr<Nexus> nexus, F make) {
    Reactor* back = Reactor::current();
    co_await switch_to(nexus->home());
    T result = co_await make(*nexus);
    co_await switch_to(*back);
    co_return result;
}

}  // namespace

NexusRegistry::NexusRegistry() : _state(std::make_shared<State>()) {
    (void)DeviceRegistry::instance();  // made first, so destroyed after us
}

NexusRegistry& NexusRegistry::instance() {
    static NexusRegistry r;
    return r;
}

void NexusRegistry::set_store(std::shared_ptr<store::KvStore> store) {
    std::lock_guard g(_state->mutex);
    _state->store = std::move(store);
}

void NexusRegistry::set_options(NexusOptions options) {
    std::lock_guard g(_state->mutex);
    _state->options = options;
}

Task<Result<NexusInfo>> NexusRegistry::create(std::string name, uint64_t size, Uuid uuid,
                                              std::vector<std::string> children) {
    std::shared_ptr<State> st = _state;
    NexusConfig config;
    for (;;) {
        {
            std::lock_guard g(st->mutex);
            if (!st->busy.contains(uuid)) {
                if (auto it = st->nexuses.find(uuid); it != st->nexuses.end()) {
                    co_return it->second->info();
                }
                st->busy.insert(uuid);
                config.store = st->store;
                config.options = st->options;
                break;
            }
        }
        co_await sleep_for(std::chrono::milliseconds(1));
    }
    config.name = std::move(name);
    config.uuid = uuid;
    config.size = size;
    auto made = co_await Nexus::create(std::move(config), std::move(children));
    std::lock_guard g(st->mutex);
    st->busy.erase(uuid);
    if (!made) {
        co_return std::unexpected(made.error());
    }
    st->nexuses.emplace(uuid, *made);
    co_return (*made)->info();
}

Task<Status> NexusRegistry::destroy(Uuid uuid) {
    std::shared_ptr<State> st = _state;
    std::shared_ptr<Nexus> nexus;
    for (;;) {
        {
            std::lock_guard g(st->mutex);
            if (!st->busy.contains(uuid)) {
                auto it = st->nexuses.find(uuid);
                if (it == st->nexuses.end()) {
                    co_return ok();
                }
                nexus = it->second;
                st->busy.insert(uuid);
                break;
            }
        }
        co_await sleep_for(std::chrono::milliseconds(1));
    }
    Status s = co_await on_home<Status>(nexus, [](Nexus& n) { return n.close(true); });
    std::lock_guard g(st->mutex);
    st->busy.erase(uuid);
    if (s || !DeviceRegistry::instance().lookup(nexus->name())) {
        st->nexuses.erase(uuid);
    }
    co_return s;
}

Task<void> NexusRegistry::shutdown_all() {
    std::shared_ptr<State> st = _state;
    std::vector<std::shared_ptr<Nexus>> all;
    {
        std::lock_guard g(st->mutex);
        for (auto& [uuid, n] : st->nexuses) {
            all.push_back(n);
        }
    }
    for (auto& n : all) {
        Status s = co_await on_home<Status>(n, [](Nexus& x) { return x.close(false); });
        if (!s) {
            log::warn("nexus '{}' did not close cleanly: {}", n->name(), s.error().message);
        }
        std::lock_guard g(st->mutex);
        st->nexuses.erase(n->uuid());
    }
}

std::vector<NexusInfo> NexusRegistry::list() const {
    std::vector<std::shared_ptr<Nexus>> all;
    {
        std::lock_guard g(_state->mutex);
        for (auto& [uuid, n] : _state->nexuses) {
            all.push_back(n);
        }
    }
    std::vector<NexusInfo> out;
    for (auto& n : all) {
        out.push_back(n->info());
    }
    return out;
}

Result<NexusInfo> NexusRegistry::get(const Uuid& uuid) const {
    auto n = _state->find(uuid);
    if (!n) {
        return no_nexus(uuid);
    }
    return n->info();
}

Result<std::shared_ptr<BlockDevice>> NexusRegistry::device(const Uuid& uuid) const {
    auto n = _state->find(uuid);
    if (!n) {
        return no_nexus(uuid);
    }
    return std::static_pointer_cast<BlockDevice>(n);
}

Task<Result<ChildInfo>> NexusRegistry::add_child(Uuid uuid, std::string uri, bool norebuild) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Result<ChildInfo>>(
        n, [&uri, norebuild](Nexus& x) { return x.add_child(std::move(uri), norebuild); });
}

Task<Status> NexusRegistry::remove_child(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.remove_child(std::move(uri)); });
}

Task<Status> NexusRegistry::fault_child(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.fault_child(std::move(uri)); });
}

Task<Status> NexusRegistry::offline_child(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.offline_child(std::move(uri)); });
}

Task<Status> NexusRegistry::online_child(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.online_child(std::move(uri)); });
}

Task<Status> NexusRegistry::start_rebuild(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.start_rebuild(std::move(uri)); });
}

Task<Status> NexusRegistry::stop_rebuild(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.stop_rebuild(std::move(uri)); });
}

Task<Status> NexusRegistry::pause_rebuild(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.pause_rebuild(std::move(uri)); });
}

Task<Status> NexusRegistry::resume_rebuild(Uuid uuid, std::string uri) {
    auto n = _state->find(uuid);
    if (!n) {
        co_return no_nexus(uuid);
    }
    co_return co_await on_home<Status>(n, [&uri](Nexus& x) { return x.resume_rebuild(std::move(uri)); });
}

Result<RebuildState> NexusRegistry::rebuild_state(const Uuid& uuid, const std::string& uri) const {
    auto n = _state->find(uuid);
    if (!n) {
        return no_nexus(uuid);
    }
    return n->rebuild_state(uri);
}

Result<RebuildStats> NexusRegistry::rebuild_stats(const Uuid& uuid, const std::string& uri) const {
    auto n = _state->find(uuid);
    if (!n) {
        return no_nexus(uuid);
    }
    return n->rebuild_stats(uri);
}

uint32_t NexusRegistry::rebuild_count() const {
    return rebuild_jobs_in_process();
}

}  // namespace ms::nexus
