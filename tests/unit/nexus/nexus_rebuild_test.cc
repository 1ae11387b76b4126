// Rebuilds through the nexus's public API (NexusRegistry): a child added under application
// writes on both reactors ends equal to the others; pause/resume/stop of a job; an offline
// child brought back copies only the regions it missed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include "core/log.h"
#include "nexus/nexus.h"
#include "rebuild_test_util.h"

namespace ms::test {
namespace {

using nexus::ChildInfo;
using nexus::ChildState;
using nexus::FaultReason;
using nexus::NexusInfo;
using nexus::NexusOptions;
using nexus::NexusRegistry;
using nexus::NexusState;
using nexus::RebuildState;
using nexus::RebuildStats;
using Clock = std::chrono::steady_clock;

constexpr uint64_t MiB = 1 << 20;
constexpr uint32_t kBs = 512;

inline const bool kQuietLogs = [] {
    (void)log::set_level(std::getenv("MS_TEST_LOG") ? std::getenv("MS_TEST_LOG") : "warn");
    return true;
}();

NexusRegistry& reg() {
    return NexusRegistry::instance();
}

std::string child_uri(const std::string& name, uint64_t size) {
    return "malloc:///" + name + "?size_mb=" + std::to_string(size / MiB) +
           "&blk_size=" + std::to_string(kBs);
}

// Polls `cond` from the test thread every 2 ms; false after `limit`.
bool eventually(const std::function<bool()>& cond,
                std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    auto end = Clock::now() + limit;
    while (!cond()) {
        if (Clock::now() > end) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

// Application writes on one reactor through the nexus: chunks of 8 blocks whose index has the
// writer's parity, each written with new data and read back; `model` holds what the nexus
// should contain (writers touch disjoint chunks).
Task<void> app_writer(Descriptor& d, unsigned parity, std::atomic<bool>& stop, std::vector<uint8_t>& model,
                      std::atomic<uint64_t>& writes, std::atomic<uint64_t>& failures) {
    constexpr uint64_t kChunk = 8 * kBs;
    const uint64_t chunks = model.size() / kChunk;
    auto out = d.dma_malloc(kChunk);
    auto in = d.dma_malloc(kChunk);
    if (!out || !in) {
        ++failures;
        co_return;
    }
    std::mt19937_64 rng(100 + parity);
    while (!stop.load()) {
        uint64_t chunk = (rng() % (chunks / 2)) * 2 + parity;
        for (std::size_t i = 0; i < kChunk; i += 8) {
            uint64_t x = rng();
            std::memcpy(out->data() + i, &x, 8);
        }
        Status w = co_await d.write_at(chunk * kChunk, *out);
        Status r = co_await d.read_at(chunk * kChunk, *in);
        if (!w || !r || std::memcmp(out->data(), in->data(), kChunk) != 0) {
            ++failures;
        }
        std::memcpy(model.data() + chunk * kChunk, out->data(), kChunk);
        ++writes;
        // Malloc children complete inline: let the reactor's other work (the rebuild) run.
        co_await yield();
    }
}

class NexusRebuildTest : public ::testing::Test {
   protected:
    void SetUp() override { _uuid = Uuid::generate(); }

    void TearDown() override {
        stop_writers();
        _nexus_desc.reset();
        Status s =
            run_on(_rt.reactor(0), [this]() -> Task<Status> { co_return co_await reg().destroy(_uuid); });
        EXPECT_TRUE(is_ok(s));
        for (const auto& name : registry_names()) {
            EXPECT_FALSE(name.starts_with("rbn_")) << name << " left behind";
        }
        reg().set_options(NexusOptions{});
    }

    // A nexus of `size` bytes over `children`, options set first; opens it for I/O.
    void create(uint64_t size, std::vector<std::string> children, NexusOptions options) {
        reg().set_options(options);
        _size = size;
        auto info = run_on(_rt.reactor(0), [&]() -> Task<Result<NexusInfo>> {
            co_return co_await reg().create("rbn_nexus", size, _uuid, children);
        });
        ASSERT_TRUE(is_ok(info));
        auto dev = reg().device(_uuid);
        ASSERT_TRUE(is_ok(dev));
        _nexus_desc = open_rw(*dev);
        ASSERT_TRUE(_nexus_desc);
        _model.assign(size, 0);
    }

    // Fills the nexus with random data (the model follows).
    void fill(uint64_t seed) {
        _model = random_bytes(_size, seed);
        ASSERT_TRUE(is_ok(write(_rt, *_nexus_desc, 0, _model)));
    }

    void start_writers() {
        _stop = false;
        for (unsigned r = 0; r < 2; ++r) {
            _writers.emplace_back([this, r] {
                run_on(_rt.reactor(r), [this, r]() -> Task<void> {
                    co_await app_writer(*_nexus_desc, r, _stop, _model, _writes, _failures);
                });
            });
        }
    }
    void stop_writers() {
        _stop = true;
        for (auto& t : _writers) {
            t.join();
        }
        _writers.clear();
    }

    std::optional<ChildInfo> child(const std::string& uri) {
        auto info = reg().get(_uuid);
        EXPECT_TRUE(is_ok(info));
        if (info) {
            for (const auto& c : info->children) {
                if (c.uri == uri) {
                    return c;
                }
            }
        }
        ADD_FAILURE() << "no child " << uri;
        return std::nullopt;
    }
    bool child_open(const std::string& uri) {
        auto c = child(uri);
        return c && c->state == ChildState::Open;
    }

    // The child device `name` (a read-only view past the nexus) equals the model.
    ::testing::AssertionResult child_holds_model(const std::string& name) {
        auto dev = DeviceRegistry::instance().lookup(name);
        if (!dev) {
            return ::testing::AssertionFailure() << "no device " << name;
        }
        auto d = Descriptor::open(dev, OpenMode::ReadOnly);
        if (!d) {
            return ::testing::AssertionFailure() << d.error().to_string();
        }
        auto back = read_blocks(_rt, **d, 0, _size / kBs);
        return same_bytes(back, _model) << " (child " << name << ")";
    }

    uint64_t bytes_written(const std::string& name) {
        auto dev = DeviceRegistry::instance().lookup(name);
        EXPECT_TRUE(dev) << name;
        return dev ? dev->stats().bytes_written : 0;
    }

    template <typename F>
    auto on0(F make) {
        return run_on(_rt.reactor(0), std::move(make));
    }
    Status call(std::function<Task<Status>()> make) { return on0(std::move(make)); }

    Runtime _rt{two_cores()};
    Uuid _uuid;
    uint64_t _size = 0;
    std::unique_ptr<Descriptor> _nexus_desc;
    std::vector<uint8_t> _model;
    std::atomic<bool> _stop{false};
    std::atomic<uint64_t> _writes{0};
    std::atomic<uint64_t> _failures{0};
    std::vector<std::thread> _writers;
};

NexusOptions rate_limited(uint64_t rate, uint64_t segment = 64 * 1024) {
    NexusOptions o;
    o.rebuild.segment_bytes = segment;
    o.rebuild.max_tasks = 4;
    o.rebuild.rate_limit = rate;
    return o;
}

TEST_F(NexusRebuildTest, AddedChildIsRebuiltUnderApplicationWrites) {
    const uint64_t size = 16 * MiB;
    const std::string a = child_uri("rbn_a", size), b = child_uri("rbn_b", size);
    // About half a second of rebuild, so that the writers overlap it.
    ASSERT_NO_FATAL_FAILURE(create(size, {a}, rate_limited(32 * MiB)));
    ASSERT_NO_FATAL_FAILURE(fill(1));
    start_writers();
    ASSERT_TRUE(eventually([&] { return _writes.load() > 50; }));

    auto added =
        on0([&]() -> Task<Result<ChildInfo>> { co_return co_await reg().add_child(_uuid, b, false); });
    ASSERT_TRUE(is_ok(added));
    EXPECT_EQ(added->state, ChildState::Faulted);
    EXPECT_EQ(added->reason, FaultReason::OutOfSync);
    EXPECT_EQ(reg().get(_uuid)->state, NexusState::Degraded);
    EXPECT_GE(reg().rebuild_count(), 1u);
    auto stats = reg().rebuild_stats(_uuid, b);
    ASSERT_TRUE(is_ok(stats));
    EXPECT_EQ(stats->blocks_total, size / kBs);
    EXPECT_FALSE(stats->partial);

    // Progress shows in the child's info while it runs.
    int32_t seen_progress = -1;
    const uint64_t writes_at_start = _writes.load();
    ASSERT_TRUE(eventually([&] {
        auto c = child(b);
        if (c && c->state != ChildState::Open) {
            EXPECT_GE(c->rebuild_progress, 0);
            EXPECT_LE(c->rebuild_progress, 100);
            seen_progress = std::max(seen_progress, c->rebuild_progress);
        }
        return c && c->state == ChildState::Open;
    }));
    EXPECT_GT(seen_progress, 0);
    EXPECT_GT(_writes.load() - writes_at_start, 100u) << "the rebuild ran without application writes";
    // Writes go on to both children once the new one is open.
    const uint64_t writes_at_open = _writes.load();
    ASSERT_TRUE(eventually([&] { return _writes.load() > writes_at_open + 50; }));
    stop_writers();
    EXPECT_EQ(_failures.load(), 0u);

    EXPECT_TRUE(child_holds_model("rbn_a"));
    EXPECT_TRUE(child_holds_model("rbn_b"));
    auto info = reg().get(_uuid);
    ASSERT_TRUE(is_ok(info));
    EXPECT_EQ(info->state, NexusState::Online);
    for (const auto& c : info->children) {
        EXPECT_EQ(c.state, ChildState::Open) << c.uri;
        EXPECT_EQ(c.rebuild_progress, -1) << c.uri;
    }
    EXPECT_TRUE(fails_with(reg().rebuild_state(_uuid, b), ENOENT));
    EXPECT_EQ(info->rebuilds, 0u);
}

TEST_F(NexusRebuildTest, PauseResumeStopThroughTheRegistry) {
    const uint64_t size = 16 * MiB;
    const std::string a = child_uri("rbn_a", size), b = child_uri("rbn_b", size);
    ASSERT_NO_FATAL_FAILURE(create(size, {a}, rate_limited(8 * MiB)));  // a two-second rebuild
    ASSERT_NO_FATAL_FAILURE(fill(2));

    auto added =
        on0([&]() -> Task<Result<ChildInfo>> { co_return co_await reg().add_child(_uuid, b, true); });
    ASSERT_TRUE(is_ok(added));
    EXPECT_EQ(added->reason, FaultReason::OutOfSync);
    EXPECT_TRUE(fails_with(reg().rebuild_state(_uuid, b), ENOENT));  // norebuild: no job
    EXPECT_TRUE(fails_with(call([&]() -> Task<Status> { co_return co_await reg().pause_rebuild(_uuid, b); }),
                           ENOENT));
    // The healthy child is not a destination.
    EXPECT_TRUE(fails_with(call([&]() -> Task<Status> { co_return co_await reg().start_rebuild(_uuid, a); }),
                           EALREADY));

    ASSERT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().start_rebuild(_uuid, b); })));
    EXPECT_EQ(reg().rebuild_state(_uuid, b).value_or(RebuildState::Init), RebuildState::Running);
    EXPECT_TRUE(fails_with(call([&]() -> Task<Status> { co_return co_await reg().start_rebuild(_uuid, b); }),
                           EALREADY));
    EXPECT_TRUE(fails_with(call([&]() -> Task<Status> { co_return co_await reg().resume_rebuild(_uuid, b); }),
                           EALREADY));
    ASSERT_TRUE(eventually(
        [&] { return reg().rebuild_stats(_uuid, b).value_or(RebuildStats{}).blocks_recovered > 0; }));

