#include "target/share_registry.h"

#include <fmt/format.h>

#include "bdev/device_registry.h"
#include "core/log.h"

namespace ms::target {

std::string ShareRegistry::claim_owner(std::string_view protocol) {
    return fmt::format("{} share", protocol);
}

Status ShareRegistry::add_server(ShareServer& server) {
    std::lock_guard lk(_mu);
    auto [it, added] = _servers.try_emplace(std::string(server.protocol()), &server);
    if (!added) {
        return errorf(EEXIST, "a {} server is registered already", server.protocol());
    }
    return ok();
}

void ShareRegistry::remove_server(std::string_view protocol) {
    std::lock_guard ops(_ops);
    std::vector<std::string> names;
    {
        std::lock_guard lk(_mu);
        for (const auto& [name, e] : _shares) {
            if (e.info.protocol == protocol) {
                names.push_back(name);
            }
        }
    }
    for (const auto& name : names) {
        if (Status s = unshare_locked(name); !s) {
            log::error("unsharing '{}' from the {} server failed: {}", name, protocol, s.error().message);
        }
    }
    std::lock_guard lk(_mu);
    if (auto it = _servers.find(protocol); it != _servers.end()) {
        _servers.erase(it);
    }
    // A share the server would not end is forgotten with it (its claim stays: the device
    // may still be open there).
    std::erase_if(_shares, [&](const auto& kv) { return kv.second.info.protocol == protocol; });
}

ShareServer* ShareRegistry::server(std::string_view protocol) const {
    std::lock_guard lk(_mu);
    auto it = _servers.find(protocol);
    return it == _servers.end() ? nullptr : it->second;
}

std::vector<std::string> ShareRegistry::protocols() const {
    std::lock_guard lk(_mu);
    std::vector<std::string> out;
    for (const auto& [p, s] : _servers) {
        out.push_back(p);
    }
    return out;
}

Result<std::string> ShareRegistry::share(const std::string& device_name, std::string_view protocol,
                                         ShareOptions options) {
    std::lock_guard ops(_ops);
    ShareServer* srv = server(protocol);
    if (srv == nullptr) {
        return errorf(EPROTONOSUPPORT, "cannot share '{}' over {}: no {} server is running", device_name,
                      protocol, protocol);
    }
    if (auto existing = find(device_name)) {
        if (existing->protocol == protocol) {
            return existing->uri;
        }
        return errorf(EBUSY, "device '{}' is shared over {} already ({})", device_name, existing->protocol,
                      existing->uri);
    }
    auto dev = DeviceRegistry::instance().lookup(device_name);
    if (!dev) {
        return errorf(ENODEV, "no device named '{}'", device_name);
    }
    std::string owner = claim_owner(protocol);
    if (Status s = dev->claim(owner); !s) {
        return errorf(EBUSY, "device '{}' cannot be shared: it is in use by '{}'", device_name,
                      dev->claimed_by());
    }
    bool local = options.local_device;
    std::vector<std::string> hosts = options.allowed_hosts;
    auto uri = srv->share(ShareRequest{dev, owner, std::move(options)});
    if (!uri) {
        dev->release_claim(owner);
        return std::unexpected(uri.error());
    }
    Entry e;
    e.info.protocol = std::string(protocol);
    e.info.device_name = device_name;
    e.info.uri = *uri;
    e.info.local_device = local;
    e.info.allowed_hosts = std::move(hosts);
    e.device = std::move(dev);
    {
        std::lock_guard lk(_mu);
        _shares[device_name] = std::move(e);
    }
    log::info("device '{}' shared over {} at {}", device_name, protocol, *uri);
    return *uri;
}

Status ShareRegistry::unshare(const std::string& device_name) {
    std::lock_guard ops(_ops);
    return unshare_locked(device_name);
}

Status ShareRegistry::unshare_locked(const std::string& device_name) {
    Entry e;
    ShareServer* srv = nullptr;
    {
        std::lock_guard lk(_mu);
        auto it = _shares.find(device_name);
        if (it == _shares.end()) {
            return ok();
        }
        e = it->second;
        auto s = _servers.find(e.info.protocol);
        srv = s == _servers.end() ? nullptr : s->second;
    }
    if (srv != nullptr) {
        if (Status s = srv->unshare(device_name); !s) {
            return s;
        }
    }
    e.device->release_claim(claim_owner(e.info.protocol));
    {
        std::lock_guard lk(_mu);
        _shares.erase(device_name);
    }
    log::info("device '{}' no longer shared over {}", device_name, e.info.protocol);
    return ok();
}

void ShareRegistry::unshare_all() {
    std::lock_guard ops(_ops);
    std::vector<std::string> names;
    {
        std::lock_guard lk(_mu);
        for (const auto& [name, e] : _shares) {
            names.push_back(name);
        }
    }
    for (const auto& name : names) {
        if (Status s = unshare_locked(name); !s) {
            log::error("unsharing '{}' failed: {}", name, s.error().message);
        }
    }
}

std::optional<ShareInfo> ShareRegistry::find(const std::string& device_name) const {
    std::lock_guard lk(_mu);
    auto it = _shares.find(device_name);
    if (it == _shares.end()) {
        return std::nullopt;
    }
    return it->second.info;
}

std::vector<ShareInfo> ShareRegistry::list() const {
    std::lock_guard lk(_mu);
    std::vector<ShareInfo> out;
    for (const auto& [name, e] : _shares) {
        out.push_back(e.info);
    }
    return out;
}

}  // namespace ms::target
