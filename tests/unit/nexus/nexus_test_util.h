// Helpers shared by the nexus unit tests: synchronous wrappers that run NexusRegistry calls on
// a reactor from the test thread, a KvStore in memory whose puts can be held open, a memory
// device whose I/O can be held, and a fixture that leaves the registries empty.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../bdev/bdev_test_util.h"
#include "bdev/error.h"
#include "core/log.h"
#include "nexus/nexus.h"
#include "nexus/nexus_device.h"
#include "store/kv_store.h"

namespace ms::test {

using nexus::ChildInfo;
using nexus::ChildState;
using nexus::FaultReason;
using nexus::NexusInfo;
using nexus::NexusRegistry;
using nexus::NexusState;

inline constexpr uint64_t MiB = 1ull << 20;

inline const bool kQuietNexusLogs = [] {
    (void)log::set_level(std::getenv("MS_TEST_LOG") ? std::getenv("MS_TEST_LOG") : "warn");
    return true;
}();

inline NexusRegistry& nexuses() {
    return NexusRegistry::instance();
}

inline std::string malloc_uri(const std::string& name, uint64_t size_mb, uint32_t bs = 512) {
    return "malloc:///" + name + "?size_mb=" + std::to_string(size_mb) + "&blk_size=" + std::to_string(bs);
}

// Polls `cond` (a state the code under test reaches on its own, e.g. a rebuild ending) for up
// to `limit`; true once it holds.
template <typename F>
bool eventually(F cond, std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (cond()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return cond();
}

// ---- a store in memory ---------------------------------------------------------------------

class MemoryStore final : public store::KvStore {
   public:
    Task<Status> put(std::string key, std::string value) override {
        puts_started.fetch_add(1);
        while (hold_puts.load()) {
            co_await sleep_for(std::chrono::microseconds(200));
        }
        if (fail_puts.load()) {
            puts_failed.fetch_add(1);
            co_return make_error(EIO, "memory store: put failed on purpose");
        }
        {
            std::lock_guard g(mutex);
            data[key] = value;
        }
        puts_done.fetch_add(1);
        co_return ok();
    }
    Task<Result<std::optional<std::string>>> get(std::string key) override {
        std::lock_guard g(mutex);
        auto it = data.find(key);
        if (it == data.end()) {
            co_return std::optional<std::string>();
        }
        co_return std::optional<std::string>(it->second);
    }
    Task<Status> remove(std::string key) override {
        std::lock_guard g(mutex);
        data.erase(key);
        co_return ok();
    }
    Task<Result<std::vector<std::pair<std::string, std::string>>>> list(std::string prefix) override {
        std::lock_guard g(mutex);
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& [k, v] : data) {
            if (k.starts_with(prefix)) {
                out.emplace_back(k, v);
            }
        }
        co_return out;
    }
    std::string describe() const override { return "memory"; }

    std::optional<std::string> value(const std::string& key) {
        std::lock_guard g(mutex);
        auto it = data.find(key);
        return it == data.end() ? std::nullopt : std::optional<std::string>(it->second);
    }

    std::mutex mutex;
    std::map<std::string, std::string> data;
    std::atomic<bool> hold_puts{false};
    std::atomic<bool> fail_puts{false};
    std::atomic<int> puts_started{0};
    std::atomic<int> puts_done{0};
    std::atomic<int> puts_failed{0};
};

// ---- a memory device whose I/O can be held ---------------------------------------------------

class GateDevice final : public BlockDevice {
   public:
    GateDevice(std::string name, uint64_t num_blocks, uint32_t bs = 512)
        : BlockDevice(std::move(name), "Gate disk", Geometry{bs, num_blocks, 1}, Uuid::generate()),
          _mem(num_blocks * bs) {}

    bool io_type_supported(IoType) const override { return true; }
    Task<Status> submit(IoChannel&, IoRequest req) override {
        bool is_write = req.type == IoType::Write;
        if ((is_write && hold_writes.load()) || (!is_write && hold_reads.load())) {
            held.fetch_add(1);
            while ((is_write && hold_writes.load()) || (!is_write && hold_reads.load())) {
                co_await sleep_for(std::chrono::microseconds(200));
            }
            held.fetch_sub(1);
        }
        std::lock_guard g(_m);
        uint8_t* p = _mem.data() + req.offset_blocks * block_size();
        if (req.type == IoType::Read) {
            for (const iovec& v : req.iov) {
                std::memcpy(v.iov_base, p, v.iov_len);
                p += v.iov_len;
            }
        } else if (req.type == IoType::Write) {
            for (const iovec& v : req.iov) {
                std::memcpy(p, v.iov_base, v.iov_len);
                p += v.iov_len;
            }
        } else if (req.type == IoType::Unmap || req.type == IoType::WriteZeroes) {
            std::memset(p, 0, req.num_blocks * block_size());
        }
        co_return ok();
    }

    std::atomic<bool> hold_writes{false};
    std::atomic<bool> hold_reads{false};
    std::atomic<int> held{0};  // requests waiting at the gate

