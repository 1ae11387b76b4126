#include <gtest/gtest.h>

#include <tuple>

#include "bdev_test_util.h"

namespace ms::test {
namespace {

constexpr uint64_t kSize = 8 << 20;

// The file-backed schemes (uring.cc, aio.cc) promise the same behaviour; every test runs on
// both, with the device kind each reports.
struct FileScheme {
    const char* scheme;
    const char* product;
};
constexpr FileScheme kSchemes[] = {{"uring", "io_uring disk"}, {"aio", "AIO disk"}};

class FileDeviceTest : public ::testing::TestWithParam<std::tuple<FileScheme, Backing, uint32_t>> {
   protected:
    void SetUp() override {
        _target = std::make_unique<FileTarget>(backing(), kSize);
        if (!_target->skip_reason().empty()) {
            GTEST_SKIP() << _target->skip_reason();
        }
    }
    const char* scheme() const { return std::get<0>(GetParam()).scheme; }
    Backing backing() const { return std::get<1>(GetParam()); }
    uint32_t bs() const { return std::get<2>(GetParam()); }
    std::string uri() const { return _target->uri(scheme(), bs()); }

    Runtime _rt{RuntimeOptions{}};
    std::unique_ptr<FileTarget> _target;
};

TEST_P(FileDeviceTest, Geometry) {
    check_file_geometry(_rt, scheme(), *_target, bs(), kSize, std::get<0>(GetParam()).product);
}

TEST_P(FileDeviceTest, DataRoundTrips) {
    with_device(_rt, uri(), [&](Descriptor& d) { check_round_trips(_rt, d, 100 + bs()); });
}

TEST_P(FileDeviceTest, RejectsBadRequestsAndChangesNothing) {
    with_device(_rt, uri(), [&](Descriptor& d) {
        ASSERT_NO_FATAL_FAILURE(check_rejects_bad_io(_rt, d));
        ASSERT_NO_FATAL_FAILURE(check_read_only(_rt, d));
    });
}

TEST_P(FileDeviceTest, UnmapAndWriteZeroesReadBackZeros) {
    with_device(_rt, uri(), [&](Descriptor& d) {
        check_zeroing(_rt, d);
        EXPECT_TRUE(is_ok(reset(_rt, d)));
    });
}

TEST_P(FileDeviceTest, ManyConcurrentRequests) {
    with_device(_rt, uri(), [&](Descriptor& d) { check_many_concurrent(_rt, d, 512); });
}

TEST_P(FileDeviceTest, DataPersistsAcrossDestroyAndCreate) {
    check_persists(_rt, scheme(), *_target, bs());
}

INSTANTIATE_TEST_SUITE_P(Targets, FileDeviceTest,
                         ::testing::Combine(::testing::ValuesIn(kSchemes),
                                            ::testing::Values(Backing::DiskFile, Backing::ShmFile,
                                                              Backing::LoopDevice),
                                            ::testing::Values(512u, 4096u)),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param).scheme) + "_" +
                                    to_string(std::get<1>(info.param)) + "_bs" +
                                    std::to_string(std::get<2>(info.param));
                         });

TEST(FileDevice, BadUrisFailCleanly) {
    Runtime rt({});
    for (const auto& s : kSchemes) {
        SCOPED_TRACE(s.scheme);
        check_file_uri_errors(rt, s.scheme);
    }
}

TEST(FileDevice, ReadsOfAShrunkFileFailWithEio) {
    Runtime rt({});
    for (const auto& s : kSchemes) {
        SCOPED_TRACE(s.scheme);
        check_shrunk_file_reads_fail(rt, s.scheme);
    }
}

TEST(FileDevice, BlockSizeBelowLoopDeviceLogicalBlockIsRejected) {
    Runtime rt({});
    for (const auto& s : kSchemes) {
        SCOPED_TRACE(s.scheme);
        check_loop_sector_size(rt, s.scheme);
    }
}

// The bytes of a last partial block are not part of the device and are never touched.
TEST(FileDevice, PartialLastBlockIsIgnored) {
    Runtime rt({});
    for (const auto& s : kSchemes) {
        SCOPED_TRACE(s.scheme);
        TempDir dir;
        std::string file = dir.file("odd.img");
        make_file(file, 10 * 4096 + 1000);
        auto tail_before = read_file(file, 10 * 4096, 1000);
        with_device(rt, std::string(s.scheme) + "://" + file + "?blk_size=4096", [&](Descriptor& d) {
            EXPECT_EQ(d.device().num_blocks(), 10u);
            EXPECT_TRUE(is_ok(write(rt, d, 9 * 4096, random_bytes(4096, 5))));
            EXPECT_TRUE(fails_with(write(rt, d, 10 * 4096, random_bytes(4096, 6)), ERANGE));
            EXPECT_TRUE(is_ok(write_zeroes(rt, d, 0, 10 * 4096)));
        });
        EXPECT_EQ(std::filesystem::file_size(file), 10u * 4096 + 1000);
        EXPECT_TRUE(same_bytes(read_file(file, 10 * 4096, 1000), tail_before));
    }
}

TEST(FileDevice, StopWithIoInFlightCompletesEveryRequestOnce) {
    for (const auto& s : kSchemes) {
        for (Backing b : {Backing::DiskFile, Backing::LoopDevice}) {
            for (bool wait : {true, false}) {
                FileTarget t(b, kSize);
                if (!t.skip_reason().empty()) {
                    GTEST_SKIP() << t.skip_reason();
                }
                check_stop_with_io_in_flight(t.uri(s.scheme, 4096), 512, wait);
            }
        }
    }
}

}  // namespace
}  // namespace ms::test
