#include "nexus/rebuild_job.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <random>

#include "bdev/error.h"
#include "rebuild_test_util.h"

namespace ms::test {
namespace {

using nexus::RebuildJob;
using nexus::RebuildOptions;
using nexus::RebuildState;
using nexus::RebuildStats;
using nexus::RebuildTarget;
using nexus::WriteIntentLog;
using Clock = std::chrono::steady_clock;

// What a job reported: on_done's calls and arguments, wait()'s result, the final stats.
struct Outcome {
    int done_calls = 0;
    RebuildState done_state = RebuildState::Init;
    std::optional<Error> error;
    RebuildState waited = RebuildState::Init;
    RebuildStats stats;
    double seconds = 0;
};

// Waits (on a reactor) until `cond` holds, checking every millisecond; false after `limit`.
Task<bool> until(std::function<bool()> cond, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    auto end = Clock::now() + limit;
    while (!cond()) {
        if (Clock::now() > end) {
            co_return false;
        }
        co_await sleep_for(std::chrono::milliseconds(1));
    }
    co_return true;
}

// A source and a destination device with different random contents; the job runs on reactor 0.
class RebuildJobTest : public ::testing::Test {
   protected:
    void TearDown() override {
        _src.reset();
        _dst.reset();
        _src_ro.reset();
        _dst_direct.reset();
        _delay.reset();
        _src_dev.reset();
        _dst_dev.reset();
        for (auto it = _uris.rbegin(); it != _uris.rend(); ++it) {
            EXPECT_TRUE(is_ok(destroy(_rt, *it))) << *it;
        }
    }

    std::shared_ptr<BlockDevice> make(const std::string& uri) {
        auto dev = create(_rt, uri);
        EXPECT_TRUE(is_ok(dev)) << uri;
        if (!dev) {
            return nullptr;
        }
        _uris.push_back(uri);
        return *dev;
    }
    static std::string malloc_uri(const std::string& name, uint64_t blocks, uint32_t bs) {
        return "malloc:///" + name + "?num_blocks=" + std::to_string(blocks) +
               "&blk_size=" + std::to_string(bs);
    }

    // Source "rb_src" and destination "rb_dst" of `blocks` blocks, filled with different data.
    // `src_error`/`dst_error`: the job sees the device through an error:/// device with these
    // parameters. `dst_delay`: the job writes the destination through a DelayDevice.
    void setup(uint32_t bs, uint64_t blocks, const std::string& src_error = "",
               const std::string& dst_error = "", bool dst_delay = false) {
        _bs = bs;
        _blocks = blocks;
        auto src = make(malloc_uri("rb_src", blocks, bs));
        auto dst = make(malloc_uri("rb_dst", blocks, bs));
        ASSERT_TRUE(src && dst);
        auto src_rw = open_rw(src);
        auto dst_rw = open_rw(dst);
        ASSERT_TRUE(is_ok(write(_rt, *src_rw, 0, random_bytes(blocks * bs, 1))));
        _old_dst = random_bytes(blocks * bs, 2);
        ASSERT_TRUE(is_ok(write(_rt, *dst_rw, 0, _old_dst)));
        if (!src_error.empty()) {
            src_rw.reset();
            auto e = make("error:///rb_esrc?base=rb_src&" + src_error);
            ASSERT_TRUE(e);
            src_rw = open_rw(e);
            auto ro = Descriptor::open(src, OpenMode::ReadOnly);
            ASSERT_TRUE(is_ok(ro));
            _src_ro = std::move(*ro);
        }
        if (!dst_error.empty()) {
            dst_rw.reset();
            auto e = make("error:///rb_edst?base=rb_dst&" + dst_error);
            ASSERT_TRUE(e);
            dst_rw = open_rw(e);
            auto ro = Descriptor::open(dst, OpenMode::ReadOnly);
            ASSERT_TRUE(is_ok(ro));
            _dst_direct = std::move(*ro);
        } else if (dst_delay) {
            _dst_direct = std::move(dst_rw);
            auto base = open_rw(dst);
            _delay = std::make_shared<DelayDevice>("rb_delay", std::move(base));
            dst_rw = open_rw(_delay);
        } else {
            _dst_direct = open_rw(dst);
        }
        _src = std::move(src_rw);
        _dst = std::move(dst_rw);
        _src_dev = src;
        _dst_dev = dst;
    }