   private:
    std::mutex _m;
    std::vector<uint8_t> _mem;
};

// ---- synchronous wrappers --------------------------------------------------------------------

inline Result<NexusInfo> create_nexus(Runtime& rt, const std::string& name, uint64_t size, const Uuid& uuid,
                                      std::vector<std::string> children, std::size_t r = 0) {
    return run_on(rt.reactor(r), [=]() { return nexuses().create(name, size, uuid, children); });
}

inline Status destroy_nexus(Runtime& rt, const Uuid& uuid, std::size_t r = 0) {
    return run_on(rt.reactor(r), [=]() { return nexuses().destroy(uuid); });
}

inline Result<ChildInfo> add_child(Runtime& rt, const Uuid& uuid, const std::string& uri, bool norebuild) {
    return run_on(rt.reactor(0), [=]() { return nexuses().add_child(uuid, uri, norebuild); });
}
inline Status remove_child(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().remove_child(uuid, uri); });
}
inline Status fault_child(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().fault_child(uuid, uri); });
}
inline Status offline_child(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().offline_child(uuid, uri); });
}
inline Status online_child(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().online_child(uuid, uri); });
}
inline Status start_rebuild(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().start_rebuild(uuid, uri); });
}
inline Status stop_rebuild(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().stop_rebuild(uuid, uri); });
}
inline Status pause_rebuild(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().pause_rebuild(uuid, uri); });
}
inline Status resume_rebuild(Runtime& rt, const Uuid& uuid, const std::string& uri) {
    return run_on(rt.reactor(0), [=]() { return nexuses().resume_rebuild(uuid, uri); });
}

inline NexusInfo info(const Uuid& uuid) {
    auto i = nexuses().get(uuid);
    EXPECT_TRUE(is_ok(i));
    return i ? *i : NexusInfo{};
}

inline ChildInfo child_info(const Uuid& uuid, const std::string& uri) {
    for (const auto& c : info(uuid).children) {
        if (c.uri == uri) {
            return c;
        }
    }
    ADD_FAILURE() << "no child " << uri;
    return {};
}

inline std::shared_ptr<nexus::Nexus> nexus_object(const Uuid& uuid) {
    auto dev = nexuses().device(uuid);
    EXPECT_TRUE(is_ok(dev));
    return dev ? std::dynamic_pointer_cast<nexus::Nexus>(*dev) : nullptr;
}

inline std::unique_ptr<Descriptor> open_nexus(const Uuid& uuid) {
    auto dev = nexuses().device(uuid);
    EXPECT_TRUE(is_ok(dev));
    if (!dev) {
        return nullptr;
    }
    auto d = Descriptor::open(*dev, OpenMode::ReadWrite);
    EXPECT_TRUE(is_ok(d));
    return d ? std::move(*d) : nullptr;
}

inline std::unique_ptr<Descriptor> open_device(const std::string& name, OpenMode mode = OpenMode::ReadOnly) {
    auto dev = DeviceRegistry::instance().lookup(name);
    EXPECT_TRUE(dev) << "no device " << name;
    if (!dev) {
        return nullptr;
    }
    auto d = Descriptor::open(dev, mode);
    EXPECT_TRUE(is_ok(d));
    return d ? std::move(*d) : nullptr;
}

// Bytes of device `name`, read directly (not through the nexus).
inline std::vector<uint8_t> device_bytes(Runtime& rt, const std::string& name, uint64_t offset,
                                         std::size_t length) {
    auto d = open_device(name);
    if (!d) {
        return {};
    }
    auto r = read(rt, *d, offset, length);
    EXPECT_TRUE(is_ok(r));
    return r ? *r : std::vector<uint8_t>{};
}

inline ErrorDevice* error_device(const std::string& name) {
    auto dev = DeviceRegistry::instance().lookup(name);
    EXPECT_TRUE(dev) << "no device " << name;
    return dynamic_cast<ErrorDevice*>(dev.get());
}

inline ErrorInjection fail_writes() {
    ErrorInjection e;
    e.types = io_type_bit(IoType::Write);
    return e;
}

// Fresh registries around every test: nexuses destroyed, devices made by the test destroyed,
// the store unset, the runtime stopped last.
class NexusTest : public ::testing::Test {
   protected:
    void SetUp() override {
        nexuses().set_store(nullptr);
        nexuses().set_options(nexus::NexusOptions{});
    }
    void TearDown() override {
        for (const auto& n : nexuses().list()) {
            EXPECT_TRUE(is_ok(destroy_nexus(_rt, n.uuid))) << n.name;
        }
        for (auto it = _devices.rbegin(); it != _devices.rend(); ++it) {
            if (DeviceRegistry::instance().lookup(*it)) {
                EXPECT_TRUE(is_ok(destroy(_rt, *it))) << *it;
            }
        }
        for (const auto& g : _gates) {
            auto removed = DeviceRegistry::instance().remove(g);
            EXPECT_TRUE(is_ok(removed)) << g;
        }
        nexuses().set_store(nullptr);
        EXPECT_TRUE(nexuses().list().empty());
        EXPECT_EQ(nexuses().rebuild_count(), 0u);
    }

    // A malloc device the test owns (it outlives nexuses); its bdev:/// URI.
    std::string disk(const std::string& name, uint64_t size_mb = 8, uint32_t bs = 512) {
        auto dev = create(_rt, malloc_uri(name, size_mb, bs));
        EXPECT_TRUE(is_ok(dev)) << name;
        _devices.push_back(name);
        return "bdev:///" + name;
    }
    std::shared_ptr<GateDevice> gate(const std::string& name, uint64_t num_blocks) {
        auto dev = std::make_shared<GateDevice>(name, num_blocks);
        EXPECT_TRUE(is_ok(DeviceRegistry::instance().add(dev)));
        _gates.push_back(name);
        return dev;
    }
    void fill(const std::string& name, uint64_t size, uint64_t seed) {
        auto d = open_device(name, OpenMode::ReadWrite);
        ASSERT_TRUE(d);
        ASSERT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(size, seed))));
    }

    Runtime _rt{two_cores()};
    std::vector<std::string> _devices;
    std::vector<std::string> _gates;
};

}  // namespace ms::test