    ASSERT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().pause_rebuild(_uuid, b); })));
    EXPECT_EQ(reg().rebuild_state(_uuid, b).value_or(RebuildState::Init), RebuildState::Paused);
    EXPECT_TRUE(fails_with(call([&]() -> Task<Status> { co_return co_await reg().pause_rebuild(_uuid, b); }),
                           EALREADY));
    ASSERT_TRUE(
        eventually([&] { return reg().rebuild_stats(_uuid, b).value_or(RebuildStats{}).tasks_active == 0; }));
    const RebuildStats paused = *reg().rebuild_stats(_uuid, b);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // nothing may move meanwhile
    EXPECT_EQ(reg().rebuild_stats(_uuid, b)->blocks_recovered, paused.blocks_recovered);
    EXPECT_EQ(child(b)->rebuild_progress, static_cast<int32_t>(paused.progress));
    EXPECT_LT(paused.progress, 100u);

    ASSERT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().resume_rebuild(_uuid, b); })));
    EXPECT_EQ(reg().rebuild_state(_uuid, b).value_or(RebuildState::Init), RebuildState::Running);
    ASSERT_TRUE(eventually([&] {
        return reg().rebuild_stats(_uuid, b).value_or(RebuildStats{}).blocks_recovered >
               paused.blocks_recovered;
    }));

    // A stopped job disappears; the child stays out of sync.
    ASSERT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().stop_rebuild(_uuid, b); })));
    EXPECT_TRUE(fails_with(reg().rebuild_state(_uuid, b), ENOENT));
    EXPECT_TRUE(fails_with(reg().rebuild_stats(_uuid, b), ENOENT));
    EXPECT_EQ(reg().rebuild_count(), 0u);
    EXPECT_EQ(reg().get(_uuid)->rebuilds, 0u);
    EXPECT_EQ(child(b)->state, ChildState::Faulted);
    EXPECT_EQ(child(b)->reason, FaultReason::OutOfSync);
    EXPECT_EQ(child(b)->rebuild_progress, -1);
    EXPECT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().stop_rebuild(_uuid, b); })));
    EXPECT_TRUE(fails_with(call([&]() -> Task<Status> { co_return co_await reg().resume_rebuild(_uuid, b); }),
                           ENOENT));

    // Started again, it runs to the end.
    ASSERT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().start_rebuild(_uuid, b); })));
    ASSERT_TRUE(eventually([&] { return child_open(b); }));
    EXPECT_TRUE(child_holds_model("rbn_a"));
    EXPECT_TRUE(child_holds_model("rbn_b"));
}

