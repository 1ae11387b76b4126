#include <gtest/gtest.h>

#include "bdev/device_registry.h"
#include "bdev_test_util.h"

namespace ms::test {
namespace {

class MallocTest : public ::testing::TestWithParam<uint32_t> {
   protected:
    Runtime _rt{RuntimeOptions{}};
};

TEST(Malloc, GeometryFromSizeOrBlockCount) {
    Runtime rt({});
    struct Case {
        std::string uri;
        uint32_t block_size;
        uint64_t num_blocks;
    };
    const Case cases[] = {
        {"malloc:///mgeo0?size_mb=8", 512, 16384},
        {"malloc:///mgeo1?size_mb=8&blk_size=4096", 4096, 2048},
        {"malloc:///mgeo2?num_blocks=100&blk_size=4096", 4096, 100},
        {"malloc:///mgeo3?blk_size=512&num_blocks=3", 512, 3},
        {"malloc:///mgeo4?num_blocks=0x10", 512, 16},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.uri);
        auto dev = create(rt, c.uri);
        ASSERT_TRUE(is_ok(dev));
        EXPECT_EQ((*dev)->block_size(), c.block_size);
        EXPECT_EQ((*dev)->num_blocks(), c.num_blocks);
        EXPECT_EQ((*dev)->geometry().size_bytes(), uint64_t{c.block_size} * c.num_blocks);
        EXPECT_EQ((*dev)->geometry().buf_align, 1u);
        EXPECT_EQ((*dev)->product(), "Malloc disk");
        EXPECT_EQ((*dev)->name(), c.uri.substr(10, 5));
        EXPECT_FALSE((*dev)->uuid().is_nil());
        for (unsigned t = 0; t < kIoTypeCount; ++t) {
            EXPECT_TRUE((*dev)->io_type_supported(static_cast<IoType>(t)));
        }
        EXPECT_EQ(DeviceRegistry::instance().lookup((*dev)->name()), *dev);
        dev->reset();
        EXPECT_TRUE(is_ok(destroy(rt, c.uri)));
    }
}

TEST(Malloc, NewDeviceReadsZeros) {
    Runtime rt({});
    auto dev = create(rt, "malloc:///mzero?size_mb=8");
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    auto back = read(rt, *d, 0, 8 << 20, 16);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(all_zero(*back));
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///mzero")));
}

TEST_P(MallocTest, DataRoundTrips) {
    std::string uri = "malloc:///mrt?size_mb=8&blk_size=" + std::to_string(GetParam());
    auto dev = create(_rt, uri);
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    ASSERT_NO_FATAL_FAILURE(check_round_trips(_rt, *d, GetParam()));
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(_rt, uri)));
}

TEST_P(MallocTest, RejectsBadRequestsAndChangesNothing) {
    std::string uri = "malloc:///mbad?size_mb=4&blk_size=" + std::to_string(GetParam());
    auto dev = create(_rt, uri);
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    ASSERT_NO_FATAL_FAILURE(check_rejects_bad_io(_rt, *d));
    ASSERT_NO_FATAL_FAILURE(check_read_only(_rt, *d));
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(_rt, uri)));
}

TEST_P(MallocTest, UnmapAndWriteZeroesReadBackZeros) {
    std::string uri = "malloc:///mzr?size_mb=8&blk_size=" + std::to_string(GetParam());
    auto dev = create(_rt, uri);
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    ASSERT_NO_FATAL_FAILURE(check_zeroing(_rt, *d));
    EXPECT_TRUE(is_ok(reset(_rt, *d)));
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(_rt, uri)));
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, MallocTest, ::testing::Values(512u, 4096u),
                         [](const auto& info) { return "bs" + std::to_string(info.param); });

// Memory needs no alignment: any split of the buffers works, from ordinary (unaligned) memory.
TEST(Malloc, AnyIovecSplitFromUnalignedMemory) {
    Runtime rt({});
    auto dev = create(rt, "malloc:///msplit?num_blocks=64");
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    std::vector<uint8_t> data = random_bytes(4 * 512 + 1, 3);
    uint8_t* odd = data.data() + 1;  // deliberately misaligned
    std::vector<uint8_t> expected(odd, odd + 4 * 512);
    std::vector<iovec> out = {{odd, 1}, {odd + 1, 511}, {odd + 512, 1000}, {odd + 1512, 536}};
    EXPECT_TRUE(is_ok(writev_raw(rt, *d, 5 * 512, out)));
    std::vector<uint8_t> back(4 * 512 + 3);
    uint8_t* in = back.data() + 3;
    std::vector<iovec> iov = {{in, 700}, {in + 700, 3}, {in + 703, 1345}};
    EXPECT_TRUE(is_ok(readv_raw(rt, *d, 5 * 512, iov)));
    EXPECT_TRUE(same_bytes({in, 4 * 512}, expected));
    // The blocks either side are still zero.
    auto around = read(rt, *d, 4 * 512, 512);
    ASSERT_TRUE(is_ok(around));
    EXPECT_TRUE(all_zero(*around));
    around = read(rt, *d, 9 * 512, 512);
    ASSERT_TRUE(is_ok(around));
    EXPECT_TRUE(all_zero(*around));
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///msplit")));
}

// A RAM disk keeps nothing: destroyed and made again under the same name, it is zeros.
TEST(Malloc, RecreatedDeviceIsNewAndZeroed) {
    Runtime rt({});
    auto dev = create(rt, "malloc:///mre?size_mb=1");
    ASSERT_TRUE(is_ok(dev));
    Uuid first = (*dev)->uuid();
    auto d = open_rw(*dev);
    ASSERT_TRUE(is_ok(write(rt, *d, 0, random_bytes(4096, 1))));
    d.reset();
    dev->reset();
    ASSERT_TRUE(is_ok(destroy(rt, "malloc:///mre")));
    EXPECT_EQ(DeviceRegistry::instance().lookup("mre"), nullptr);

    dev = create(rt, "malloc:///mre?size_mb=1");
    ASSERT_TRUE(is_ok(dev));
    EXPECT_NE((*dev)->uuid(), first);
    d = open_rw(*dev);
    auto back = read(rt, *d, 0, 4096);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(all_zero(*back));
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///mre")));
}

TEST(Malloc, UuidParameterAndReportedUri) {
    Runtime rt({});
    const std::string uuid = "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d";
    auto dev = create(rt, "malloc:///muuid?size_mb=1&uuid=" + uuid);
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->uuid().to_string(), uuid);
    EXPECT_NE((*dev)->uri().find("uuid=" + uuid), std::string::npos) << (*dev)->uri();
    EXPECT_EQ(DeviceRegistry::instance().lookup_uuid((*dev)->uuid()), *dev);
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///muuid")));

    dev = create(rt, "malloc:///muuid2?size_mb=1");
    ASSERT_TRUE(is_ok(dev));
    EXPECT_TRUE((*dev)->uri().starts_with("malloc:///muuid2?size_mb=1")) << (*dev)->uri();
    EXPECT_NE((*dev)->uri().find("uuid=" + (*dev)->uuid().to_string()), std::string::npos) << (*dev)->uri();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///muuid2")));
}

}  // namespace
}  // namespace ms::test
