// Pools on files through io_uring and Linux AIO, 512- and 4096-byte blocks: the device is made
// from the URI by the pool and destroyed with it; data and metadata survive export and import.
#include <tuple>

#include "lvs_test_util.h"

namespace ms::test {
namespace {

class FilePoolTest : public LvsTest, public ::testing::WithParamInterface<std::tuple<const char*, uint32_t>> {
   protected:
    void SetUp() override { _target = std::make_unique<FileTarget>(Backing::DiskFile, 100 * MiB); }
    const char* scheme() const { return std::get<0>(GetParam()); }
    uint32_t bs() const { return std::get<1>(GetParam()); }
    std::string uri() const { return _target->uri(scheme(), bs()); }
    std::unique_ptr<FileTarget> _target;
};

TEST_P(FilePoolTest, CreateWriteExportImport) {
    // Dirty file: a new replica still reads zeros.
    {
        std::vector<uint8_t> junk(100 * MiB, 0x3C);
        FILE* f = std::fopen(_target->path().c_str(), "r+");
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(std::fwrite(junk.data(), 1, junk.size(), f), junk.size());
        std::fclose(f);
    }
    auto p = create_pool(_rt, "fp", uri());
    ASSERT_TRUE(is_ok(p));
    EXPECT_EQ(p->capacity, 96 * MiB);
    EXPECT_EQ(p->block_size, bs());
    ASSERT_TRUE(is_ok(create_replica(_rt, "fp", "thick", 16 * MiB, false)));
    ASSERT_TRUE(is_ok(create_replica(_rt, "fp", "thin", 32 * MiB, true)));
    EXPECT_TRUE(all_zero(read_from(_rt, "thick", 0, 16 * MiB)));
    EXPECT_TRUE(all_zero(read_from(_rt, "thin", 0, 32 * MiB)));
    {
        auto d = open_device("thin");
        ASSERT_TRUE(d);
        check_round_trips(_rt, *d, 3);
        check_many_concurrent(_rt, *d, 128);
    }
    auto thin = read_from(_rt, "thin", 0, 32 * MiB);
    auto data = random_bytes(5 * MiB, 9);
    ASSERT_TRUE(is_ok(write_to(_rt, "thick", 3 * MiB, data, 1)));
    ASSERT_TRUE(is_ok(snapshot(_rt, "thick", "snap")));
    ASSERT_TRUE(is_ok(write_to(_rt, "thick", 4 * MiB, pattern(4096, 1))));
    const auto used = pools().get("fp")->used;
    ASSERT_TRUE(is_ok(export_pool(_rt, "fp")));
    // The pool made the file's device: it is gone with the pool.
    EXPECT_FALSE(DeviceRegistry::instance().lookup(_target->path()));
    auto back = import_pool(_rt, "fp", uri());
    ASSERT_TRUE(is_ok(back));
    EXPECT_EQ(back->uuid, p->uuid);
    EXPECT_EQ(back->used, used);
    EXPECT_TRUE(same_bytes(read_from(_rt, "thin", 0, 32 * MiB), thin));
    EXPECT_TRUE(same_bytes(read_from(_rt, "snap", 3 * MiB, data.size()), data));
    auto now = data;
    std::fill(now.begin() + MiB, now.begin() + MiB + 4096, 1);
    EXPECT_TRUE(same_bytes(read_from(_rt, "thick", 3 * MiB, data.size()), now));
    ASSERT_TRUE(is_ok(destroy_pool(_rt, "fp")));
    EXPECT_TRUE(fails_with(import_pool(_rt, "fp", uri()), ENOMEDIUM));
}

TEST_P(FilePoolTest, BlockSizeMustMatch) {
    ASSERT_TRUE(is_ok(create_pool(_rt, "fp", uri())));
    ASSERT_TRUE(is_ok(export_pool(_rt, "fp")));
    const uint32_t other = bs() == 512 ? 4096 : 512;
    EXPECT_TRUE(fails_with(import_pool(_rt, "fp", _target->uri(scheme(), other)), EINVAL, {"blocks"}));
    EXPECT_TRUE(is_ok(import_pool(_rt, "fp", uri())));
}

INSTANTIATE_TEST_SUITE_P(Files, FilePoolTest,
                         ::testing::Combine(::testing::Values("uring", "aio"),
                                            ::testing::Values(512u, 4096u)),
                         [](const auto& info) {
                             return std::string(std::get<0>(info.param)) + "_bs" +
                                    std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace ms::test