Task<void> stop_rebuild_into(Uuid uuid, std::string uri, Status* out) {
    *out = co_await reg().stop_rebuild(uuid, std::move(uri));
}

// A rebuild restarted while the stop of the previous one is finishing: the new job must survive
// the old job's end (the old job's completion handling must not take the new one for itself).
TEST_F(NexusRebuildTest, RestartRightAfterStopKeepsTheNewJob) {
    const uint64_t size = 8 * MiB;
    const std::string a = child_uri("rbn_a", size), b = child_uri("rbn_b", size);
    ASSERT_NO_FATAL_FAILURE(create(size, {a}, rate_limited(16 * MiB)));  // half a second
    ASSERT_NO_FATAL_FAILURE(fill(4));
    auto added =
        on0([&]() -> Task<Result<ChildInfo>> { co_return co_await reg().add_child(_uuid, b, false); });
    ASSERT_TRUE(is_ok(added));
    ASSERT_TRUE(eventually(
        [&] { return reg().rebuild_stats(_uuid, b).value_or(RebuildStats{}).blocks_recovered > 0; }));
    Status stopped = make_error(EINPROGRESS, "not run");
    Status restarted = on0([&]() -> Task<Status> {
        // The stop runs first (it holds the nexus's operation lock while the job ends); the
        // start queues behind it.
        Reactor::current()->spawn(stop_rebuild_into(_uuid, b, &stopped));
        co_await yield();
        co_return co_await reg().start_rebuild(_uuid, b);
    });
    EXPECT_TRUE(is_ok(stopped));
    ASSERT_TRUE(is_ok(restarted));
    EXPECT_TRUE(eventually([&] {
        auto st = reg().rebuild_state(_uuid, b);
        return child_open(b) || !st;  // rebuilt, or its job vanished
    }));
    EXPECT_TRUE(child_open(b)) << "the restarted rebuild disappeared: "
                               << (reg().rebuild_state(_uuid, b) ? "it still exists" : "no job");
    EXPECT_TRUE(child_holds_model("rbn_b"));
}