    RebuildTarget target(std::shared_ptr<const WriteIntentLog> regions = nullptr) {
        RebuildTarget t;
        t.source = _src.get();
        t.destination = _dst.get();
        t.num_blocks = _blocks;
        t.block_size = _bs;
        t.lock_range = _locks.lock_fn();
        t.regions = std::move(regions);
        return t;
    }

    static RebuildOptions options(uint64_t segment_bytes, uint32_t tasks, uint64_t rate = 0) {
        RebuildOptions o;
        o.segment_bytes = segment_bytes;
        o.max_tasks = tasks;
        o.rate_limit = rate;
        return o;
    }

    // Runs a job to its end on reactor 0.
    Outcome run(RebuildTarget t, RebuildOptions o) {
        return run_on(_rt.reactor(0), [&]() -> Task<Outcome> {
            RebuildJob job(t, o);
            Outcome out;
            EXPECT_EQ(job.state(), RebuildState::Init);
            auto t0 = Clock::now();
            job.start([&out](RebuildState s, const Error* e) {
                ++out.done_calls;
                out.done_state = s;
                if (e != nullptr) {
                    out.error = *e;
                }
            });
            EXPECT_EQ(job.state(), RebuildState::Running);
            out.waited = co_await job.wait();
            out.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
            EXPECT_EQ(job.state(), out.waited);
            out.stats = job.stats();
            co_return out;
        });
    }

    // Source blocks as they are now (read past any error device).
    Descriptor& src_view() { return _src_ro ? *_src_ro : *_src; }

