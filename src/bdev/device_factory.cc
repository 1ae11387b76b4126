#include "bdev/device_factory.h"

#include <filesystem>
#include <map>
#include <mutex>

#include "bdev/aio.h"
#include "bdev/device_registry.h"
#include "bdev/error.h"
#include "bdev/loopback.h"
#include "bdev/malloc.h"
#include "bdev/null.h"
#include "bdev/uring.h"

namespace ms {
namespace {

struct Factories {
    std::mutex mutex;
    std::map<std::string, DeviceFactory, std::less<>> by_scheme;
};

Factories& factories() {
    static Factories f;
    return f;
}

Result<DeviceFactory> find_factory(const Uri& uri, std::string_view text) {
    auto& f = factories();
    std::lock_guard g(f.mutex);
    auto it = f.by_scheme.find(uri.scheme);
    if (it == f.by_scheme.end()) {
        std::string known;
        for (const auto& [scheme, factory] : f.by_scheme) {
            known += (known.empty() ? "" : ", ") + scheme;
        }
        return errorf(EINVAL, "unknown URI scheme '{}' in '{}' (known: {})", uri.scheme, text, known);
    }
    return it->second;
}

// The creation URI with the device's uuid added, as the management API reports it.
std::string uri_with_uuid(Uri uri, const Uuid& uuid) {
    bool has = false;
    for (const auto& [k, v] : uri.query) {
        has |= k == "uuid";
    }
    if (!has) {
        uri.query.emplace_back("uuid", uuid.to_string());
    }
    return uri.to_string();
}

}  // namespace

void register_device_factory(std::string scheme, DeviceFactory factory) {
    auto& f = factories();
    std::lock_guard g(f.mutex);
    f.by_scheme[std::move(scheme)] = std::move(factory);
}

void register_builtin_device_factories() {
    static std::once_flag once;
    std::call_once(once, [] {
        register_device_factory("malloc", malloc_device_factory());
        register_device_factory("null", null_device_factory());
        register_device_factory("uring", uring_device_factory());
        register_device_factory("aio", aio_device_factory());
        register_device_factory("bdev", loopback_device_factory());
        register_device_factory("loopback", loopback_device_factory());
        register_device_factory("error", error_device_factory());
    });
}

Result<Uri> parse_device_uri(std::string_view text) {
    if (text.empty()) {
        return make_error(EINVAL, "empty device URI");
    }
    if (text.find("://") == std::string_view::npos) {
        if (text.find('?') != std::string_view::npos) {
            return errorf(EINVAL, "'{}' has parameters but no scheme", text);
        }
        // A bare path is a file or device for Linux AIO. A relative path is made absolute (from
        // the current directory): a URI cannot say "relative", and the device's reported URI
        // must name the same file.
        for (char c : text) {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                return errorf(EINVAL, "path '{}' contains a control character", text);
            }
        }
        std::error_code ec;
        std::filesystem::path path = std::filesystem::absolute(std::filesystem::path(text), ec);
        if (ec) {
            return errorf(EINVAL, "cannot make '{}' an absolute path: {}", text, ec.message());
        }
        Uri uri;
        uri.scheme = "aio";
        uri.path = path.string();
        return uri;
    }
    return parse_uri(text);
}

Result<std::string> device_name_of(const Uri& uri) {
    register_builtin_device_factories();
    auto factory = find_factory(uri, uri.to_string());
    if (!factory) {
        return std::unexpected(factory.error());
    }
    return factory->name_of(uri);
}

Task<Result<std::shared_ptr<BlockDevice>>> create_device(std::string text) {
    register_builtin_device_factories();
    auto uri = parse_device_uri(text);
    if (!uri) {
        co_return std::unexpected(uri.error());
    }
    auto factory = find_factory(*uri, text);
    if (!factory) {
        co_return std::unexpected(factory.error());
    }
    if (factory->refers_to_existing) {
        co_return co_await factory->create(*uri);
    }
    auto& registry = DeviceRegistry::instance();
    std::string name = factory->name_of(*uri);
    if (!name.empty() && registry.lookup(name)) {
        co_return errorf(EEXIST, "a device named '{}' already exists", name);
    }
    auto dev = co_await factory->create(*uri);
    if (!dev) {
        co_return std::unexpected(dev.error());
    }
    (*dev)->set_uri(uri_with_uuid(*uri, (*dev)->uuid()));
    if (Status s = registry.add(*dev); !s) {
        co_await (*dev)->shutdown();
        co_return std::unexpected(s.error());
    }
    co_return dev;
}

