// The on-disk format without a device: checksums, layout, superblocks, page framing, records,
// images, and the loader on metadata areas built in memory, including every kind of damage.
#include "lvs/format.h"

#include <gtest/gtest.h>

#include <random>

#include "../bdev/bdev_test_util.h"
#include "core/crc32c.h"
#include "lvs/loader.h"
#include "lvs/pool_state.h"
#include "lvs/record.h"

namespace ms::lvs {
namespace {

using test::fails_with;
using test::is_ok;
constexpr uint64_t MiB = 1ull << 20;

std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Crc32c, KnownValuesAndBothImplementations) {
    EXPECT_EQ(crc32c(bytes("123456789")), 0xE3069283u);
    EXPECT_EQ(crc32c_table(bytes("123456789")), 0xE3069283u);
    EXPECT_EQ(crc32c(bytes("")), 0u);
    std::vector<uint8_t> zeros(32, 0);
    EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4
    auto data = test::random_bytes(100000, 1);
    for (std::size_t n : {0, 1, 7, 8, 9, 63, 4096, 99999}) {
        auto s = std::span<const uint8_t>(data).first(n);
        EXPECT_EQ(crc32c(s), crc32c_table(s)) << n;
        // Chaining.
        EXPECT_EQ(crc32c(s.subspan(n / 3), crc32c(s.first(n / 3))), crc32c(s)) << n;
    }
}

TEST(Layout, SmallDisksGiveOneMetadataCluster) {
    auto l = compute_layout({100 * MiB, 512, 4 * MiB, 0, 0});
    ASSERT_TRUE(is_ok(l));
    EXPECT_EQ(l->metadata_clusters, 1u);
    EXPECT_EQ(l->data_clusters, 24u);
    EXPECT_EQ(l->max_lvols, 1024u);
    // The log takes what the superblocks and images leave of the metadata cluster.
    EXPECT_EQ(l->metadata_pages() * kPageSize, 4 * MiB);
    EXPECT_TRUE(is_ok(check_layout(*l)));
    for (uint64_t size : {8 * MiB, 16 * MiB, 1000 * MiB, 4096 * MiB}) {
        auto x = compute_layout({size, 4096, 4 * MiB, 0, 0});
        ASSERT_TRUE(is_ok(x)) << size;
        EXPECT_EQ(x->metadata_clusters, 1u) << size;
        EXPECT_EQ(x->data_clusters, size / (4 * MiB) - 1) << size;
    }
}

TEST(Layout, LargeDisksGrowTheMetadataArea) {
    const uint64_t tib = 1ull << 40;
    for (uint64_t size : {tib, 10 * tib, 100 * tib}) {
        auto l = compute_layout({size, 512, 4 * MiB, 0, 0});
        ASSERT_TRUE(is_ok(l)) << size;
        EXPECT_TRUE(is_ok(check_layout(*l)));
        EXPECT_EQ(l->max_lvols, 65536u);
        EXPECT_GT(l->metadata_clusters, 1u);
        // Well under 1% of the disk.
        EXPECT_LT(l->data_offset(), size / 200) << size;
        EXPECT_EQ(uint64_t{l->metadata_clusters} + l->data_clusters, size / (4 * MiB));
    }
}

TEST(Layout, BadRequests) {
    EXPECT_TRUE(fails_with(compute_layout({100 * MiB, 512, 3 * MiB, 0, 0}), EINVAL));
    EXPECT_TRUE(fails_with(compute_layout({100 * MiB, 512, 2ull << 30, 0, 0}), EINVAL));
    EXPECT_TRUE(fails_with(compute_layout({100 * MiB, 520, 4 * MiB, 0, 0}), EINVAL));
    EXPECT_TRUE(fails_with(compute_layout({4 * MiB, 512, 4 * MiB, 0, 0}), ENOSPC));
    EXPECT_TRUE(fails_with(compute_layout({8 * MiB, 512, 4 * MiB, 0, 0}), ENOSPC) == false);
    // Tuned: a small log stays small.
    auto l = compute_layout({100 * MiB, 512, 4 * MiB, 8, 3});
    ASSERT_TRUE(is_ok(l));
    EXPECT_EQ(l->log_pages, 3u);
    EXPECT_EQ(l->max_lvols, 8u);
}

Superblock sample_superblock() {
    Superblock sb;
    sb.uuid = Uuid::generate();
    sb.name = "pool-1";
    sb.created = 1700000000;
    sb.device_bytes = 100 * MiB;
    sb.layout = *compute_layout({100 * MiB, 512, 4 * MiB, 0, 0});
    return sb;
}

TEST(Superblock, RoundTripAndEveryByteChecked) {
    Superblock sb = sample_superblock();
    std::vector<uint8_t> page(kPageSize);
    encode_superblock(sb, 1, page);
    auto back = decode_superblock(page, 1);
    ASSERT_TRUE(is_ok(back));
    EXPECT_EQ(back->uuid, sb.uuid);
    EXPECT_EQ(back->name, sb.name);
    EXPECT_EQ(back->layout.data_clusters, sb.layout.data_clusters);
    EXPECT_EQ(back->layout.log_pages, sb.layout.log_pages);
    EXPECT_TRUE(fails_with(decode_superblock(page, 0), EUCLEAN, {"copy 1"}));
    for (std::size_t i = 0; i < kPageSize; ++i) {
        auto bad = page;
        bad[i] ^= 0x01;
        auto r = decode_superblock(bad, 1);
        ASSERT_FALSE(r) << "byte " << i;
        EXPECT_TRUE(r.error().code == EUCLEAN || r.error().code == ENOMEDIUM) << i;
    }
    EXPECT_TRUE(fails_with(decode_superblock(std::vector<uint8_t>(kPageSize, 0), 0), ENOMEDIUM));
}

TEST(Pages, FramingRoundTripsAndNamesDamage) {
    auto stream = test::random_bytes(3 * kPagePayload + 17, 2);
    Uuid pool = Uuid::generate();
    const uint64_t pages = pages_for(stream.size());
    ASSERT_EQ(pages, 4u);
    std::vector<uint8_t> area((pages + 3) * kPageSize, 0);
    frame_stream(stream, kLogMagic, pool, 42, std::span(area).subspan(3 * kPageSize));
    auto run = read_page_run(area, 3, 10, kLogMagic, pool);
    ASSERT_TRUE(is_ok(run));
    EXPECT_EQ(run->seq, 42u);
    EXPECT_EQ(run->count, 4u);
    EXPECT_EQ(run->stream, stream);
    EXPECT_TRUE(fails_with(read_page_run(area, 3, 10, kImageMagic, pool), EUCLEAN, {"magic", "page 3"}));
    EXPECT_TRUE(
        fails_with(read_page_run(area, 3, 10, kLogMagic, Uuid::generate()), EUCLEAN, {"another pool"}));
    EXPECT_TRUE(fails_with(read_page_run(area, 3, 3, kLogMagic, pool), EUCLEAN, {"fit"}));
    EXPECT_TRUE(fails_with(read_page_run(area, 4, 10, kLogMagic, pool), EUCLEAN, {"not its first"}));
    area[5 * kPageSize + 1000] ^= 1;
    EXPECT_TRUE(fails_with(read_page_run(area, 3, 10, kLogMagic, pool), EUCLEAN,
                           {"page 5", "byte offset 20480", "checksum"}));
}

std::vector<Record> sample_records() {
    std::vector<Record> out;
    Record c;
    c.type = RecordType::CreateLvol;
    c.id = 1;
    c.lvol = LvolEntry{1,       0, 0,    LvolKind::Replica,     false, ShareProtocol::None, Uuid::generate(),
                       2 * MiB, 5, "r1", {{0, 3, 1}, {1, 7, 1}}};
    out.push_back(c);
    Record t = c;
    t.id = t.lvol.id = 2;
    t.lvol.thin = true;
    t.lvol.name = "thin";
    t.lvol.extents.clear();
    out.push_back(t);
    Record m{RecordType::MapCluster, 2, 0, 0, 1, ShareProtocol::None, {}};
    out.push_back(m);
    Record s{RecordType::Snapshot, 3, 2, 0, 0, ShareProtocol::None, {}};
    s.lvol.name = "snap";
    s.lvol.uuid = Uuid::generate();
    out.push_back(s);
    Record cl{RecordType::Clone, 4, 3, 0, 0, ShareProtocol::None, {}};
    cl.lvol.name = "clone";
    out.push_back(cl);
    out.push_back(Record{RecordType::MapCluster, 4, 0, 1, 2, ShareProtocol::None, {}});
    out.push_back(Record{RecordType::SetShare, 4, 0, 0, 0, ShareProtocol::Iscsi, {}});
    out.push_back(Record{RecordType::DestroyLvol, 4, 0, 0, 0, ShareProtocol::None, {}});
    out.push_back(Record{RecordType::Merge, 3, 2, 0, 0, ShareProtocol::None, {}});
    out.push_back(Record{RecordType::DestroyLvol, 1, 0, 0, 0, ShareProtocol::None, {}});
    return out;
}

Layout small_layout() {
    return *compute_layout({64 * MiB, 512, MiB, 16, 16});
}

TEST(Records, RoundTripAndTruncation) {
    for (const Record& r : sample_records()) {
        std::vector<uint8_t> buf;
        ByteWriter w(buf);
        encode_record(w, r);
        EXPECT_EQ(buf.size(), record_size(r)) << to_string(r.type);
        ByteReader rd(buf);
        auto back = decode_record(rd);
        ASSERT_TRUE(is_ok(back)) << to_string(r.type);
        EXPECT_TRUE(rd.at_end());
        EXPECT_EQ(back->type, r.type);
        EXPECT_EQ(back->id, r.id);
        EXPECT_EQ(back->ref, r.ref);
        EXPECT_EQ(back->logical, r.logical);
        EXPECT_EQ(back->physical, r.physical);
        EXPECT_EQ(back->share, r.share);
        EXPECT_EQ(back->lvol.name, r.lvol.name);
        EXPECT_EQ(back->lvol.extents, r.lvol.extents);
        for (std::size_t n = 0; n < buf.size(); ++n) {
            ByteReader cut{std::span<const uint8_t>(buf).first(n)};
            EXPECT_FALSE(decode_record(cut)) << to_string(r.type) << " cut at " << n;
        }
    }
}

TEST(State, RecordsApplyAndImagesRoundTrip) {
    PoolState st(small_layout());
    std::vector<std::string> images;
    for (const Record& r : sample_records()) {
        ASSERT_TRUE(is_ok(st.validate(r))) << to_string(r.type);
        st.apply(r);
        std::vector<uint8_t> img;
        st.encode_image(7, img);
        uint64_t seq = 0;
        auto back = PoolState::decode_image(st.layout(), img, &seq);
        ASSERT_TRUE(is_ok(back)) << to_string(r.type);
        EXPECT_EQ(seq, 7u);
        std::vector<uint8_t> again;
        (*back)->encode_image(7, again);
        EXPECT_EQ(again, img);
        EXPECT_EQ((*back)->used_clusters(), st.used_clusters());
    }
    // After all of it: "thin" holds the snapshot's cluster and its own.
    Lvol* thin = st.find("thin");
    ASSERT_NE(thin, nullptr);
    EXPECT_EQ(thin->map.allocated(), 1u);
    EXPECT_EQ(thin->parent, nullptr);
    EXPECT_EQ(st.used_clusters(), 1u);
    EXPECT_EQ(st.lvol_count(), 1u);
}

TEST(State, ValidationRefusesWhatCannotApply) {
    PoolState st(small_layout());
    auto recs = sample_records();
    st.apply(recs[0]);
    Record dup = recs[0];
    EXPECT_TRUE(fails_with(st.validate(dup), EINVAL, {"id"}));
    dup.id = dup.lvol.id = st.next_id();
    EXPECT_TRUE(fails_with(st.validate(dup), EEXIST));
    dup.lvol.name = "other";
    EXPECT_TRUE(fails_with(st.validate(dup), EINVAL, {"in use"}));
    dup.lvol.extents = {{0, 10, 1}};
    EXPECT_TRUE(fails_with(st.validate(dup), EINVAL, {"thick"}));
    dup.lvol.extents = {{0, 10, 1}, {0, 11, 1}};
    EXPECT_TRUE(fails_with(st.validate(dup), EINVAL, {"overlap"}));
    dup.lvol.extents = {{0, 10, 1}, {1, 10, 1}};
    EXPECT_TRUE(fails_with(st.validate(dup), EINVAL, {"overlap"}));
    dup.lvol.extents = {{0, 10, 1}, {1, 999999, 1}};
    EXPECT_TRUE(fails_with(st.validate(dup), EINVAL, {"range"}));
    EXPECT_TRUE(fails_with(st.validate(Record{RecordType::MapCluster, 1, 0, 0, 20, ShareProtocol::None, {}}),
                           EEXIST));
    EXPECT_TRUE(fails_with(st.validate(Record{RecordType::DestroyLvol, 9, 0, 0, 0, ShareProtocol::None, {}}),
                           ENOENT));
    EXPECT_TRUE(
        fails_with(st.validate(Record{RecordType::Clone, 2, 1, 0, 0, ShareProtocol::None, {}}), EINVAL));
    EXPECT_TRUE(
        fails_with(st.validate(Record{RecordType::Merge, 1, 1, 0, 0, ShareProtocol::None, {}}), EINVAL));
    // Reservations: a reserved cluster is not handed out twice.
    auto a = st.reserve(5);
    ASSERT_TRUE(is_ok(a));
    EXPECT_EQ(st.free_clusters(), uint64_t(small_layout().data_clusters) - 2 - 5);
    EXPECT_TRUE(fails_with(st.reserve(1000), ENOSPC));
    st.unreserve(*a);
    EXPECT_EQ(st.free_clusters(), uint64_t(small_layout().data_clusters) - 2);
}

// A metadata area as a pool would write it: superblocks, the image of the state after
// `image_records`, then one log batch per remaining record.
struct Area {
    Superblock sb;
    std::vector<uint8_t> bytes;
    std::vector<uint64_t> batch_pages;  // first page of each batch
};

Area build_area(std::size_t image_records) {
    Area a;
    a.sb = sample_superblock();
    a.sb.layout = small_layout();
    const Layout& l = a.sb.layout;
    a.bytes.assign(l.metadata_pages() * kPageSize, 0xEE);
    encode_superblock(a.sb, 0, std::span(a.bytes).first(kPageSize));
    encode_superblock(a.sb, 1, std::span(a.bytes).subspan(kPageSize, kPageSize));
    auto recs = sample_records();
    PoolState st(l);
    for (std::size_t i = 0; i < image_records; ++i) {
        st.apply(recs[i]);
    }
    std::vector<uint8_t> img;
    st.encode_image(image_records, img);
    frame_stream(img, kImageMagic, a.sb.uuid, image_records,
                 std::span(a.bytes).subspan(l.image_page(image_records % 2) * kPageSize));
    uint64_t page = 0;
    for (std::size_t i = image_records; i < recs.size(); ++i) {
        std::vector<uint8_t> stream;
        ByteWriter w(stream);
        encode_record(w, recs[i]);
        frame_stream(stream, kLogMagic, a.sb.uuid, i + 1,
                     std::span(a.bytes).subspan((l.log_page() + page) * kPageSize));
        a.batch_pages.push_back(l.log_page() + page);
        page += pages_for(stream.size());
    }
    return a;
}

TEST(Loader, ReplaysTheLogAfterTheImage) {
    for (std::size_t at : {0u, 3u, 10u}) {
        Area a = build_area(at);
        auto loaded = load_metadata(a.bytes);
        ASSERT_TRUE(is_ok(loaded)) << at;
        EXPECT_EQ(loaded->image_seq, at);
        EXPECT_EQ(loaded->next_seq, 11u);
        EXPECT_EQ(loaded->batches, 10 - at);
        EXPECT_EQ(loaded->state->lvol_count(), 1u);
        EXPECT_EQ(loaded->state->used_clusters(), 1u);
    }
}

TEST(Loader, NamesDamage) {
    Area a = build_area(3);
    // A batch in the middle.
    auto bad = a.bytes;
    bad[a.batch_pages[2] * kPageSize + 60] ^= 4;
    EXPECT_TRUE(fails_with(load_metadata(bad), EUCLEAN,
                           {"log is damaged at page " + std::to_string(a.batch_pages[2]), "checksum"}));
    // The last batch: indistinguishable from a crash while writing it.
    bad = a.bytes;
    bad[a.batch_pages.back() * kPageSize + 60] ^= 4;
    auto l = load_metadata(bad);
    ASSERT_TRUE(is_ok(l));
    EXPECT_EQ(l->next_seq, 10u);
    // The image.
    bad = a.bytes;
    bad[a.sb.layout.image_page(1) * kPageSize + 70] ^= 4;
    EXPECT_TRUE(fails_with(load_metadata(bad), EUCLEAN, {"no valid checkpoint image", "image area 1"}));
    // A record that does not apply (a valid page with a bad record: written by a bug).
    bad = a.bytes;
    {
        Record r{RecordType::DestroyLvol, 77, 0, 0, 0, ShareProtocol::None, {}};
        std::vector<uint8_t> stream;
        ByteWriter w(stream);
        encode_record(w, r);
        frame_stream(stream, kLogMagic, a.sb.uuid, 4, std::span(bad).subspan(a.batch_pages[0] * kPageSize));
    }
    EXPECT_TRUE(fails_with(load_metadata(bad), EUCLEAN, {"does not apply", "lvol 77"}));
    // Superblocks that disagree.
    bad = a.bytes;
    Superblock other = a.sb;
    other.name = "other";
    encode_superblock(other, 1, std::span(bad).subspan(kPageSize, kPageSize));
    EXPECT_TRUE(fails_with(load_metadata(bad), EUCLEAN, {"disagree"}));
}

TEST(Loader, SurvivesRandomDamage) {
    // Not a substitute for the fuzzer (tests/fuzz/lvs_metadata_fuzz.cc), but it runs on every
    // build: random byte flips and zeroed sectors never crash the loader, and a load that
    // succeeds gives a state that re-encodes to an image that loads again.
    Area a = build_area(3);
    std::mt19937_64 rng(12345);
    int loaded = 0;
    for (int i = 0; i < 3000; ++i) {
        auto bad = a.bytes;
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            std::size_t at = rng() % (a.batch_pages.back() * kPageSize + kPageSize);
            if (rng() % 3 == 0) {
                at = at / 512 * 512;
                std::fill(bad.begin() + at, bad.begin() + std::min(at + 512, bad.size()), 0);
            } else {
                bad[at] ^= static_cast<uint8_t>(1 + rng() % 255);
            }
        }
        auto r = load_metadata(bad);
        if (!r) {
            EXPECT_TRUE(r.error().code == EUCLEAN || r.error().code == ENOMEDIUM || r.error().code == ENOTSUP)
                << r.error().to_string();
            continue;
        }
        ++loaded;
        std::vector<uint8_t> img;
        r->state->encode_image(r->next_seq - 1, img);
        uint64_t seq = 0;
        ASSERT_TRUE(is_ok(PoolState::decode_image(r->sb.layout, img, &seq)));
    }
    EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace ms::lvs
