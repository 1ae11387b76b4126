#include "api/ops/share_ops.h"

#include <fmt/format.h>

#include "bdev/device_registry.h"
#include "bdev/device_factory.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/uri.h"
#include "lvs/lvs.h"
#include "nexus/nexus.h"

namespace ms::api {

namespace {

auto& pools() {
    return lvs::PoolRegistry::instance();
}

// The replica a nexus child URI names locally (bdev:///<replica>), or empty.
std::string local_replica_of(const std::string& child_uri) {
    auto uri = parse_uri(child_uri);
    if (!uri || uri->scheme != "bdev" || uri->path.size() < 2) {
        return {};
    }
    std::string name = uri->path.substr(1);
    auto r = pools().get_replica(name);
    return r && r->kind != lvs::LvolKind::Snapshot ? name : std::string{};
}

// The snapshot of one nexus child: a local replica directly, any other device by its own
// snapshot request (an nvmf:// child sends it to the remote replica; others cannot: ENOTSUP).
Task<Status> snapshot_child(std::string child_uri, uint64_t unix_seconds) {
    std::string replica = local_replica_of(child_uri);
    if (!replica.empty()) {
        co_return co_await snapshot_replica(replica, unix_seconds);
    }
    auto uri = parse_device_uri(child_uri);
    if (!uri) {
        co_return std::unexpected(uri.error());
    }
    auto name = device_name_of(*uri);
    auto dev = name ? DeviceRegistry::instance().lookup(*name) : nullptr;
    if (!dev) {
        co_return errorf(ENODEV, "child '{}': no device", child_uri);
    }
    Status s = co_await dev->create_snapshot(unix_seconds);
    if (!s && s.error().code == ENOTSUP) {
        co_return errorf(ENOTSUP, "child '{}' is not a replica: it cannot be snapshotted", child_uri);
    }
    co_return s;
}

}  // namespace

Task<Status> snapshot_replica(std::string replica, uint64_t unix_seconds) {
    std::string name = fmt::format("{}-snap-{}", replica, unix_seconds);
    auto snap = co_await pools().create_snapshot(replica, name);
    if (!snap) {
        log::error("snapshot '{}' of replica '{}' failed: {}", name, replica, snap.error().message);
        co_return std::unexpected(snap.error());
    }
    log::info("snapshot '{}' of replica '{}' created", name, replica);
    co_return ok();
}

Task<Status> snapshot_nexus(Uuid uuid, uint64_t unix_seconds) {
    auto info = nexus::NexusRegistry::instance().get(uuid);
    if (!info) {
        co_return std::unexpected(info.error());
    }
    Status first = ok();
    for (const auto& child : info->children) {
        Status s = co_await snapshot_child(child.uri, unix_seconds);
        if (!s && first) {
            first = s;
        }
    }
    co_return first;
}

std::optional<std::string_view> share_protocol_name(lvs::ShareProtocol share) {
    switch (share) {
        case lvs::ShareProtocol::Nvmf:
            return target::kNvmf;
        case lvs::ShareProtocol::Iscsi:
            return target::kIscsi;
        case lvs::ShareProtocol::Nbd:
            return target::kNbd;
        case lvs::ShareProtocol::None:
            break;
    }
    return std::nullopt;
}

std::optional<lvs::ShareProtocol> stored_share_of(std::string_view protocol) {
    for (auto p : {lvs::ShareProtocol::Nvmf, lvs::ShareProtocol::Iscsi, lvs::ShareProtocol::Nbd}) {
        if (share_protocol_name(p) == protocol) {
            return p;
        }
    }
    return std::nullopt;
}

namespace {

// What the management reactor knows of a device about to be shared.
struct DeviceRole {
    std::optional<lvs::ReplicaInfo> replica;  // a replica or clone (not a snapshot)
    std::optional<Uuid> nexus;
};

DeviceRole role_of(Reactor& mgmt, const std::string& name) {
    return run_on(mgmt, [name]() -> Task<DeviceRole> {
        DeviceRole role;
        if (auto r = pools().get_replica(name); r && r->kind != lvs::LvolKind::Snapshot) {
            role.replica = *r;
        }
        constexpr std::string_view kPrefix = "nexus-";
        if (name.starts_with(kPrefix)) {
            if (auto u = Uuid::parse(name.substr(kPrefix.size()));
                u && nexus::NexusRegistry::instance().get(*u)) {
                role.nexus = *u;
            }
        }
        co_return role;
    });
}

Status store_share(Reactor& mgmt, const lvs::ReplicaInfo& r, lvs::ShareProtocol share) {
    if (r.share == share) {
        return ok();
    }
    std::string name = r.name;
    return run_on(mgmt, [name, share] { return pools().set_share(name, share); });
}

}  // namespace

Result<std::string> share_device(target::ShareRegistry& shares, Reactor& mgmt, const std::string& name,
                                 std::string_view protocol, target::ShareOptions options) {
    DeviceRole role = role_of(mgmt, name);
    if (role.replica) {
        options.create_snapshot = [name](uint64_t unix_seconds) {
            return snapshot_replica(name, unix_seconds);
        };
    } else if (role.nexus) {
        Uuid u = *role.nexus;
        options.create_snapshot = [u](uint64_t unix_seconds) { return snapshot_nexus(u, unix_seconds); };
    }
    bool was_shared = shares.find(name).has_value();
    auto uri = shares.share(name, protocol, std::move(options));
    if (!uri || !role.replica) {
        return uri;
    }
    auto stored = stored_share_of(protocol);
    if (!stored) {
        return uri;
    }
    if (Status s = store_share(mgmt, *role.replica, *stored); !s) {
        if (!was_shared) {
            (void)shares.unshare(name);
        }
        return errorf(s.error().code,
                      "replica '{}' was shared over {}, but its share could not be stored: {}", name,
                      protocol, s.error().message);
    }
    return uri;
}

Status unshare_device(target::ShareRegistry& shares, Reactor& mgmt, const std::string& name,
                      bool keep_stored) {
    if (Status s = shares.unshare(name); !s) {
        return s;
    }
    if (keep_stored) {
        return ok();
    }
    DeviceRole role = role_of(mgmt, name);
    if (role.replica) {
        return store_share(mgmt, *role.replica, lvs::ShareProtocol::None);
    }
    return ok();
}

std::size_t restore_replica_shares(target::ShareRegistry& shares, Reactor& mgmt, const std::string& pool) {
    auto list =
        run_on(mgmt, []() -> Task<std::vector<lvs::ReplicaInfo>> { co_return pools().list_replicas(); });
    std::size_t shared = 0;
    for (const auto& r : list) {
        auto protocol = share_protocol_name(r.share);
        if (!protocol || (!pool.empty() && r.pool != pool)) {
            continue;
        }
        if (auto uri = share_device(shares, mgmt, r.name, *protocol); !uri) {
            log::error("replica '{}' of pool '{}' was shared over {}, but sharing it again failed: {}",
                       r.name, r.pool, *protocol, uri.error().message);
            continue;
        }
        log::info("replica '{}' of pool '{}' shared over {} again", r.name, r.pool, *protocol);
        ++shared;
    }
    return shared;
}

std::string share_uri(const target::ShareRegistry& shares, const std::string& name) {
    if (auto s = shares.find(name)) {
        return s->uri;
    }
    return "bdev:///" + percent_encode(name, true);
}

std::string replica_uri(const target::ShareRegistry& shares, const lvs::ReplicaInfo& r) {
    return fmt::format("{}?uuid={}", share_uri(shares, r.name), r.uuid.to_string());
}

}  // namespace ms::api
