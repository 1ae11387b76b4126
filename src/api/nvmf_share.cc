#include "api/nvmf_share.h"

#include <fmt/format.h>

#include "bdev/device_registry.h"
#include "bdev/nvmf/nvmf_device.h"
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

// The vendor admin command 0xC0 (Unix seconds in cdw10/cdw11) on the controller of an nvmf://
// child: the remote replica's subsystem takes the snapshot.
Task<Status> snapshot_nvmf_child(std::string child_uri, Uri uri, uint64_t unix_seconds) {
    auto spec = nvmf_host::parse_nvmf_uri(uri);
    if (!spec) {
        co_return std::unexpected(spec.error());
    }
    auto dev = DeviceRegistry::instance().lookup(spec->device_name());
    if (!dev) {
        co_return errorf(ENODEV, "child '{}': no device '{}'", child_uri, spec->device_name());
    }
    nvme::Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::VendorCreateSnapshot);
    sqe.cdw10 = static_cast<uint32_t>(unix_seconds & 0xffffffffu);
    sqe.cdw11 = static_cast<uint32_t>(unix_seconds >> 32);
    std::span<uint8_t> no_data;  // not a braced list inside co_await (GCC 12)
    auto cqe = co_await nvmf_host::nvmf_admin_command(*dev, sqe, nvmf_host::DataDir::None, no_data);
    if (!cqe) {
        co_return std::unexpected(cqe.error());
    }
    co_return nvmf_host::status_to_result(*cqe, fmt::format("snapshot of child '{}'", child_uri));
}

// The snapshot of one nexus child.
Task<Status> snapshot_child(std::string child_uri, uint64_t unix_seconds) {
    std::string replica = local_replica_of(child_uri);
    if (!replica.empty()) {
        co_return co_await snapshot_replica(replica, unix_seconds);
    }
    auto uri = parse_uri(child_uri);
    if (uri && uri->scheme == "nvmf") {
        co_return co_await snapshot_nvmf_child(child_uri, *uri, unix_seconds);
    }
    co_return errorf(ENOTSUP, "child '{}' is not a replica: it cannot be snapshotted", child_uri);
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

Result<std::string> share_device(nvmf::NvmfTarget& target, const std::string& device_name,
                                 nvmf::SubsystemHooks hooks) {
    auto dev = DeviceRegistry::instance().lookup(device_name);
    if (!dev) {
        return errorf(ENODEV, "no device named '{}'", device_name);
    }
    nvmf::SubsystemSpec spec;
    spec.nqn = nvmf::nqn_for(device_name);
    spec.device = std::move(dev);
    spec.hooks = std::move(hooks);
    return target.add_subsystem(std::move(spec));
}

Result<std::string> share_replica(nvmf::NvmfTarget& target, const std::string& name) {
    nvmf::SubsystemHooks hooks;
    hooks.create_snapshot = [name](uint64_t unix_seconds) { return snapshot_replica(name, unix_seconds); };
    return share_device(target, name, std::move(hooks));
}

Status unshare_device(nvmf::NvmfTarget& target, const std::string& device_name) {
    return target.remove_subsystem(nvmf::nqn_for(device_name));
}

std::size_t restore_replica_shares(nvmf::NvmfTarget& target, Reactor& reactor, const std::string& pool) {
    auto list =
        run_on(reactor, []() -> Task<std::vector<lvs::ReplicaInfo>> { co_return pools().list_replicas(); });
    std::size_t shared = 0;
    for (const auto& r : list) {
        if (r.share != lvs::ShareProtocol::Nvmf || (!pool.empty() && r.pool != pool)) {
            continue;
        }
        if (auto nqn = share_replica(target, r.name); !nqn) {
            log::error("replica '{}' of pool '{}' was shared over NVMe-oF, but sharing it again failed: {}",
                       r.name, r.pool, nqn.error().message);
            continue;
        }
        log::info("replica '{}' of pool '{}' shared over NVMe-oF again", r.name, r.pool);
        ++shared;
    }
    return shared;
}

}  // namespace ms::api