    Runtime _rt{two_cores()};
    std::vector<std::string> _uris;
    uint32_t _bs = 512;
    uint64_t _blocks = 0;
    std::vector<uint8_t> _old_dst;
    std::shared_ptr<BlockDevice> _src_dev, _dst_dev;
    std::unique_ptr<Descriptor> _src, _dst, _src_ro, _dst_direct;
    std::shared_ptr<DelayDevice> _delay;
    TestLockTable _locks;
};

void expect_completed(const Outcome& out, uint64_t total) {
    EXPECT_EQ(out.done_calls, 1);
    EXPECT_EQ(out.done_state, RebuildState::Completed);
    EXPECT_FALSE(out.error) << out.error->to_string();
    EXPECT_EQ(out.waited, RebuildState::Completed);
    EXPECT_EQ(out.stats.blocks_total, total);
    EXPECT_EQ(out.stats.blocks_recovered, total);
    EXPECT_EQ(out.stats.progress, 100u);
    EXPECT_EQ(out.stats.tasks_active, 0u);
}

TEST_F(RebuildJobTest, FullCopyMakesTheDestinationEqualTheSource) {
    struct Case {
        uint32_t bs;
        uint64_t device_blocks;
        uint64_t nexus_blocks;  // the job copies this many (children may be larger)
        uint64_t segment_bytes;
        uint32_t tasks;
    };
    const Case cases[] = {
        {512, 1000, 1000, 64 * 1024, 4},   // 7 segments of 128 blocks and one of 104
        {512, 1031, 1000, 4096, 1},        // one task; blocks past the nexus stay as they were
        {4096, 300, 300, 64 * 1024, 3},    // 18 segments of 16 blocks and one of 12
        {4096, 300, 299, 1000 * 4096, 8},  // one short segment, more tasks than segments
        {4096, 257, 257, 6000, 2},         // segment rounded down to a whole block
    };
    for (const Case& c : cases) {
        SCOPED_TRACE("bs " + std::to_string(c.bs) + " blocks " + std::to_string(c.nexus_blocks) +
                     " segment " + std::to_string(c.segment_bytes));
        ASSERT_NO_FATAL_FAILURE(setup(c.bs, c.device_blocks));
        _blocks = c.nexus_blocks;
        const uint64_t written_before = _dst_dev->stats().bytes_written;
        Outcome out = run(target(), options(c.segment_bytes, c.tasks));
        expect_completed(out, c.nexus_blocks);
        EXPECT_EQ(out.stats.segment_size_blks, std::max<uint64_t>(c.segment_bytes / c.bs, 1));
        EXPECT_EQ(out.stats.tasks_total, c.tasks);
        EXPECT_FALSE(out.stats.partial);
        EXPECT_EQ(out.stats.block_size, c.bs);
        EXPECT_EQ(_dst_dev->stats().bytes_written - written_before, c.nexus_blocks * c.bs);
        EXPECT_EQ(_locks.locks_taken,
                  (c.nexus_blocks + out.stats.segment_size_blks - 1) / out.stats.segment_size_blks);
        EXPECT_EQ(_locks.held(), 0u);
        EXPECT_EQ(differing_blocks(_rt, *_src, *_dst_direct, 0, c.nexus_blocks), 0u);
        if (c.device_blocks > c.nexus_blocks) {
            auto tail = read_blocks(_rt, *_dst_direct, c.nexus_blocks, c.device_blocks - c.nexus_blocks);
            EXPECT_TRUE(same_bytes(tail, std::span<const uint8_t>(_old_dst).subspan(c.nexus_blocks * c.bs)));
        }
        TearDown();
        _uris.clear();
        _locks = TestLockTable();
    }
}

TEST_F(RebuildJobTest, PartialCopiesOnlyTheDirtyRegions) {
    for (uint32_t bs : {512u, 4096u}) {
        SCOPED_TRACE("bs " + std::to_string(bs));
        const uint64_t blocks = 1000;
        ASSERT_NO_FATAL_FAILURE(setup(bs, blocks));
        // Regions of 48 blocks copied in segments of 16: a region is several segments.
        auto log = std::make_shared<WriteIntentLog>(blocks, 48);
        log->mark(0, 1);     // region 0
        log->mark(100, 60);  // regions 2, 3 (merged into one range)
        log->mark(500, 2);   // region 10
        log->mark(999, 1);   // the short last region (960..999)
        const auto ranges = log->dirty_ranges();
        const uint64_t dirty = log->dirty_blocks();
        ASSERT_EQ(dirty, 48u + 96u + 48u + 40u);
        const uint64_t written_before = _dst_dev->stats().bytes_written;
        Outcome out = run(target(log), options(16 * bs, 3));
        expect_completed(out, dirty);
        EXPECT_TRUE(out.stats.partial);
        EXPECT_EQ(_dst_dev->stats().bytes_written - written_before, dirty * bs);
        EXPECT_EQ(log->dirty_blocks(), dirty);  // the job leaves the log alone

        auto src = read_blocks(_rt, *_src, 0, blocks);
        auto dst = read_blocks(_rt, *_dst_direct, 0, blocks);
        for (uint64_t b = 0; b < blocks; ++b) {
            const std::size_t at = b * bs;
            const bool is_dirty = log->is_dirty(b / 48);
            const auto& expected = is_dirty ? src : _old_dst;
            ASSERT_EQ(std::memcmp(dst.data() + at, expected.data() + at, bs), 0)
                << "block " << b << (is_dirty ? " (dirty) differs from the source" : " (clean) was changed");
        }
        TearDown();
        _uris.clear();
        _locks = TestLockTable();
    }
}

TEST_F(RebuildJobTest, NothingToCopyCompletesAtOnce) {
    ASSERT_NO_FATAL_FAILURE(setup(512, 256));
    auto log = std::make_shared<WriteIntentLog>(256, 16);
    {
        RebuildJob job(target(log), options(4096, 2));
        RebuildStats s = job.stats();
        EXPECT_EQ(s.blocks_total, 0u);
        EXPECT_EQ(s.progress, 100u);
        EXPECT_TRUE(s.partial);
    }
    const uint64_t written_before = _dst_dev->stats().bytes_written;
    Outcome out = run(target(log), options(4096, 2));
    expect_completed(out, 0);
    EXPECT_EQ(_dst_dev->stats().bytes_written, written_before);
    EXPECT_EQ(_locks.locks_taken, 0u);
}

TEST_F(RebuildJobTest, StatsBeforeStart) {
    ASSERT_NO_FATAL_FAILURE(setup(4096, 100));
    RebuildJob job(target(), options(32 * 1024, 5));
    EXPECT_EQ(job.state(), RebuildState::Init);
    RebuildStats s = job.stats();
    EXPECT_EQ(s.blocks_total, 100u);
    EXPECT_EQ(s.blocks_recovered, 0u);
    EXPECT_EQ(s.progress, 0u);
    EXPECT_EQ(s.segment_size_blks, 8u);
    EXPECT_EQ(s.block_size, 4096u);
    EXPECT_EQ(s.tasks_total, 5u);
    EXPECT_EQ(s.tasks_active, 0u);
    EXPECT_FALSE(s.partial);
    // Control calls before start.
    EXPECT_TRUE(fails_with(job.pause(), EALREADY));
    EXPECT_TRUE(fails_with(job.resume(), EALREADY));
}

// Application writes of new data to both devices run during the rebuild, aimed at the segments
// being copied. Under the range lock a copy and a write of the same blocks never overlap, so
// the destination ends equal to the source.
TEST_F(RebuildJobTest, RangeLockKeepsConcurrentWritesCurrent) {
    struct Variant {
        bool locking;
        uint32_t tasks;
    };
    // Without locking, the rebuild's delayed destination write lands after the application's
    // write of the same blocks and puts the old data back: the check must see differences.
    for (Variant v : {Variant{true, 4}, Variant{true, 1}, Variant{false, 1}}) {
        SCOPED_TRACE(std::string(v.locking ? "locking" : "not locking") + " tasks " +
                     std::to_string(v.tasks));
        _locks = TestLockTable(v.locking);
        const uint32_t bs = 512;
        const uint64_t seg = 64;
        const uint64_t blocks = 32 * seg * v.tasks;  // 32 rounds of copies of 5 ms
        ASSERT_NO_FATAL_FAILURE(setup(bs, blocks, "", "", true));
        // Each copy holds its segment (and, with the lock, the range) for 5 ms between reading the
        // source and writing the destination: the window the writer aims at.
        _delay->write_delay_us = 5000;
        uint64_t app_writes = 0;
        Outcome out = run_on(_rt.reactor(0), [&]() -> Task<Outcome> {
            RebuildJob job(target(), options(seg * bs, v.tasks));
            Outcome o;
            job.start([&o](RebuildState s, const Error*) {
                ++o.done_calls;
                o.done_state = s;
            });
            auto buf = _src->dma_malloc(4 * bs);
            EXPECT_TRUE(is_ok(buf));
            std::mt19937_64 rng(11);
            while (job.state() == RebuildState::Running) {
                // Blocks in the segments being copied now: just past what is recovered.
                uint64_t front = job.stats().blocks_recovered;
                uint64_t at = std::min(front + rng() % (seg * v.tasks), blocks - 4);
                for (std::size_t i = 0; i < buf->size(); i += 8) {
                    uint64_t x = rng();
                    std::memcpy(buf->data() + i, &x, 8);
                }
                {
                    auto lock = co_await _locks.lock(at, 4);
                    Status s1 = co_await _src->write_at(at * bs, *buf);
                    Status s2 = co_await _dst_direct->write_at(at * bs, *buf);
                    EXPECT_TRUE(s1 && s2);
                }
                ++app_writes;
                co_await sleep_for(std::chrono::microseconds(500));
            }
            o.waited = co_await job.wait();
            o.stats = job.stats();
            co_return o;
        });
        expect_completed(out, blocks);
        EXPECT_GT(app_writes, 20u);
        const uint64_t differ = differing_blocks(_rt, *_src, *_dst_direct, 0, blocks);
        if (v.locking) {
            EXPECT_GT(_locks.waits, 0u) << "no write ever met a copy in progress";
            EXPECT_EQ(differ, 0u);
        } else {
            EXPECT_GT(differ, 0u) << "stale data should appear without the range lock";
        }
        TearDown();
        _uris.clear();
    }
}

TEST_F(RebuildJobTest, PauseResumeStop) {
    ASSERT_NO_FATAL_FAILURE(setup(512, 4096, "", "", true));
    _delay->write_delay_us = 2000;  // 2 ms a segment: the job runs long enough to steer
    Outcome out = run_on(_rt.reactor(0), [&]() -> Task<Outcome> {
        RebuildJob job(target(), options(16 * 512, 2));  // 256 segments
        Outcome o;
        job.start([&o](RebuildState s, const Error* e) {
            ++o.done_calls;
            o.done_state = s;
            if (e != nullptr) {
                o.error = *e;
            }
        });
        EXPECT_TRUE(fails_with(job.resume(), EALREADY));
        EXPECT_TRUE(co_await until([&] { return job.stats().blocks_recovered > 0; }));

        EXPECT_TRUE(is_ok(job.pause()));
        EXPECT_EQ(job.state(), RebuildState::Paused);
        EXPECT_TRUE(fails_with(job.pause(), EALREADY));
        // The copies in flight finish; no new one starts.
        EXPECT_TRUE(co_await until([&] { return job.stats().tasks_active == 0; }));
        const uint64_t at_pause = job.stats().blocks_recovered;
        const uint64_t writes_at_pause = _dst_dev->stats().num_write_ops;
        co_await sleep_for(std::chrono::milliseconds(30));
        EXPECT_EQ(job.stats().blocks_recovered, at_pause);
        EXPECT_EQ(_dst_dev->stats().num_write_ops, writes_at_pause);
        EXPECT_EQ(job.state(), RebuildState::Paused);
        EXPECT_EQ(o.done_calls, 0);

        EXPECT_TRUE(is_ok(job.resume()));
        EXPECT_EQ(job.state(), RebuildState::Running);
        EXPECT_TRUE(fails_with(job.resume(), EALREADY));
        EXPECT_TRUE(co_await until([&] { return job.stats().blocks_recovered > at_pause; }));

        job.stop();
        job.stop();  // idempotent
        o.waited = co_await job.wait();
        o.stats = job.stats();
        EXPECT_EQ(job.state(), RebuildState::Stopped);
        EXPECT_TRUE(fails_with(job.pause(), EALREADY));
        EXPECT_TRUE(fails_with(job.resume(), EALREADY));
        job.stop();
        EXPECT_EQ(co_await job.wait(), RebuildState::Stopped);  // ended: at once
        co_await sleep_for(std::chrono::milliseconds(10));
        co_return o;
    });
    EXPECT_EQ(out.done_calls, 1);
    EXPECT_EQ(out.done_state, RebuildState::Stopped);
    EXPECT_FALSE(out.error);
    EXPECT_EQ(out.waited, RebuildState::Stopped);
    EXPECT_GT(out.stats.blocks_recovered, 0u);
    EXPECT_LT(out.stats.blocks_recovered, out.stats.blocks_total);
    EXPECT_EQ(out.stats.progress, out.stats.blocks_recovered * 100 / 4096);
    EXPECT_EQ(out.stats.tasks_active, 0u);
    EXPECT_EQ(_locks.held(), 0u);
    // The destination received its initial fill and exactly the recovered blocks.
    EXPECT_EQ(_dst_dev->stats().bytes_written, 4096u * 512 + out.stats.blocks_recovered * 512);
}

TEST_F(RebuildJobTest, StopWhilePausedAndBeforeStart) {
    ASSERT_NO_FATAL_FAILURE(setup(512, 4096, "", "", true));
    _delay->write_delay_us = 2000;
    Outcome out = run_on(_rt.reactor(0), [&]() -> Task<Outcome> {
        Outcome o;
        {
            // Stopped before it started: ends at once, on_done only if started later.
            RebuildJob never(target(), options(8192, 2));
            never.stop();
            EXPECT_EQ(never.state(), RebuildState::Stopped);
            EXPECT_EQ(co_await never.wait(), RebuildState::Stopped);
            int calls = 0;
            never.start([&calls](RebuildState s, const Error* e) {
                ++calls;
                EXPECT_EQ(s, RebuildState::Stopped);
                EXPECT_EQ(e, nullptr);
            });
            EXPECT_EQ(calls, 0);  // never inside start()
            EXPECT_EQ(co_await never.wait(), RebuildState::Stopped);
            EXPECT_EQ(calls, 1);
            EXPECT_EQ(never.stats().blocks_recovered, 0u);
        }
        RebuildJob job(target(), options(8192, 2));
        job.start([&o](RebuildState s, const Error*) {
            ++o.done_calls;
            o.done_state = s;
        });
        EXPECT_TRUE(co_await until([&] { return job.stats().blocks_recovered > 0; }));
        EXPECT_TRUE(is_ok(job.pause()));
        EXPECT_TRUE(co_await until([&] { return job.stats().tasks_active == 0; }));
        job.stop();
        o.waited = co_await job.wait();
        o.stats = job.stats();
        co_return o;
    });
    EXPECT_EQ(out.done_calls, 1);
    EXPECT_EQ(out.done_state, RebuildState::Stopped);
    EXPECT_EQ(out.waited, RebuildState::Stopped);
    EXPECT_LT(out.stats.blocks_recovered, out.stats.blocks_total);
}

TEST_F(RebuildJobTest, SourceReadErrorFailsTheJob) {
    // Reads of block 600 fail (EIO); the segment holding it is never written.
    ASSERT_NO_FATAL_FAILURE(setup(512, 2048, "fail=read&offset_blocks=600&num_blocks=1"));
    Outcome out = run(target(), options(64 * 512, 4));
    EXPECT_EQ(out.done_calls, 1);
    EXPECT_EQ(out.done_state, RebuildState::Failed);
    EXPECT_EQ(out.waited, RebuildState::Failed);
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->code, EIO);
    EXPECT_NE(out.error->message.find("source"), std::string::npos) << out.error->message;
    EXPECT_LT(out.stats.blocks_recovered, 2048u);
    EXPECT_EQ(out.stats.tasks_active, 0u);
    EXPECT_EQ(_locks.held(), 0u);
    auto seg = read_blocks(_rt, *_dst_direct, 576, 64);  // the failed segment keeps old data
    EXPECT_TRUE(same_bytes(seg, std::span<const uint8_t>(_old_dst).subspan(576 * 512, 64 * 512)));
}

TEST_F(RebuildJobTest, DestinationWriteErrorFailsTheJob) {
    ASSERT_NO_FATAL_FAILURE(setup(4096, 512, "", "fail=write&offset_blocks=100&num_blocks=1&errno=28"));
    Outcome out = run(target(), options(16 * 4096, 2));
    EXPECT_EQ(out.done_calls, 1);
    EXPECT_EQ(out.done_state, RebuildState::Failed);
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->code, ENOSPC);
    EXPECT_NE(out.error->message.find("destination"), std::string::npos) << out.error->message;
    EXPECT_LT(out.stats.blocks_recovered, 512u);
}

