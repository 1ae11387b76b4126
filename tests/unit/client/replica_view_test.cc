// `replica list` (the README transcript byte for byte), `replica stats`, `snapshot list`.
#include "mayastor-client/replica_view.h"

#include <gtest/gtest.h>

namespace ms::client {
namespace {

constexpr uint64_t MiB = 1024 * 1024;

mayastor::Replica make_replica(const std::string& pool, const std::string& uuid, bool thin, uint64_t size,
                               mayastor::ShareProtocolReplica share = mayastor::REPLICA_NONE,
                               const std::string& uri = "") {
    mayastor::Replica r;
    r.set_pool(pool);
    r.set_uuid(uuid);
    r.set_thin(thin);
    r.set_size(size);
    r.set_share(share);
    r.set_uri(uri.empty() ? "bdev:///" + uuid + "?uuid=1111" : uri);
    return r;
}

mayastor::ListReplicasReply transcript_reply() {
    mayastor::ListReplicasReply reply;
    *reply.add_replicas() = make_replica("tpool", "replica1", false, 10 * MiB);   // --size=10
    *reply.add_replicas() = make_replica("tpool", "replica2", true, 1000 * MiB);  // --size=1000 --thin
    return reply;
}

TEST(ReplicaView, ReadmeTranscript) {
    EXPECT_EQ(render_replicas(transcript_reply(), Style{}),
              "POOL                 NAME                 THIN           SIZE\n"
              "tpool                replica1             false       10.0 MiB\n"
              "tpool                replica2             true         1.0 GiB\n");
}

TEST(ReplicaView, ReadmeTranscriptEmpty) {
    EXPECT_EQ(render_replicas(mayastor::ListReplicasReply(), Style{}), "No replicas have been created\n");
    EXPECT_EQ(render_replicas(mayastor::ListReplicasReply(), Style{.verbosity = 0}), "");
}

TEST(ReplicaView, Quiet) {
    EXPECT_EQ(render_replicas(transcript_reply(), Style{.verbosity = 0}),
              "tpool replica1 false 10.0 MiB\ntpool replica2 true 1.0 GiB\n");
}

TEST(ReplicaView, UnitsAndWideCells) {
    mayastor::ListReplicasReply reply;
    *reply.add_replicas() = make_replica("a-pool-named-at-length", "0123456789abcdef0123", false, 10 * MiB);
    EXPECT_EQ(render_replicas(reply, Style{.units = Units::Bytes}),
              "POOL                   NAME                 THIN           SIZE\n"
              "a-pool-named-at-length 0123456789abcdef0123 false       10485760\n");
    EXPECT_EQ(render_replicas(reply, Style{.units = Units::Binary}),
              "POOL                   NAME                 THIN           SIZE\n"
              "a-pool-named-at-length 0123456789abcdef0123 false      10.00 MiB\n");
    mayastor::ListReplicasReply big;
    *big.add_replicas() = make_replica("p", "r", false, 123456789012345);
    EXPECT_EQ(render_replicas(big, Style{.units = Units::Bytes}),
              "POOL                 NAME                 THIN               SIZE\n"
              "p                    r                    false    123456789012345\n");
}

TEST(ReplicaView, SharedReplicasAddShareAndUri) {
    auto reply = transcript_reply();
    *reply.add_replicas() = make_replica("tpool", "replica3", false, 64 * MiB, mayastor::REPLICA_NVMF,
                                         "nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:replica3?uuid=2222");
    EXPECT_EQ(render_replicas(reply, Style{}),
              "POOL                 NAME                 THIN           SIZE  SHARE    URI\n"
              "tpool                replica1             false       10.0 MiB none     "
              "bdev:///replica1?uuid=1111\n"
              "tpool                replica2             true         1.0 GiB none     "
              "bdev:///replica2?uuid=1111\n"
              "tpool                replica3             false       64.0 MiB nvmf     "
              "nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:replica3?uuid=2222\n");
    EXPECT_EQ(render_replicas(reply, Style{.verbosity = 0}),
              "tpool replica1 false 10.0 MiB none bdev:///replica1?uuid=1111\n"
              "tpool replica2 true 1.0 GiB none bdev:///replica2?uuid=1111\n"
              "tpool replica3 false 64.0 MiB nvmf "
              "nvmf://127.0.0.1:8420/nqn.2019-05.io.openebs:replica3?uuid=2222\n");
}

TEST(ReplicaView, ShareWords) {
    EXPECT_EQ(replica_share_word(mayastor::REPLICA_NONE), "none");
    EXPECT_EQ(replica_share_word(mayastor::REPLICA_NVMF), "nvmf");
    EXPECT_EQ(replica_share_word(mayastor::REPLICA_ISCSI), "iscsi");
    EXPECT_EQ(replica_share_word(7), "unknown");
    EXPECT_EQ(parse_replica_share("none"), mayastor::REPLICA_NONE);
    EXPECT_EQ(parse_replica_share("nvmf"), mayastor::REPLICA_NVMF);
    EXPECT_EQ(parse_replica_share("iscsi"), mayastor::REPLICA_ISCSI);
    EXPECT_EQ(parse_replica_share("NVMF"), std::nullopt);
    EXPECT_EQ(parse_replica_share("nbd"), std::nullopt);
    EXPECT_EQ(parse_replica_share(""), std::nullopt);
}

TEST(ReplicaView, Stats) {
    mayastor::StatReplicasReply reply;
    auto* r = reply.add_replicas();
    r->set_pool("tpool");
    r->set_uuid("replica1");
    r->mutable_stats()->set_num_read_ops(12);
    r->mutable_stats()->set_num_write_ops(3456);
    r->mutable_stats()->set_bytes_read(2 * MiB);
    r->mutable_stats()->set_bytes_written(512);
    EXPECT_EQ(render_replica_stats(reply, Style{}),
              "POOL  NAME     RDCNT WRCNT RDBYTES WRBYTES\n"
              "tpool replica1 12    3456  2097152 512    \n");
    EXPECT_EQ(render_replica_stats(reply, Style{.units = Units::Binary}),
              "POOL  NAME     RDCNT WRCNT RDBYTES  WRBYTES\n"
              "tpool replica1 12    3456  2.00 MiB 512 B  \n");
    EXPECT_EQ(render_replica_stats(reply, Style{.verbosity = 0}), "tpool replica1 12 3456 2097152 512\n");
    EXPECT_EQ(render_replica_stats(mayastor::StatReplicasReply(), Style{}),
              "No replicas have been created\n");
}

TEST(ReplicaView, UtcTimestamp) {
    EXPECT_EQ(utc_timestamp(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(utc_timestamp(1714564800), "2024-05-01T12:00:00Z");
    EXPECT_EQ(utc_timestamp(951782400), "2000-02-29T00:00:00Z");
}

TEST(ReplicaView, Snapshots) {
    mayastor::ListReplicaSnapshotsReply reply;
    auto* s = reply.add_snapshots();
    s->set_name("replica1-snap-1714564800");
    s->set_uuid("u1");
    s->set_pool("tpool");
    s->set_replica("replica1");
    s->set_size(10 * MiB);
    s->set_allocated(4 * MiB);
    s->set_timestamp(1714564800);
    s->add_clones("clone1");
    s->add_clones("clone2");
    auto* t = reply.add_snapshots();
    t->set_name("s2");
    t->set_pool("tpool");
    t->set_replica("replica2");
    t->set_size(1000 * MiB);
    t->set_timestamp(1714564801);
    EXPECT_EQ(
        render_snapshots(reply, Style{}),
        "POOL  NAME                     REPLICA        SIZE ALLOCATED CREATED              CLONES       \n"
        "tpool replica1-snap-1714564800 replica1   10485760   4194304 2024-05-01T12:00:00Z clone1,clone2\n"
        "tpool s2                       replica2 1048576000         0 2024-05-01T12:00:01Z              \n");
    EXPECT_EQ(
        render_snapshots(reply, Style{.verbosity = 0, .units = Units::Binary}),
        "tpool replica1-snap-1714564800 replica1 10.00 MiB 4.00 MiB 2024-05-01T12:00:00Z clone1,clone2\n"
        "tpool s2 replica2 1000.00 MiB 0 B 2024-05-01T12:00:01Z \n");
    EXPECT_EQ(render_snapshots(mayastor::ListReplicaSnapshotsReply(), Style{}), "No snapshots found\n");
    EXPECT_EQ(render_snapshots(mayastor::ListReplicaSnapshotsReply(), Style{.verbosity = 0}), "");
}

}  // namespace
}  // namespace ms::client
