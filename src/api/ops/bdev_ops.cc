#include "api/ops/bdev_ops.h"

#include <algorithm>
#include <cstring>

#include "bdev/descriptor.h"
#include "bdev/device_factory.h"
#include "bdev/device_registry.h"
#include "core/uri.h"
#include "lvs/lvs.h"

namespace ms::api {

namespace {

// Two device URIs name the same creation when scheme, host, port, path and parameters match
// (parameters in any order). `uuid` is only compared when the request gives one.
bool same_creation(const Uri& requested, const Uri& device) {
    if (requested.scheme != device.scheme || requested.host != device.host || requested.port != device.port ||
        requested.path != device.path) {
        return false;
    }
    bool with_uuid = std::any_of(requested.query.begin(), requested.query.end(),
                                 [](const auto& kv) { return kv.first == "uuid"; });
    auto params = [&](const Uri& u) {
        auto q = u.query;
        if (!with_uuid) {
            std::erase_if(q, [](const auto& kv) { return kv.first == "uuid"; });
        }
        std::sort(q.begin(), q.end());
        return q;
    };
    return params(requested) == params(device);
}

std::shared_ptr<BlockDevice> find_created_from(const Uri& requested) {
    for (auto& dev : DeviceRegistry::instance().list()) {
        if (dev->uri().empty()) {
            continue;
        }
        auto u = parse_uri(dev->uri());
        if (u && same_creation(requested, *u)) {
            return dev;
        }
    }
    return nullptr;
}

// The pool owning the replica, snapshot or clone device `name`, if any.
std::optional<std::string> pool_object(const std::string& name) {
    auto& pools = lvs::PoolRegistry::instance();
    if (auto r = pools.get_replica(name)) {
        return r->pool;
    }
    for (const auto& s : pools.list_snapshots()) {
        if (s.name == name) {
            return s.pool;
        }
    }
    return std::nullopt;
}

Status refuse_pool_object(const std::string& name) {
    if (auto pool = pool_object(name)) {
        return errorf(EBUSY, "device '{}' belongs to pool '{}': destroy it as a replica or snapshot", name,
                      *pool);
    }
    return ok();
}

Status check_io(const BlockDevice& dev, uint64_t offset, uint64_t length) {
    uint32_t bs = dev.block_size();
    if (length == 0 || length > kMaxDiagnosticIo) {
        return errorf(EINVAL, "length {} must be in 1..{} bytes", length, kMaxDiagnosticIo);
    }
    if (offset % bs != 0 || length % bs != 0) {
        return errorf(EINVAL, "offset {} and length {} must be multiples of the block size {} of '{}'",
                      offset, length, bs, dev.name());
    }
    uint64_t size = dev.geometry().size_bytes();
    if (offset > size || length > size - offset) {
        return errorf(EINVAL, "{} bytes at offset {} end past the end of '{}' ({} bytes)", length, offset,
                      dev.name(), size);
    }
    return ok();
}

}  // namespace

BdevInfo bdev_info(const BlockDevice& dev) {
    BdevInfo b;
    b.name = dev.name();
    b.uuid = dev.uuid().to_string();
    b.num_blocks = dev.num_blocks();
    b.blk_size = dev.block_size();
    b.claimed_by = dev.claimed_by();
    b.uri = dev.uri();
    b.product = dev.product();
    b.share_uri = "bdev:///" + percent_encode(dev.name(), true);
    return b;
}

std::vector<BdevInfo> list_bdevs() {
    std::vector<BdevInfo> out;
    for (const auto& dev : DeviceRegistry::instance().list()) {
        out.push_back(bdev_info(*dev));
    }
    std::sort(out.begin(), out.end(), [](const BdevInfo& a, const BdevInfo& b) { return a.name < b.name; });
    return out;
}

Task<Result<std::string>> create_bdev(std::string uri) {
    auto dev = co_await create_device(uri);
    if (dev) {
        co_return (*dev)->name();
    }
    if (dev.error().code == EEXIST) {
        if (auto parsed = parse_device_uri(uri)) {
            if (auto existing = find_created_from(*parsed)) {
                co_return existing->name();
            }
        }
    }
    co_return std::unexpected(dev.error());
}

Task<Status> destroy_bdev(std::string text) {
    if (text.empty()) {
        co_return make_error(EINVAL, "empty device URI or name");
    }
    auto& registry = DeviceRegistry::instance();
    if (text.find("://") == std::string::npos && registry.lookup(text)) {
        if (Status s = refuse_pool_object(text); !s) {
            co_return s;
        }
        co_return co_await destroy_device(text);
    }
    auto uri = parse_device_uri(text);
    if (!uri) {
        co_return std::unexpected(uri.error());
    }
    if (auto dev = find_created_from(*uri)) {
        co_return co_await destroy_device(dev->name());
    }
    // Not a creation URI we know: the scheme's own naming decides (malloc:///m0 is m0 whatever
    // its parameters). Guard the names it could mean.
    if (auto name = name_from_path(*uri)) {
        if (Status s = refuse_pool_object(*name); !s) {
            co_return s;
        }
    }
    if (Status s = refuse_pool_object(uri->path); !s) {
        co_return s;
    }
    co_return co_await destroy_device(text);
}

Task<Status> write_bdev(std::string name, uint64_t offset, std::vector<uint8_t> data, bool flush) {
    auto dev = DeviceRegistry::instance().lookup(name);
    if (!dev) {
        co_return errorf(ENOENT, "no device named '{}'", name);
    }
    if (Status s = check_io(*dev, offset, data.size()); !s) {
        co_return s;
    }
    auto desc = Descriptor::open(dev, OpenMode::ReadWrite);
    if (!desc) {
        co_return std::unexpected(desc.error());
    }
    auto buf = (*desc)->dma_malloc(data.size());
    if (!buf) {
        co_return std::unexpected(buf.error());
    }
    std::memcpy(buf->data(), data.data(), data.size());
    if (Status s = co_await (*desc)->write_at(offset, *buf); !s) {
        co_return s;
    }
    if (flush && dev->io_type_supported(IoType::Flush)) {
        co_return co_await (*desc)->flush();
    }
    co_return ok();
}

Task<Result<std::vector<uint8_t>>> read_bdev(std::string name, uint64_t offset, uint64_t length) {
    auto dev = DeviceRegistry::instance().lookup(name);
    if (!dev) {
        co_return errorf(ENOENT, "no device named '{}'", name);
    }
    if (Status s = check_io(*dev, offset, length); !s) {
        co_return std::unexpected(s.error());
    }
    auto desc = Descriptor::open(dev, OpenMode::ReadOnly);
    if (!desc) {
        co_return std::unexpected(desc.error());
    }
    auto buf = (*desc)->dma_malloc(length);
    if (!buf) {
        co_return std::unexpected(buf.error());
    }
    if (Status s = co_await (*desc)->read_at(offset, *buf); !s) {
        co_return std::unexpected(s.error());
    }
    co_return std::vector<uint8_t>(buf->data(), buf->data() + length);
}

}  // namespace ms::api