TEST_F(RebuildJobTest, FlushErrorAfterTheCopyFailsTheJob) {
    // Everything is copied, then the flush that completes the job fails.
    ASSERT_NO_FATAL_FAILURE(setup(512, 300, "", "fail=flush"));
    Outcome out = run(target(), options(32 * 512, 2));
    EXPECT_EQ(out.done_state, RebuildState::Failed);
    ASSERT_TRUE(out.error);
    EXPECT_EQ(out.error->code, EIO);
    EXPECT_EQ(out.stats.blocks_recovered, 300u);
    EXPECT_EQ(differing_blocks(_rt, *_src, *_dst_direct, 0, 300), 0u);
}

TEST_F(RebuildJobTest, RateLimitHolds) {
    // 8 MiB at 16 MiB/s: half a second (one segment of burst allowed).
    const uint64_t MiB = 1 << 20;
    ASSERT_NO_FATAL_FAILURE(setup(4096, 8 * MiB / 4096));
    std::vector<RebuildStats> samples;
    Outcome out = run_on(_rt.reactor(0), [&]() -> Task<Outcome> {
        RebuildJob job(target(), options(128 * 1024, 4, 16 * MiB));
        Outcome o;
        auto t0 = Clock::now();
        job.start([&o](RebuildState s, const Error*) {
            ++o.done_calls;
            o.done_state = s;
        });
        while (job.state() == RebuildState::Running) {
            samples.push_back(job.stats());
            co_await sleep_for(std::chrono::milliseconds(50));
        }
        o.waited = co_await job.wait();
        o.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        o.stats = job.stats();
        co_return o;
    });
    expect_completed(out, 2048);
    EXPECT_GE(out.seconds, 0.45);
    EXPECT_LE(out.seconds, 0.7);
    EXPECT_EQ(differing_blocks(_rt, *_src, *_dst_direct, 0, 2048), 0u);
    // Progress grows steadily: about a tenth of the work in each 50 ms sample, never all at once.
    ASSERT_GE(samples.size(), 8u);
    for (std::size_t i = 1; i < samples.size(); ++i) {
        EXPECT_GE(samples[i].blocks_recovered, samples[i - 1].blocks_recovered);
        EXPECT_EQ(samples[i].progress, samples[i].blocks_recovered * 100 / 2048);
        EXPECT_LE(samples[i].tasks_active, 4u);
    }
    const RebuildStats& mid = samples[samples.size() / 2];
    EXPECT_GT(mid.progress, 20u);
    EXPECT_LT(mid.progress, 80u);
}

