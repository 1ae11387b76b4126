// `nexus list`, `nexus children`, ana words, and the rebuild tables.
#include "mayastor-client/nexus_view.h"

#include <gtest/gtest.h>

namespace ms::client {
namespace {

mayastor::ListNexusReply two_nexus() {
    mayastor::ListNexusReply reply;
    auto* n = reply.add_nexus_list();
    n->set_uuid("2d1a6e3c-0000-4000-8000-000000000001");
    n->set_size(64 * 1024 * 1024);
    n->set_state(mayastor::NEXUS_ONLINE);
    n->set_device_uri(
        "nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:nexus-2d1a6e3c-0000-4000-8000-000000000001");
    auto* c = n->add_children();
    c->set_uri("bdev:///r1");
    c->set_state(mayastor::CHILD_ONLINE);
    c = n->add_children();
    c->set_uri("nvmf://10.0.0.2:8420/nqn.2019-05.io.openebs:r2");
    c->set_state(mayastor::CHILD_DEGRADED);
    n->set_rebuilds(1);
    auto* m = reply.add_nexus_list();
    m->set_uuid("u2");
    m->set_size(1000);
    m->set_state(mayastor::NEXUS_FAULTED);
    return reply;
}

TEST(NexusView, List) {
    EXPECT_EQ(render_nexus_list(two_nexus(), false, Style{}),
              "NAME                                     SIZE STATE   REBUILDS PATH"
              "                                                                                   \n"
              "2d1a6e3c-0000-4000-8000-000000000001 67108864 online         1 "
              "nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:nexus-2d1a6e3c-0000-4000-8000-000000000001\n"
              "u2                                       1000 faulted        0 "
              "                                                                                       \n");
}

TEST(NexusView, ListWithChildrenQuiet) {
    EXPECT_EQ(render_nexus_list(two_nexus(), true, Style{.verbosity = 0, .units = Units::Binary}),
              "2d1a6e3c-0000-4000-8000-000000000001 64.00 MiB online 1 "
              "nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:nexus-2d1a6e3c-0000-4000-8000-000000000001 "
              "bdev:///r1,nvmf://10.0.0.2:8420/nqn.2019-05.io.openebs:r2\n"
              "u2 1000 B faulted 0  \n");
}

TEST(NexusView, Empty) {
    EXPECT_EQ(render_nexus_list(mayastor::ListNexusReply(), false, Style{}), "No nexus found\n");
    EXPECT_EQ(render_nexus_list(mayastor::ListNexusReply(), true, Style{.verbosity = 0}), "");
}

TEST(NexusView, Children) {
    auto reply = two_nexus();
    EXPECT_EQ(render_nexus_children(reply.nexus_list(0), Style{}),
              "NAME                                           STATE   \n"
              "bdev:///r1                                     online  \n"
              "nvmf://10.0.0.2:8420/nqn.2019-05.io.openebs:r2 degraded\n");
    EXPECT_EQ(render_nexus_children(reply.nexus_list(1), Style{}), "NAME STATE\n");
}

TEST(NexusView, Words) {
    EXPECT_EQ(nexus_state_word(mayastor::NEXUS_UNKNOWN), "unknown");
    EXPECT_EQ(nexus_state_word(mayastor::NEXUS_ONLINE), "online");
    EXPECT_EQ(nexus_state_word(mayastor::NEXUS_DEGRADED), "degraded");
    EXPECT_EQ(nexus_state_word(mayastor::NEXUS_FAULTED), "faulted");
    EXPECT_EQ(child_state_word(mayastor::CHILD_UNKNOWN), "unknown");
    EXPECT_EQ(child_state_word(mayastor::CHILD_ONLINE), "online");
    EXPECT_EQ(child_state_word(mayastor::CHILD_DEGRADED), "degraded");
    EXPECT_EQ(child_state_word(mayastor::CHILD_FAULTED), "faulted");
    EXPECT_EQ(ana_state_word(mayastor::NVME_ANA_INVALID_STATE), "invalid");
    EXPECT_EQ(ana_state_word(mayastor::NVME_ANA_OPTIMIZED_STATE), "optimized");
    EXPECT_EQ(ana_state_word(mayastor::NVME_ANA_NON_OPTIMIZED_STATE), "non_optimized");
    EXPECT_EQ(ana_state_word(mayastor::NVME_ANA_INACCESSIBLE_STATE), "inaccessible");
    EXPECT_EQ(ana_state_word(mayastor::NVME_ANA_PERSISTENT_LOSS_STATE), "persistent_loss");
    EXPECT_EQ(ana_state_word(mayastor::NVME_ANA_CHANGE_STATE), "change");
    EXPECT_EQ(ana_state_word(5), "unknown");
    EXPECT_EQ(parse_ana_state("optimized"), mayastor::NVME_ANA_OPTIMIZED_STATE);
    EXPECT_EQ(parse_ana_state("non_optimized"), mayastor::NVME_ANA_NON_OPTIMIZED_STATE);
    EXPECT_EQ(parse_ana_state("inaccessible"), mayastor::NVME_ANA_INACCESSIBLE_STATE);
    EXPECT_EQ(parse_ana_state("change"), std::nullopt);
    EXPECT_EQ(parse_nexus_share("nvmf"), mayastor::NEXUS_NVMF);
    EXPECT_EQ(parse_nexus_share("iscsi"), mayastor::NEXUS_ISCSI);
    EXPECT_EQ(parse_nexus_share("nbd"), std::nullopt);
    EXPECT_EQ(parse_nexus_share("none"), std::nullopt);
    EXPECT_TRUE(parse_norebuild("true"));
    EXPECT_FALSE(parse_norebuild("false"));
    EXPECT_FALSE(parse_norebuild("yes"));
    EXPECT_FALSE(parse_norebuild("TRUE"));
    EXPECT_FALSE(parse_norebuild(""));
}

TEST(NexusView, Rebuild) {
    mayastor::RebuildStateReply state;
    state.set_state("running");
    EXPECT_EQ(render_rebuild_state(state, Style{}), "state  \nrunning\n");
    EXPECT_EQ(render_rebuild_state(state, Style{.verbosity = 0}), "running\n");

    mayastor::RebuildStatsReply stats;
    stats.set_blocks_total(131072);
    stats.set_blocks_recovered(65536);
    stats.set_progress(50);
    stats.set_segment_size_blks(128);
    stats.set_block_size(512);
    stats.set_tasks_total(16);
    stats.set_tasks_active(3);
    EXPECT_EQ(
        render_rebuild_stats(stats, Style{}),
        "blocks_total blocks_recovered progress (%) segment_size_blks block_size tasks_total tasks_active\n"
        "131072       65536            50           128               512        16          3           \n");
    EXPECT_EQ(render_rebuild_stats(stats, Style{.verbosity = 0}), "131072 65536 50 128 512 16 3\n");

    mayastor::RebuildProgressReply progress;
    progress.set_progress(100);
    EXPECT_EQ(render_rebuild_progress(progress, Style{}), "progress (%)\n100         \n");
    EXPECT_EQ(render_rebuild_progress(progress, Style{.verbosity = 0}), "100\n");
}

}  // namespace
}  // namespace ms::client
