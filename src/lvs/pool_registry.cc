// PoolRegistry: the process's pools by name, and the entry points of lvs.h. Each call finds
// its pool under the registry's mutex, hops to the pool's reactor, runs there and hops back
// to the caller's reactor.
#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include "bdev/device_factory.h"
#include "bdev/device_registry.h"
#include "core/log.h"
#include "core/reactor.h"
#include "lvs/lvs.h"
#include "lvs/pool.h"

namespace ms::lvs {

struct RegistryState {
    mutable std::mutex mutex;
    std::map<std::string, std::shared_ptr<Pool>, std::less<>> pools;
    // Pools being created, imported, exported or destroyed: other calls for them wait.
    std::set<std::string, std::less<>> busy;
};

namespace {

std::string uri_with_uuid(Uri uri, const Uuid& uuid) {
    for (const auto& [k, v] : uri.query) {
        if (k == "uuid") {
            return uri.to_string();
        }
    }
    uri.query.emplace_back("uuid", uuid.to_string());
    return uri.to_string();
}

// Runs make(pool) on the pool's reactor and comes back to the caller's.
template <typename T, typename F>
Task<T> on_pool(std::shared_ptr<Pool> pool, F make) {
    Reactor* back = Reactor::current();
    co_await switch_to(pool->reactor());
    T result = co_await make(*pool);
    co_await switch_to(*back);
    co_return result;
}

// Gives the base device back: the claim, and the device itself if we made it.
Task<void> release_base(std::shared_ptr<BlockDevice> dev, std::string owner, std::string disk, bool owned) {
    dev->release_claim(owner);
    if (owned) {
        if (Status s = co_await destroy_device(disk); !s) {
            log::warn("cannot destroy device '{}': {}", disk, s.error().message);
        }
    }
}

// Creates or finds the base device, claims it, and formats or imports the pool on it, on the
// calling reactor. Leaves nothing behind on failure.
Task<Result<std::shared_ptr<Pool>>> open_on_disk(std::string name, std::string disk, Uri uri,
                                                 CreatePoolOptions options, bool create) {
    bool owned = true;
    auto made = co_await create_device(disk);
    if (!made && made.error().code == EEXIST) {
        // A device of that name exists already (made by someone else): use it, and leave it
        // in place when the pool goes.
        if (auto existing = DeviceRegistry::instance().lookup(device_name_of(uri).value_or(""))) {
            made = existing;
            owned = false;
        }
    }
    if (!made) {
        co_return std::unexpected(made.error());
    }
    std::shared_ptr<BlockDevice> dev = *made;
    const std::string owner = "lvs:" + name;
    if (Status s = dev->claim(owner); !s) {
        if (owned) {
            (void)co_await destroy_device(disk);
        }
        co_return std::unexpected(s.error());
    }
    auto desc = Descriptor::open(dev, OpenMode::ReadWrite, owner);
    if (!desc) {
        co_await release_base(dev, owner, disk, owned);
        co_return std::unexpected(desc.error());
    }
    Result<std::shared_ptr<Pool>> pool = std::unexpected(Error{});
    auto probe = co_await Pool::probe(**desc);
    if (probe) {
        if (probe->sb.name != name) {
            pool = errorf(EXDEV, "disk '{}' holds pool '{}', not '{}'", disk, probe->sb.name, name);
        } else {
            pool = co_await Pool::open(std::move(*desc), std::move(*probe));
        }
    } else if (probe.error().code == ENOMEDIUM && create) {
        pool = co_await Pool::format(name, std::move(*desc), options);
    } else if (probe.error().code == ENOMEDIUM) {
        pool = errorf(ENOMEDIUM, "disk '{}' holds no pool", disk);
    } else {
        pool = errorf(probe.error().code, "disk '{}': {}", disk, probe.error().message);
    }
    if (!pool) {
        desc->reset();
        co_await release_base(dev, owner, disk, owned);
        co_return std::unexpected(pool.error());
    }
    (*pool)->set_origin(uri_with_uuid(uri, dev->uuid()), owner, owned);
    co_return pool;
}

}  // namespace

PoolRegistry::PoolRegistry() : _state(std::make_shared<RegistryState>()) {
    // Made first, so destroyed after us: pools still here at exit take their devices out of it.
    (void)DeviceRegistry::instance();
}

PoolRegistry& PoolRegistry::instance() {
    static PoolRegistry r;
    return r;
}

std::shared_ptr<Pool> registered_pool(const std::string& name) {
    auto& st = *PoolRegistry::instance()._state;
    std::lock_guard g(st.mutex);
    auto it = st.pools.find(name);
    return it == st.pools.end() ? nullptr : it->second;
}

namespace {

// The pool holding lvol `name`, or null.
std::shared_ptr<Pool> pool_of(const std::map<std::string, std::shared_ptr<Pool>, std::less<>>& pools,
                              std::string_view name) {
    for (const auto& [n, p] : pools) {
        if (p->has(name)) {
            return p;
        }
    }
    return nullptr;
}

}  // namespace

Task<Result<PoolInfo>> open_pool(RegistryState& st, std::string name, std::string disk,
                                 CreatePoolOptions options, bool create);

Task<Result<PoolInfo>> PoolRegistry::create_or_import(std::string name, std::string disk,
                                                      CreatePoolOptions options) {
    co_return co_await open_pool(*_state, std::move(name), std::move(disk), options, true);
}

Task<Result<PoolInfo>> PoolRegistry::import(std::string name, std::string disk) {
    co_return co_await open_pool(*_state, std::move(name), std::move(disk), CreatePoolOptions{}, false);
}

Task<Result<PoolInfo>> open_pool(RegistryState& st, std::string name, std::string disk,
                                 CreatePoolOptions options, bool create) {
    if (Status s = check_name(name, "pool name"); !s) {
        co_return std::unexpected(s.error());
    }
    auto uri = parse_device_uri(disk);
    if (!uri) {
        co_return std::unexpected(uri.error());
    }
    const std::string dev_name = device_name_of(*uri).value_or("");
    for (;;) {
        {
            std::lock_guard g(st.mutex);
            if (!st.busy.contains(name)) {
                if (auto it = st.pools.find(name); it != st.pools.end()) {
                    if (it->second->base_device().name() == dev_name) {
                        co_return it->second->info();
                    }
                    co_return errorf(EEXIST, "pool '{}' exists on another disk ('{}')", name,
                                     it->second->disk_uri());
                }
                for (const auto& [n, p] : st.pools) {
                    if (p->base_device().name() == dev_name) {
                        co_return errorf(EXDEV, "disk '{}' holds pool '{}', not '{}'", disk, n, name);
                    }
                }
                st.busy.insert(name);
                break;
            }
        }
        co_await sleep_for(std::chrono::milliseconds(1));
    }
    auto pool = co_await open_on_disk(name, disk, *uri, options, create);
    std::lock_guard g(st.mutex);
    st.busy.erase(name);
    if (!pool) {
        co_return std::unexpected(pool.error());
    }
    st.pools[name] = *pool;
    co_return (*pool)->info();
}

namespace {

// Takes pool `name` out of the registry's hands for export or destroy; null if unknown.
Task<std::shared_ptr<Pool>> take_busy(RegistryState& st, const std::string& name) {
    for (;;) {
        {
            std::lock_guard g(st.mutex);
            if (!st.busy.contains(name)) {
                auto it = st.pools.find(name);
                if (it == st.pools.end()) {
                    co_return nullptr;
                }
                st.busy.insert(name);
                co_return it->second;
            }
        }
        co_await sleep_for(std::chrono::milliseconds(1));
    }
}

Task<Status> close_pool(RegistryState& st, std::string name, bool wipe) {
    auto pool = co_await take_busy(st, name);
    if (!pool) {
        co_return wipe ? ok() : errorf(ENOENT, "no pool named '{}'", name);
    }
    Status s = co_await on_pool<Status>(pool, [wipe](Pool& p) { return p.close(wipe); });
    if (s) {
        if (pool->owns_base()) {
            if (Status d = co_await destroy_device(pool->disk_uri()); !d) {
                log::warn("pool '{}': cannot destroy its device '{}': {}", name, pool->disk_uri(),
                          d.error().message);
            }
        }
    }
    std::lock_guard g(st.mutex);
    st.busy.erase(name);
    if (s) {
        st.pools.erase(name);
    }
    co_return s;
}

}  // namespace

Task<Status> PoolRegistry::destroy(std::string name) {
    co_return co_await close_pool(*_state, std::move(name), true);
}

Task<Status> PoolRegistry::export_pool(std::string name) {
    co_return co_await close_pool(*_state, std::move(name), false);
}

Task<void> PoolRegistry::export_all() {
    std::vector<std::string> names;
    {
        std::lock_guard g(_state->mutex);
        for (const auto& [n, p] : _state->pools) {
            names.push_back(n);
        }
    }
    for (auto& n : names) {
        if (Status s = co_await export_pool(n); !s) {
            log::warn("cannot export pool '{}': {}", n, s.error().message);
        }
    }
}

std::vector<PoolInfo> PoolRegistry::list() const {
    std::vector<std::shared_ptr<Pool>> pools;
    {
        std::lock_guard g(_state->mutex);
        for (const auto& [n, p] : _state->pools) {
            pools.push_back(p);
        }
    }
    std::vector<PoolInfo> out;
    for (const auto& p : pools) {
        out.push_back(p->info());
    }
    return out;
}

Result<PoolInfo> PoolRegistry::get(const std::string& name) const {
    std::lock_guard g(_state->mutex);
    auto it = _state->pools.find(name);
    if (it == _state->pools.end()) {
        return errorf(ENOENT, "no pool named '{}'", name);
    }
    return it->second->info();
}

Task<Result<ReplicaInfo>> PoolRegistry::create_replica(std::string pool, std::string name, uint64_t size,
                                                       bool thin) {
    std::shared_ptr<Pool> p;
    {
        std::lock_guard g(_state->mutex);
        auto it = _state->pools.find(pool);
        if (it == _state->pools.end() || _state->busy.contains(pool)) {
            co_return errorf(ENOENT, "no pool named '{}'", pool);
        }
        p = it->second;
        if (auto other = pool_of(_state->pools, name); other && other != p) {
            co_return errorf(EEXIST, "'{}' already exists in pool '{}'", name, other->name());
        }
    }
    co_return co_await on_pool<Result<ReplicaInfo>>(
        p, [&](Pool& x) { return x.create_replica(name, size, thin); });
}

namespace {

Result<std::shared_ptr<Pool>> find_lvol_pool(RegistryState& st, const std::string& name) {
    std::lock_guard g(st.mutex);
    auto p = pool_of(st.pools, name);
    if (!p) {
        return errorf(ENOENT, "no replica, snapshot or clone named '{}'", name);
    }
    return p;
}

}  // namespace

Task<Status> PoolRegistry::destroy_replica(std::string name) {
    auto p = find_lvol_pool(*_state, name);
    if (!p) {
        co_return ok();
    }
    co_return co_await on_pool<Status>(*p, [&](Pool& x) { return x.destroy(name, false); });
}

std::vector<ReplicaInfo> PoolRegistry::list_replicas() const {
    std::vector<ReplicaInfo> out;
    std::lock_guard g(_state->mutex);
    for (const auto& [n, p] : _state->pools) {
        p->list(out, false);
    }
    return out;
}

Result<ReplicaInfo> PoolRegistry::get_replica(const std::string& name) const {
    auto p = find_lvol_pool(*_state, name);
    if (!p) {
        return std::unexpected(p.error());
    }
    return (*p)->lvol_info(name);
}

Task<Status> PoolRegistry::set_share(std::string name, ShareProtocol share) {
    auto p = find_lvol_pool(*_state, name);
    if (!p) {
        co_return std::unexpected(p.error());
    }
    co_return co_await on_pool<Status>(*p, [&](Pool& x) { return x.set_share(name, share); });
}

Task<Result<ReplicaInfo>> PoolRegistry::create_snapshot(std::string replica, std::string snapshot) {
    auto p = find_lvol_pool(*_state, replica);
    if (!p) {
        co_return std::unexpected(p.error());
    }
    {
        std::lock_guard g(_state->mutex);
        if (auto other = pool_of(_state->pools, snapshot); other && other != *p) {
            co_return errorf(EEXIST, "'{}' already exists in pool '{}'", snapshot, other->name());
        }
    }
    co_return co_await on_pool<Result<ReplicaInfo>>(*p,
                                                    [&](Pool& x) { return x.snapshot(replica, snapshot); });
}

Task<Status> PoolRegistry::destroy_snapshot(std::string snapshot) {
    auto p = find_lvol_pool(*_state, snapshot);
    if (!p) {
        co_return ok();
    }
    co_return co_await on_pool<Status>(*p, [&](Pool& x) { return x.destroy(snapshot, true); });
}

std::vector<ReplicaInfo> PoolRegistry::list_snapshots() const {
    std::vector<ReplicaInfo> out;
    std::lock_guard g(_state->mutex);
    for (const auto& [n, p] : _state->pools) {
        p->list(out, true);
    }
    return out;
}

Task<Result<ReplicaInfo>> PoolRegistry::create_clone(std::string snapshot, std::string clone) {
    auto p = find_lvol_pool(*_state, snapshot);
    if (!p) {
        co_return std::unexpected(p.error());
    }
    {
        std::lock_guard g(_state->mutex);
        if (auto other = pool_of(_state->pools, clone); other && other != *p) {
            co_return errorf(EEXIST, "'{}' already exists in pool '{}'", clone, other->name());
        }
    }
    co_return co_await on_pool<Result<ReplicaInfo>>(*p, [&](Pool& x) { return x.clone(snapshot, clone); });
}

}  // namespace ms::lvs