Task<Status> destroy_device(std::string text) {
    register_builtin_device_factories();
    auto& registry = DeviceRegistry::instance();
    std::string name;
    if (text.find("://") == std::string::npos && registry.lookup(text)) {
        name = text;
    } else {
        auto uri = parse_device_uri(text);
        if (!uri) {
            co_return std::unexpected(uri.error());
        }
        auto factory = find_factory(*uri, text);
        if (!factory) {
            co_return std::unexpected(factory.error());
        }
        if (factory->refers_to_existing) {
            co_return ok();  // the device belongs to whoever created it
        }
        name = factory->name_of(*uri);
    }
    auto dev = registry.remove(name);
    if (!dev) {
        co_return std::unexpected(dev.error());
    }
    co_await (*dev)->shutdown();
    co_return ok();
}

Result<Uuid> take_uuid_param(QueryParams& params) {
    if (auto text = params.take("uuid")) {
        return Uuid::parse(*text);
    }
    return Uuid::generate();
}

namespace {
Result<Geometry> take_memory_geometry(QueryParams& params, const Uri& uri) {
    auto size_mb_r = params.take_u64("size_mb");
    auto num_blocks_r = params.take_u64("num_blocks");
    auto blk_size_r = params.take_u64("blk_size");
    for (auto* r : {&size_mb_r, &num_blocks_r, &blk_size_r}) {
        if (!*r) {
            return std::unexpected(r->error());
        }
    }
    std::optional<uint64_t> size_mb = *size_mb_r, num_blocks = *num_blocks_r, blk_size = *blk_size_r;
    Geometry g;
    g.block_size = 512;
    g.buf_align = 1;
    if (blk_size) {
        if (*blk_size != 512 && *blk_size != 4096) {
            return errorf(EINVAL, "blk_size must be 512 or 4096, not {} in '{}'", *blk_size, uri.to_string());
        }
        g.block_size = static_cast<uint32_t>(*blk_size);
    }
    if (size_mb.has_value() == num_blocks.has_value()) {
        return errorf(EINVAL, "give exactly one of size_mb and num_blocks in '{}'", uri.to_string());
    }
    constexpr uint64_t kMaxBytes = uint64_t{1} << 44;  // 16 TiB
    if (size_mb) {
        if (*size_mb == 0 || *size_mb > (kMaxBytes >> 20)) {
            return errorf(EINVAL, "size_mb={} is out of range in '{}'", *size_mb, uri.to_string());
        }
        g.num_blocks = (*size_mb << 20) / g.block_size;
    } else {
        if (*num_blocks == 0 || *num_blocks > kMaxBytes / g.block_size) {
            return errorf(EINVAL, "num_blocks={} is out of range in '{}'", *num_blocks, uri.to_string());
        }
        g.num_blocks = *num_blocks;
    }
    return g;
}
}  // namespace

Result<MemoryDeviceSpec> parse_memory_device_uri(const Uri& uri) {
    auto name = name_from_path(uri);
    if (!name) {
        return std::unexpected(name.error());
    }
    QueryParams params(uri);
    auto geometry = take_memory_geometry(params, uri);
    if (!geometry) {
        return std::unexpected(geometry.error());
    }
    auto uuid = take_uuid_param(params);
    if (!uuid) {
        return std::unexpected(uuid.error());
    }
    if (Status s = params.finish(); !s) {
        return std::unexpected(s.error());
    }
    return MemoryDeviceSpec{std::move(*name), *geometry, *uuid};
}

Result<std::string> name_from_path(const Uri& uri) {
    std::string name = uri.path;
    if (!name.empty() && name.front() == '/') {
        name.erase(0, 1);
    }
    if (name.empty()) {
        return errorf(EINVAL, "URI '{}' names no device (expected {}:///name)", uri.to_string(), uri.scheme);
    }
    if (!uri.host.empty() || uri.port) {
        return errorf(EINVAL, "URI '{}' must not have a host (expected {}:///name)", uri.to_string(),
                      uri.scheme);
    }
    return name;
}

std::string device_name_of_path(const Uri& uri) {
    return name_from_path(uri).value_or("");
}

}  // namespace ms
