// Metadata areas of real pools, made through the public API, load with the pure loader the
// fuzzer drives (tests/fuzz/lvs_metadata_fuzz.cc). With MS_LVS_CORPUS_DIR set, they are also
// written there as the fuzzer's seed corpus (tests/fuzz/corpus/lvs/):
//   MS_LVS_CORPUS_DIR=tests/fuzz/corpus/lvs build/tests/unit_lvs --gtest_filter='Corpus*'
#include <cstdlib>
#include <fstream>

#include "lvs/loader.h"
#include "lvs_test_util.h"

namespace ms::test {
namespace {

class CorpusTest : public LvsTest {
   protected:
    // Pools small enough for a fuzzer: 1 MiB clusters, 8 lvols, an 8-page log (48 KiB).
    void make(uint32_t bs) {
        malloc_disk("m0", 16, bs);
        CreatePoolOptions o;
        o.cluster_size = MiB;
        o.max_lvols = 8;
        o.log_pages = 8;
        ASSERT_TRUE(is_ok(create_pool(_rt, "p0", "bdev:///m0", o)));
        _layout = lvs::registered_pool("p0")->layout();
    }
    // The metadata area as the disk holds it now, the trailing zeros cut off.
    void take(const std::string& what) {
        ASSERT_TRUE(is_ok(export_pool(_rt, "p0")));
        auto area = raw_read(_rt, "m0", 0, _layout.metadata_pages() * lvs::kPageSize);
        auto loaded = lvs::load_metadata(area);
        ASSERT_TRUE(is_ok(loaded)) << what;
        while (!area.empty() && area.back() == 0) {
            area.pop_back();
        }
        if (const char* dir = std::getenv("MS_LVS_CORPUS_DIR")) {
            std::ofstream f(std::string(dir) + "/" + what, std::ios::binary);
            f.write(reinterpret_cast<const char*>(area.data()), static_cast<std::streamsize>(area.size()));
            ASSERT_TRUE(f.good()) << dir << "/" << what;
        }
        ASSERT_TRUE(is_ok(import_pool(_rt, "p0", "bdev:///m0")));
    }
    lvs::Layout _layout;
};

TEST_F(CorpusTest, RealMetadataAreasLoad) {
    for (uint32_t bs : {512u, 4096u}) {
        SCOPED_TRACE(bs);
        const std::string b = "bs" + std::to_string(bs) + "_";
        make(bs);
        take(b + "empty");
        ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "thick", 2 * MiB, false)));
        ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "thin", 4 * MiB, true)));
        ASSERT_TRUE(is_ok(write_to(_rt, "thin", MiB, pattern(4096, 1))));
        take(b + "replicas");
        ASSERT_TRUE(is_ok(snapshot(_rt, "thin", "snap")));
        ASSERT_TRUE(is_ok(write_to(_rt, "thin", MiB, pattern(4096, 2))));
        ASSERT_TRUE(is_ok(clone(_rt, "snap", "clone")));
        ASSERT_TRUE(is_ok(write_to(_rt, "clone", 0, pattern(4096, 3))));
        ASSERT_TRUE(is_ok(set_share(_rt, "thin", lvs::ShareProtocol::Nvmf)));
        take(b + "snapshot_clone");
        ASSERT_TRUE(is_ok(destroy_replica(_rt, "clone")));
        ASSERT_TRUE(is_ok(destroy_snapshot(_rt, "snap")));
        ASSERT_TRUE(is_ok(destroy_replica(_rt, "thick")));
        take(b + "merged");
        for (int i = 0; i < 6; ++i) {
            ASSERT_TRUE(is_ok(create_replica(_rt, "p0", "x" + std::to_string(i), MiB, i % 2 == 0)));
        }
        ASSERT_GE(lvs::registered_pool("p0")->metadata().stats().checkpoints, 1u);
        take(b + "checkpointed");
        ASSERT_TRUE(is_ok(destroy_pool(_rt, "p0")));
        ASSERT_TRUE(is_ok(destroy(_rt, "m0")));
        _devices.clear();
    }
}

}  // namespace
}  // namespace ms::test
