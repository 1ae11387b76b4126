// Helpers shared by the lvs unit tests: synchronous wrappers that run PoolRegistry calls on a
// reactor from the test thread, raw access to a pool's base device, and a fixture that
// leaves the process's registries empty after each test.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "../bdev/bdev_test_util.h"
#include "core/log.h"
#include "lvs/lvs.h"
#include "lvs/pool.h"

namespace ms::test {

using lvs::CreatePoolOptions;
using lvs::PoolInfo;
using lvs::PoolRegistry;
using lvs::ReplicaInfo;

inline constexpr uint64_t MiB = 1ull << 20;

// Pools log every create, import and export at info; keep test output to what matters.
inline const bool kQuietLogs = [] {
    (void)log::set_level(std::getenv("MS_TEST_LOG") ? std::getenv("MS_TEST_LOG") : "warn");
    return true;
}();

inline PoolRegistry& pools() {
    return PoolRegistry::instance();
}

// Runs `make()` (returning a Task) on reactor `r` of `rt` and returns its value.
template <typename F>
auto on(Runtime& rt, F make, std::size_t r = 0) {
    return run_on(rt.reactor(r), std::move(make));
}

inline Result<PoolInfo> create_pool(Runtime& rt, const std::string& name, const std::string& disk,
                                    CreatePoolOptions o = {}, std::size_t r = 0) {
    return on(
        rt, [=]() { return pools().create_or_import(name, disk, o); }, r);
}

inline Result<PoolInfo> import_pool(Runtime& rt, const std::string& name, const std::string& disk) {
    return on(rt, [=]() { return pools().import(name, disk); });
}

inline Status export_pool(Runtime& rt, const std::string& name) {
    return on(rt, [=]() { return pools().export_pool(name); });
}

inline Status destroy_pool(Runtime& rt, const std::string& name) {
    return on(rt, [=]() { return pools().destroy(name); });
}

inline Result<ReplicaInfo> create_replica(Runtime& rt, const std::string& pool, const std::string& name,
                                          uint64_t size, bool thin, std::size_t r = 0) {
    return on(
        rt, [=]() { return pools().create_replica(pool, name, size, thin); }, r);
}

inline Status destroy_replica(Runtime& rt, const std::string& name) {
    return on(rt, [=]() { return pools().destroy_replica(name); });
}

inline Result<ReplicaInfo> snapshot(Runtime& rt, const std::string& replica, const std::string& name) {
    return on(rt, [=]() { return pools().create_snapshot(replica, name); });
}

inline Result<ReplicaInfo> clone(Runtime& rt, const std::string& snap, const std::string& name) {
    return on(rt, [=]() { return pools().create_clone(snap, name); });
}

inline Status destroy_snapshot(Runtime& rt, const std::string& name) {
    return on(rt, [=]() { return pools().destroy_snapshot(name); });
}

inline Status set_share(Runtime& rt, const std::string& name, lvs::ShareProtocol p) {
    return on(rt, [=]() { return pools().set_share(name, p); });
}

inline std::unique_ptr<Descriptor> open_device(const std::string& name, OpenMode mode = OpenMode::ReadWrite) {
    auto dev = DeviceRegistry::instance().lookup(name);
    EXPECT_TRUE(dev) << "no device " << name;
    if (!dev) {
        return nullptr;
    }
    auto d = Descriptor::open(dev, mode);
    EXPECT_TRUE(is_ok(d));
    return d ? std::move(*d) : nullptr;
}

inline ReplicaInfo replica(const std::string& name) {
    auto r = pools().get_replica(name);
    EXPECT_TRUE(is_ok(r)) << name;
    return r ? *r : ReplicaInfo{};
}

// Writes `data` at `offset` of device `name` (opened for this call).
inline Status write_to(Runtime& rt, const std::string& name, uint64_t offset, std::span<const uint8_t> data,
                       std::size_t reactor = 0) {
    auto d = open_device(name);
    if (!d) {
        return make_error(ENODEV, name);
    }
    return write(rt, *d, offset, data, 1, reactor);
}

inline std::vector<uint8_t> read_from(Runtime& rt, const std::string& name, uint64_t offset,
                                      std::size_t length, std::size_t reactor = 0) {
    auto d = open_device(name, OpenMode::ReadOnly);
    if (!d) {
        return {};
    }
    auto r = read(rt, *d, offset, length, 1, reactor);
    EXPECT_TRUE(is_ok(r));
    return r ? *r : std::vector<uint8_t>{};
}

inline std::vector<uint8_t> pattern(std::size_t n, uint8_t v) {
    return std::vector<uint8_t>(n, v);
}

// Raw bytes of a device (a pool's base, while the pool is exported).
inline std::vector<uint8_t> raw_read(Runtime& rt, const std::string& dev, uint64_t offset,
                                     std::size_t length) {
    return read_from(rt, dev, offset, length);
}

inline void raw_write(Runtime& rt, const std::string& dev, uint64_t offset, std::span<const uint8_t> data) {
    ASSERT_TRUE(is_ok(write_to(rt, dev, offset, data)));
}

// Flips one bit of the byte at `offset` of device `dev`.
inline void flip_byte(Runtime& rt, const std::string& dev, uint64_t offset) {
    auto d = open_device(dev);
    ASSERT_TRUE(d);
    const uint64_t bs = d->block_size();
    const uint64_t block = offset / bs * bs;
    auto b = read(rt, *d, block, bs);
    ASSERT_TRUE(is_ok(b));
    (*b)[offset - block] ^= 0x10;
    ASSERT_TRUE(is_ok(write(rt, *d, block, *b)));
}

// Fresh registries around every test: pools exported (or destroyed), devices made by the
// test destroyed, the runtime stopped last.
class LvsTest : public ::testing::Test {
   protected:
    void TearDown() override {
        for (const auto& p : pools().list()) {
            EXPECT_TRUE(is_ok(export_pool(_rt, p.name))) << p.name;
        }
        for (const auto& n : _devices) {
            if (DeviceRegistry::instance().lookup(n)) {
                EXPECT_TRUE(is_ok(destroy(_rt, n))) << n;
            }
        }
        EXPECT_TRUE(pools().list().empty());
        EXPECT_TRUE(pools().list_replicas().empty());
    }

    // A malloc device that outlives pool exports (tests re-import from it). Returns its URI.
    std::string malloc_disk(const std::string& name, uint64_t size_mb, uint32_t bs = 512) {
        std::string uri =
            "malloc:///" + name + "?size_mb=" + std::to_string(size_mb) + "&blk_size=" + std::to_string(bs);
        auto dev = create(_rt, uri);
        EXPECT_TRUE(is_ok(dev));
        _devices.push_back(name);
        return uri;
    }
    void fill_device(const std::string& name, uint8_t v) {
        auto d = open_device(name);
        ASSERT_TRUE(d);
        const std::size_t chunk = 4 * MiB;
        auto data = pattern(chunk, v);
        for (uint64_t at = 0; at < d->size_bytes(); at += chunk) {
            std::size_t n = std::min<uint64_t>(chunk, d->size_bytes() - at);
            ASSERT_TRUE(is_ok(write(_rt, *d, at, std::span<const uint8_t>(data).first(n))));
        }
    }

    Runtime _rt{two_cores()};
    std::vector<std::string> _devices;
};

}  // namespace ms::test
