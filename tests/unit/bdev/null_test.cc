#include "bdev/null.h"

#include <gtest/gtest.h>

#include "bdev_test_util.h"

namespace ms::test {
namespace {

TEST(Null, Geometry) {
    Runtime rt({});
    struct Case {
        std::string uri;
        uint32_t block_size;
        uint64_t num_blocks;
    };
    const Case cases[] = {
        {"null:///ngeo?size_mb=8", 512, 16384},
        {"null:///ngeo?size_mb=8&blk_size=4096", 4096, 2048},
        {"null:///ngeo?num_blocks=100&blk_size=4096", 4096, 100},
        {"null:///ngeo?num_blocks=1", 512, 1},
        // A null device costs no memory, so the largest size is fine.
        {"null:///ngeo?size_mb=16777216", 512, (uint64_t{1} << 44) / 512},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.uri);
        auto dev = create(rt, c.uri);
        ASSERT_TRUE(is_ok(dev));
        EXPECT_EQ((*dev)->name(), "ngeo");
        EXPECT_EQ((*dev)->product(), "Null disk");
        EXPECT_EQ((*dev)->block_size(), c.block_size);
        EXPECT_EQ((*dev)->num_blocks(), c.num_blocks);
        EXPECT_EQ((*dev)->geometry().buf_align, 1u);
        EXPECT_FALSE((*dev)->uuid().is_nil());
        EXPECT_NE((*dev)->uri().find("uuid="), std::string::npos);
        for (unsigned t = 0; t < kIoTypeCount; ++t) {
            EXPECT_TRUE((*dev)->io_type_supported(static_cast<IoType>(t)));
        }
        dev->reset();
        EXPECT_TRUE(is_ok(destroy(rt, "null:///ngeo")));
    }
}

TEST(Null, EveryOperationSucceedsAndReadsLeaveTheBufferAlone) {
    Runtime rt({});
    for (uint32_t bs : {512u, 4096u}) {
        SCOPED_TRACE("blk_size " + std::to_string(bs));
        std::string uri = "null:///nio?size_mb=4&blk_size=" + std::to_string(bs);
        with_device(rt, uri, [&](Descriptor& d) {
            const uint64_t size = d.size_bytes();
            EXPECT_TRUE(is_ok(write(rt, d, 0, random_bytes(bs, 1))));
            EXPECT_TRUE(is_ok(write(rt, d, size - bs, random_bytes(bs, 2))));
            EXPECT_TRUE(is_ok(write(rt, d, 8 * bs, random_bytes(64 * bs, 3), 7)));
            auto buf = d.dma_malloc(16 * bs);
            ASSERT_TRUE(is_ok(buf));
            buf->fill(0xa5);
            EXPECT_TRUE(is_ok(
                run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d.read_at(0, *buf); })));
            EXPECT_TRUE(
                std::all_of(buf->span().begin(), buf->span().end(), [](uint8_t b) { return b == 0xa5; }));
            EXPECT_TRUE(is_ok(unmap(rt, d, 0, size)));
            EXPECT_TRUE(is_ok(write_zeroes(rt, d, bs, 2 * bs)));
            EXPECT_TRUE(is_ok(flush(rt, d)));
            EXPECT_TRUE(is_ok(reset(rt, d)));
            IoStats s = d.device().stats();
            EXPECT_EQ(s.num_write_ops, 3u);
            EXPECT_EQ(s.bytes_written, 66u * bs);
            EXPECT_EQ(s.num_read_ops, 1u);
            EXPECT_EQ(s.bytes_read, 16u * bs);
            EXPECT_EQ(s.num_unmap_ops, 1u);
            EXPECT_EQ(s.bytes_unmapped, size);
            EXPECT_EQ(s.num_errors, 0u);
        });
    }
}

// Discarding data does not mean accepting any request: the descriptor's checks still apply.
TEST(Null, RequestsAreStillValidated) {
    Runtime rt({});
    with_device(rt, "null:///nval?num_blocks=16&blk_size=4096", [&](Descriptor& d) {
        auto junk = random_bytes(2 * 4096, 1);
        EXPECT_TRUE(fails_with(write(rt, d, 16 * 4096, std::span(junk).first(4096)), ERANGE));
        EXPECT_TRUE(fails_with(write(rt, d, 15 * 4096, junk), ERANGE));
        EXPECT_TRUE(fails_with(write(rt, d, 512, std::span(junk).first(4096)), EINVAL));
        EXPECT_TRUE(fails_with(write(rt, d, 0, std::span(junk).first(512)), EINVAL));
        EXPECT_TRUE(fails_with(read(rt, d, 0, 0), EINVAL));
        EXPECT_TRUE(fails_with(unmap(rt, d, 0, 17 * 4096), ERANGE));
        auto ro = Descriptor::open(d.device_ptr(), OpenMode::ReadOnly);
        ASSERT_TRUE(is_ok(ro));
        EXPECT_TRUE(fails_with(write(rt, **ro, 0, std::span(junk).first(4096)), EBADF));
        EXPECT_TRUE(fails_with(write_zeroes(rt, **ro, 0, 4096), EBADF));
        EXPECT_TRUE(is_ok(read(rt, **ro, 0, 4096)));
        EXPECT_EQ(d.device().stats().num_write_ops, 0u);
    });
}

}  // namespace
}  // namespace ms::test