TEST_F(NexusRebuildTest, OnlineChildCopiesOnlyTheRegionsItMissed) {
    const uint64_t size = 16 * MiB;
    const uint64_t region = 16 * 1024;  // 1024 regions
    const std::string a = child_uri("rbn_a", size), b = child_uri("rbn_b", size);
    NexusOptions o = rate_limited(256 * 1024);  // 160 KiB to copy: long enough to look at the job
    o.wil_region_bytes = region;
    ASSERT_NO_FATAL_FAILURE(create(size, {a, b}, o));
    EXPECT_TRUE(child_open(a));
    EXPECT_TRUE(child_open(b));
    // Data on both children before b leaves.
    auto before = random_bytes(4 * MiB, 3);
    ASSERT_TRUE(is_ok(write(_rt, *_nexus_desc, 2 * MiB, before)));
    std::copy(before.begin(), before.end(), _model.begin() + 2 * MiB);

    ASSERT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().offline_child(_uuid, b); })));
    EXPECT_EQ(child(b)->state, ChildState::Closed);
    EXPECT_EQ(reg().get(_uuid)->state, NexusState::Degraded);
    // 1 % of the regions written while b is away: ten regions (two adjacent, one inside the
    // data written before), 4 KiB each, on both reactors.
    const uint64_t regions[] = {0, 5, 6, 130, 140, 500, 777, 901, 1000, 1023};
    for (std::size_t i = 0; i < std::size(regions); ++i) {
        auto data = random_bytes(4096, 10 + i);
        const uint64_t at = regions[i] * region + (i % 3) * 4096;
        ASSERT_TRUE(is_ok(write(_rt, *_nexus_desc, at, data, 1, i % 2)));
        std::copy(data.begin(), data.end(), _model.begin() + static_cast<std::ptrdiff_t>(at));
    }
    const uint64_t missed_blocks = std::size(regions) * region / kBs;
    const uint64_t written_before = bytes_written("rbn_b");

    ASSERT_TRUE(is_ok(call([&]() -> Task<Status> { co_return co_await reg().online_child(_uuid, b); })));
    auto stats = reg().rebuild_stats(_uuid, b);
    ASSERT_TRUE(is_ok(stats));
    EXPECT_TRUE(stats->partial);
    EXPECT_EQ(stats->blocks_total, missed_blocks);
    auto c = child(b);
    EXPECT_EQ(c->state, ChildState::Faulted);
    EXPECT_EQ(c->reason, FaultReason::OutOfSync);
    EXPECT_GE(c->rebuild_progress, 0);
    EXPECT_LT(c->rebuild_progress, 100);
    EXPECT_TRUE(fails_with(call([&]() -> Task<Status> { co_return co_await reg().online_child(_uuid, a); }),
                           EALREADY));

    ASSERT_TRUE(eventually([&] { return child_open(b); }));
    EXPECT_EQ(bytes_written("rbn_b") - written_before, missed_blocks * kBs);
    EXPECT_TRUE(child_holds_model("rbn_a"));
    EXPECT_TRUE(child_holds_model("rbn_b"));
    EXPECT_EQ(reg().get(_uuid)->state, NexusState::Online);
    EXPECT_EQ(child(b)->rebuild_progress, -1);
}

}  // namespace
}  // namespace ms::test
