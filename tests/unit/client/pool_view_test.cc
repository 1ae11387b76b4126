// `pool list`: the README transcript byte for byte, disk URIs, -q, -u, empty lists.
#include "mayastor-client/pool_view.h"

#include <gtest/gtest.h>

namespace ms::client {
namespace {

constexpr uint64_t MiB = 1024 * 1024;

mayastor::Pool make_pool(const std::string& name, const std::string& disk, uint64_t capacity, uint64_t used,
                         mayastor::PoolState state = mayastor::POOL_ONLINE) {
    mayastor::Pool p;
    p.set_name(name);
    p.add_disks(disk);
    p.set_state(state);
    p.set_capacity(capacity);
    p.set_used(used);
    return p;
}

mayastor::ListPoolsReply transcript_reply() {
    mayastor::ListPoolsReply reply;
    *reply.add_pools() =
        make_pool("tpool", "aio:///dev/loop8?uuid=0d8ac6a4-3f4c-4c5b-9d0a-1f2e3d4c5b6a", 96 * MiB, 0);
    return reply;
}

TEST(PoolView, ReadmeTranscript) {
    EXPECT_EQ(render_pools(transcript_reply(), Style{}),
              "NAME                 STATE        CAPACITY         USED   DISKS\n"
              "tpool                online       96.0 MiB          0 B   /dev/loop8\n");
}

TEST(PoolView, DiskText) {
    EXPECT_EQ(pool_disk_text("aio:///dev/loop8?uuid=0d8ac6a4-3f4c-4c5b-9d0a-1f2e3d4c5b6a"), "/dev/loop8");
    EXPECT_EQ(pool_disk_text("aio:///dev/loop8"), "/dev/loop8");
    EXPECT_EQ(pool_disk_text("/dev/sdb"), "/dev/sdb");
    EXPECT_EQ(pool_disk_text("malloc:///m0?size_mb=100&uuid=1234"), "malloc:///m0?size_mb=100");
    EXPECT_EQ(pool_disk_text("malloc:///m0?uuid=1234&size_mb=100"), "malloc:///m0?size_mb=100");
    EXPECT_EQ(pool_disk_text("uring:///var/tmp/disk.img?uuid=1"), "uring:///var/tmp/disk.img");
    // aio:// stays when a parameter other than uuid is left, so the text stays a URI.
    EXPECT_EQ(pool_disk_text("aio:///dev/sdb?blk_size=4096&uuid=1"), "aio:///dev/sdb?blk_size=4096");
    EXPECT_EQ(pool_disk_text("aio:///dev/sdb?"), "/dev/sdb");
    EXPECT_EQ(pool_disk_text("malloc:///m0?size_mb=100&uuidx=2"), "malloc:///m0?size_mb=100&uuidx=2");
    EXPECT_EQ(pool_disk_text(""), "");
}

TEST(PoolView, ColumnsGrowAndStatesAreWords) {
    mayastor::ListPoolsReply reply;
    *reply.add_pools() = make_pool("a-pool-with-a-long-name", "malloc:///m0?size_mb=100&uuid=x", 100 * MiB,
                                   8 * MiB, mayastor::POOL_DEGRADED);
    *reply.add_pools() = make_pool("p2", "/dev/sdc", 0, 0, mayastor::POOL_UNKNOWN);
    *reply.add_pools() = make_pool("p3", "/dev/sdd", 512, 512, mayastor::POOL_FAULTED);
    reply.mutable_pools(2)->add_disks("aio:///dev/sde?uuid=y");
    EXPECT_EQ(render_pools(reply, Style{}),
              "NAME                    STATE        CAPACITY         USED   DISKS\n"
              "a-pool-with-a-long-name degraded    100.0 MiB      8.0 MiB   malloc:///m0?size_mb=100\n"
              "p2                      unknown           0 B          0 B   /dev/sdc\n"
              "p3                      faulted         512 B        512 B   /dev/sdd /dev/sde\n");
}

TEST(PoolView, NoDisksLeavesNoTrailingSpaces) {
    mayastor::ListPoolsReply reply;
    auto* p = reply.add_pools();
    p->set_name("p");
    p->set_state(mayastor::POOL_ONLINE);
    EXPECT_EQ(render_pools(reply, Style{}),
              "NAME                 STATE        CAPACITY         USED   DISKS\n"
              "p                    online            0 B          0 B\n");
}

TEST(PoolView, Quiet) {
    EXPECT_EQ(render_pools(transcript_reply(), Style{.verbosity = 0}),
              "tpool online 96.0 MiB 0 B /dev/loop8\n");
}

TEST(PoolView, VerboseIsTheSameTable) {
    EXPECT_EQ(render_pools(transcript_reply(), Style{.verbosity = 2}),
              render_pools(transcript_reply(), Style{}));
}

TEST(PoolView, Units) {
    EXPECT_EQ(render_pools(transcript_reply(), Style{.units = Units::Binary}),
              "NAME                 STATE        CAPACITY         USED   DISKS\n"
              "tpool                online      96.00 MiB          0 B   /dev/loop8\n");
    EXPECT_EQ(render_pools(transcript_reply(), Style{.units = Units::Decimal}),
              "NAME                 STATE        CAPACITY         USED   DISKS\n"
              "tpool                online      100.66 MB          0 B   /dev/loop8\n");
    EXPECT_EQ(render_pools(transcript_reply(), Style{.units = Units::Bytes}),
              "NAME                 STATE        CAPACITY         USED   DISKS\n"
              "tpool                online      100663296            0   /dev/loop8\n");
}

TEST(PoolView, Empty) {
    mayastor::ListPoolsReply reply;
    EXPECT_EQ(render_pools(reply, Style{}), "No pools found\n");
    EXPECT_EQ(render_pools(reply, Style{.verbosity = 0}), "");
}

TEST(PoolView, StateWords) {
    EXPECT_EQ(pool_state_word(mayastor::POOL_UNKNOWN), "unknown");
    EXPECT_EQ(pool_state_word(mayastor::POOL_ONLINE), "online");
    EXPECT_EQ(pool_state_word(mayastor::POOL_DEGRADED), "degraded");
    EXPECT_EQ(pool_state_word(mayastor::POOL_FAULTED), "faulted");
    EXPECT_EQ(pool_state_word(42), "unknown");
}

}  // namespace
}  // namespace ms::client
