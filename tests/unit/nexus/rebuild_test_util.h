// Helpers for the rebuild tests: a one-reactor event and range-lock table (what the nexus's
// lock_range provides, built here so the job is tested without the nexus), a device that delays
// writes (to hold a copy's race window open), and block-by-block comparison of two devices.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../bdev/bdev_test_util.h"
#include "core/reactor.h"
#include "nexus/rebuild_job.h"

namespace ms::test {

// Coroutines of one reactor waiting for set(); those waiting are resumed on a later turn.
class Event {
   public:
    struct Awaiter {
        Event& e;
        bool await_ready() noexcept { return e._set; }
        void await_suspend(std::coroutine_handle<> h) { e._waiters.push_back(h); }
        void await_resume() noexcept {}
    };
    Awaiter wait() { return Awaiter{*this}; }
    void set() {
        _set = true;
        notify();
    }
    // Wakes the waiters without setting (for condition loops).
    void notify() {
        for (auto h : std::exchange(_waiters, {})) {
            Reactor::current()->schedule(h);
        }
    }
    void reset() { _set = false; }
    bool is_set() const { return _set; }

   private:
    bool _set = false;
    std::vector<std::coroutine_handle<>> _waiters;
};

// LBA range locks of one reactor: a lock waits until no held range overlaps it. `enabled` =
// false makes lock_range a no-op (to show a test detects what the locks prevent).
class TestLockTable {
   public:
    explicit TestLockTable(bool enabled = true) : _enabled(enabled) {}

    class Lock final : public nexus::RangeLock {
       public:
        Lock(TestLockTable* t, std::list<std::pair<uint64_t, uint64_t>>::iterator it) : _t(t), _it(it) {}
        ~Lock() override {
            if (_t != nullptr) {
                _t->_held.erase(_it);
                _t->_changed.notify();
            }
        }

       private:
        TestLockTable* _t;
        std::list<std::pair<uint64_t, uint64_t>>::iterator _it;
    };

    Task<std::unique_ptr<nexus::RangeLock>> lock(uint64_t offset, uint64_t n) {
        ++locks_taken;
        if (!_enabled) {
            co_return std::make_unique<Lock>(nullptr, _held.end());
        }
        while (overlaps(offset, n)) {
            ++waits;
            co_await _changed.wait();
        }
        _held.emplace_back(offset, n);
        co_return std::make_unique<Lock>(this, std::prev(_held.end()));
    }

    // The target's lock_range, calling this table.
    auto lock_fn() {
        return [this](uint64_t offset, uint64_t n) { return lock(offset, n); };
    }

    std::size_t held() const { return _held.size(); }
    uint64_t locks_taken = 0;
    uint64_t waits = 0;  // times a lock found its range busy

   private:
    bool overlaps(uint64_t offset, uint64_t n) const {
        for (const auto& [o, len] : _held) {
            if (offset < o + len && o < offset + n) {
                return true;
            }
        }
        return false;
    }

    bool _enabled;
    std::list<std::pair<uint64_t, uint64_t>> _held;
    Event _changed;
};

// Passes I/O to a base device, delaying writes by `write_delay` (changeable at any time).
class DelayDevice final : public BlockDevice {
   public:
    DelayDevice(std::string name, std::unique_ptr<Descriptor> base)
        : BlockDevice(std::move(name), "Delay disk", base->device().geometry(), Uuid::generate()),
          _base(std::move(base)) {}

    bool io_type_supported(IoType t) const override { return _base->device().io_type_supported(t); }
    Task<Status> submit(IoChannel&, IoRequest req) override {
        auto delay = std::chrono::microseconds(write_delay_us.load());
        if (req.type == IoType::Write && delay.count() > 0) {
            co_await sleep_for(delay);
        }
        co_return co_await _base->submit(req);
    }

    std::atomic<int64_t> write_delay_us{0};

   private:
    std::unique_ptr<Descriptor> _base;
};

// Reads `blocks` blocks at `block` of `d` (on reactor 0).
inline std::vector<uint8_t> read_blocks(Runtime& rt, Descriptor& d, uint64_t block, uint64_t blocks) {
    auto r = read(rt, d, block * d.block_size(), blocks * d.block_size());
    EXPECT_TRUE(is_ok(r));
    return r ? std::move(*r) : std::vector<uint8_t>{};
}

// Blocks [first, first + count) of `a` and `b` that differ.
inline uint64_t differing_blocks(Runtime& rt, Descriptor& a, Descriptor& b, uint64_t first, uint64_t count) {
    const uint64_t bs = a.block_size();
    uint64_t diff = 0;
    constexpr uint64_t kChunk = 2048;
    for (uint64_t at = first; at < first + count; at += kChunk) {
        uint64_t n = std::min(kChunk, first + count - at);
        auto x = read_blocks(rt, a, at, n);
        auto y = read_blocks(rt, b, at, n);
        if (x.size() != n * bs || y.size() != n * bs) {
            ADD_FAILURE() << "short read";
            return count;
        }
        for (uint64_t i = 0; i < n; ++i) {
            if (std::memcmp(x.data() + i * bs, y.data() + i * bs, bs) != 0) {
                ++diff;
            }
        }
    }
    return diff;
}

}  // namespace ms::test
