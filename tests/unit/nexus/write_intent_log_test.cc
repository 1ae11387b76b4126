#include "nexus/write_intent_log.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ms::nexus {
namespace {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

TEST(WriteIntentLogTest, StartsClean) {
    WriteIntentLog log(1000, 64);
    EXPECT_EQ(log.num_blocks(), 1000u);
    EXPECT_EQ(log.region_blocks(), 64u);
    EXPECT_EQ(log.regions(), 16u);  // 15 full regions and a short one of 40 blocks
    EXPECT_EQ(log.dirty_regions(), 0u);
    EXPECT_EQ(log.dirty_blocks(), 0u);
    EXPECT_TRUE(log.dirty_ranges().empty());
    for (uint64_t r = 0; r < log.regions(); ++r) {
        EXPECT_FALSE(log.is_dirty(r));
    }
}

TEST(WriteIntentLogTest, MarkCoversEveryRegionTheWriteTouches) {
    WriteIntentLog log(1000, 64);
    log.mark(60, 8);  // straddles regions 0 and 1
    EXPECT_TRUE(log.is_dirty(0));
    EXPECT_TRUE(log.is_dirty(1));
    EXPECT_FALSE(log.is_dirty(2));
    EXPECT_EQ(log.dirty_regions(), 2u);
    EXPECT_EQ(log.dirty_blocks(), 128u);
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{0, 128}}));

    log.mark(64 * 5, 1);  // one block of region 5
    log.mark(999, 1);     // the last block: the short last region, counted by its real length
    EXPECT_EQ(log.dirty_regions(), 4u);
    EXPECT_EQ(log.dirty_blocks(), 128u + 64u + 40u);
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{0, 128}, {320, 64}, {960, 40}}));

    // Marking again changes nothing; filling the gap merges the ranges.
    log.mark(0, 1);
    EXPECT_EQ(log.dirty_regions(), 4u);
    log.mark(128, 192);  // regions 2..4
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{0, 384}, {960, 40}}));
    EXPECT_EQ(log.dirty_blocks(), 384u + 40u);
}

TEST(WriteIntentLogTest, IgnoresEmptyAndOutOfRangeMarks) {
    WriteIntentLog log(100, 10);
    log.mark(5, 0);
    log.mark(100, 5);
    log.mark(1000, 1);
    EXPECT_EQ(log.dirty_regions(), 0u);
    EXPECT_FALSE(log.is_dirty(10));  // no such region
    // A write running past the end marks up to the end only.
    log.mark(95, 1000);
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{90, 10}}));
    log.mark(0, UINT64_MAX);  // offset + length overflows
    EXPECT_EQ(log.dirty_regions(), 10u);
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{0, 100}}));
}

TEST(WriteIntentLogTest, MarksAcrossWordBoundaries) {
    // 300 regions of one block: 5 words, the last partly used.
    WriteIntentLog log(300, 1);
    log.mark(60, 150);  // regions 60..209: the end of word 0, all of words 1 and 2, part of 3
    EXPECT_EQ(log.dirty_regions(), 150u);
    for (uint64_t r = 0; r < 300; ++r) {
        EXPECT_EQ(log.is_dirty(r), r >= 60 && r < 210) << "region " << r;
    }
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{60, 150}}));
    log.mark(0, 300);
    EXPECT_EQ(log.dirty_regions(), 300u);
    EXPECT_EQ(log.dirty_blocks(), 300u);
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{0, 300}}));
}

TEST(WriteIntentLogTest, ClearForgetsEverything) {
    WriteIntentLog log(4096, 16);
    log.mark(0, 4096);
    EXPECT_EQ(log.dirty_regions(), 256u);
    log.clear();
    EXPECT_EQ(log.dirty_regions(), 0u);
    EXPECT_TRUE(log.dirty_ranges().empty());
    log.mark(17, 1);
    EXPECT_EQ(log.dirty_ranges(), (Ranges{{16, 16}}));
}

TEST(WriteIntentLogTest, ConcurrentMarksAreAllKept) {
    // Threads set bits of the same words at once (interleaved regions): none may be lost.
    constexpr uint64_t kRegions = 64 * 64;
    constexpr unsigned kThreads = 4;
    WriteIntentLog log(kRegions * 8, 8);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < kThreads; ++t) {
        threads.emplace_back([&log, t] {
            for (uint64_t r = t; r < kRegions; r += kThreads) {
                if (r % 3 != 0) {
                    log.mark(r * 8 + 2, 3);
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    uint64_t expected = 0;
    for (uint64_t r = 0; r < kRegions; ++r) {
        bool want = r % 3 != 0;
        expected += want ? 1 : 0;
        ASSERT_EQ(log.is_dirty(r), want) << "region " << r;
    }
    EXPECT_EQ(log.dirty_regions(), expected);
    EXPECT_EQ(log.dirty_blocks(), expected * 8);
}

}  // namespace
}  // namespace ms::nexus