TEST_F(RebuildJobTest, OnDoneMayDestroyTheJob) {
    ASSERT_NO_FATAL_FAILURE(setup(512, 1000));
    int calls = 0;
    RebuildState final_state = RebuildState::Init;
    run_on(_rt.reactor(0), [&]() -> Task<void> {
        auto job = std::make_unique<RebuildJob>(target(), options(8192, 3));
        Event done;
        job->start([&](RebuildState s, const Error*) {
            ++calls;
            final_state = s;
            job.reset();  // the nexus drops the job from on_done
            done.set();
        });
        co_await done.wait();
        // Its tasks have left once they go idle: let the loop turn a few times.
        co_await sleep_for(std::chrono::milliseconds(5));
    });
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(final_state, RebuildState::Completed);
    EXPECT_EQ(differing_blocks(_rt, *_src, *_dst_direct, 0, 1000), 0u);
}

TEST_F(RebuildJobTest, DestroyingARunningJobDoesNotCrash) {
    // Not how the nexus ends a job (it stops it and waits), but it must be safe: the copies in
    // flight finish on their own, on_done is not called.
    ASSERT_NO_FATAL_FAILURE(setup(512, 4096, "", "", true));
    _delay->write_delay_us = 2000;
    int calls = 0;
    run_on(_rt.reactor(0), [&]() -> Task<void> {
        const uint64_t idle_tasks = Reactor::current()->live_tasks();
        auto job = std::make_unique<RebuildJob>(target(), options(8192, 4));
        job->start([&](RebuildState, const Error*) { ++calls; });
        EXPECT_TRUE(co_await until([&] { return job->stats().blocks_recovered > 0; }));
        job.reset();
        EXPECT_TRUE(co_await until([&] { return Reactor::current()->live_tasks() == idle_tasks; }));
    });
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(_locks.held(), 0u);
}

}  // namespace
}  // namespace ms::test
