// The extension RPCs: replica snapshots and clones.
#include "api/jsonrpc/base64.h"
#include "api_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;
constexpr uint64_t kMiB = 1 << 20;

class SnapshotServiceTest : public ApiFixture {
   protected:
    void SetUp() override {
        ApiFixture::SetUp();
        mayastor::CreatePoolRequest pool;
        pool.set_name("pool");
        pool.add_disks("malloc:///disk?size_mb=100");
        ASSERT_TRUE(call(&mayastor::Mayastor::Stub::CreatePool, *_mayastor, pool).first.ok());
        mayastor::CreateReplicaRequest r;
        r.set_uuid("r1");
        r.set_pool("pool");
        r.set_size(8 * kMiB);
        ASSERT_TRUE(call(&mayastor::Mayastor::Stub::CreateReplica, *_mayastor, r).first.ok());
    }
    std::pair<grpc::Status, mayastor::ReplicaSnapshot> snapshot(const std::string& replica,
                                                                const std::string& name) {
        mayastor::CreateReplicaSnapshotRequest req;
        req.set_replica(replica);
        req.set_name(name);
        return call(&mayastor::Mayastor::Stub::CreateReplicaSnapshot, *_mayastor, req);
    }
    grpc::Status destroy_snapshot(const std::string& name) {
        mayastor::DestroyReplicaSnapshotRequest req;
        req.set_name(name);
        return call(&mayastor::Mayastor::Stub::DestroyReplicaSnapshot, *_mayastor, req).first;
    }
    std::pair<grpc::Status, mayastor::Replica> clone(
        const std::string& snapshot, const std::string& uuid,
        mayastor::ShareProtocolReplica share = mayastor::REPLICA_NONE) {
        mayastor::CreateReplicaCloneRequest req;
        req.set_snapshot(snapshot);
        req.set_uuid(uuid);
        req.set_share(share);
        return call(&mayastor::Mayastor::Stub::CreateReplicaClone, *_mayastor, req);
    }
    mayastor::ListReplicaSnapshotsReply snapshots() {
        auto [s, rep] = call(&mayastor::Mayastor::Stub::ListReplicaSnapshots, *_mayastor, mayastor::Null());
        EXPECT_TRUE(s.ok()) << s.error_message();
        return rep;
    }
    void write(const std::string& name, int pattern) {
        auto r =
            json_call("bdev_write", {{"name", name}, {"offset", 0}, {"pattern", pattern}, {"length", 4096}});
        ASSERT_TRUE(r && *r) << (r ? (*r ? "" : r->error().message) : r.error().message);
    }
    uint8_t first_byte(const std::string& name) {
        auto r = json_call("bdev_read", {{"name", name}, {"offset", 0}, {"length", 4096}});
        EXPECT_TRUE(r && *r);
        return (r && *r) ? base64_decode((*r)->get<std::string>()).value()[0] : 0;
    }
};

TEST_F(SnapshotServiceTest, SnapshotCloneAndData) {
    write("r1", 1);
    auto [s, snap] = snapshot("r1", "s1");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(snap.name(), "s1");
    EXPECT_EQ(snap.replica(), "r1");
    EXPECT_EQ(snap.pool(), "pool");
    EXPECT_EQ(snap.size(), 8 * kMiB);
    EXPECT_EQ(snap.uuid().size(), 36u);
    EXPECT_GT(snap.timestamp(), 0u);
    write("r1", 2);  // after the snapshot

    auto [cs, c] = clone("s1", "c1");
    ASSERT_TRUE(cs.ok()) << cs.error_message();
    EXPECT_EQ(c.uuid(), "c1");
    EXPECT_TRUE(c.thin());
    EXPECT_EQ(c.size(), 8 * kMiB);
    EXPECT_EQ(c.uri().rfind("bdev:///c1?uuid=", 0), 0u);
    EXPECT_EQ(first_byte("c1"), 1);
    EXPECT_EQ(first_byte("r1"), 2);

    // Clones are listed with replicas; snapshots are not (ListReplicaSnapshots has them).
    auto [ls, list] = call(&mayastor::Mayastor::Stub::ListReplicas, *_mayastor, mayastor::Null());
    ASSERT_EQ(list.replicas_size(), 2);
    auto snaps = snapshots();
    ASSERT_EQ(snaps.snapshots_size(), 1);
    EXPECT_EQ(snaps.snapshots(0).name(), "s1");
    ASSERT_EQ(snaps.snapshots(0).clones_size(), 1);
    EXPECT_EQ(snaps.snapshots(0).clones(0), "c1");

    // A snapshot with clones cannot go.
    EXPECT_EQ(destroy_snapshot("s1").error_code(), StatusCode::FAILED_PRECONDITION);
    mayastor::DestroyReplicaRequest d;
    d.set_uuid("c1");
    ASSERT_TRUE(call(&mayastor::Mayastor::Stub::DestroyReplica, *_mayastor, d).first.ok());
    EXPECT_TRUE(destroy_snapshot("s1").ok());
    EXPECT_EQ(snapshots().snapshots_size(), 0);
    EXPECT_EQ(first_byte("r1"), 2);
}

TEST_F(SnapshotServiceTest, IdempotencyAndErrors) {
    ASSERT_TRUE(snapshot("r1", "s1").first.ok());
    auto [s, again] = snapshot("r1", "s1");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(again.name(), "s1");
    EXPECT_EQ(snapshot("nope", "s2").first.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(snapshot("r1", "r1").first.error_code(), StatusCode::ALREADY_EXISTS);
    EXPECT_EQ(snapshot("", "s3").first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(snapshot("s1", "s4").first.error_code(), StatusCode::INVALID_ARGUMENT);  // of a snapshot
    EXPECT_TRUE(destroy_snapshot("never-existed").ok());

    ASSERT_TRUE(clone("s1", "c1").first.ok());
    auto [cs, c] = clone("s1", "c1", mayastor::REPLICA_NVMF);  // existing: returned as is
    ASSERT_TRUE(cs.ok()) << cs.error_message();
    EXPECT_EQ(c.uuid(), "c1");
    EXPECT_EQ(clone("nope", "c2").first.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(clone("s1", "r1").first.error_code(), StatusCode::ALREADY_EXISTS);
    auto [c3s, c3] = clone("s1", "c3", mayastor::REPLICA_NVMF);
    ASSERT_TRUE(c3s.ok()) << c3s.error_message();
    EXPECT_EQ(c3.share(), mayastor::REPLICA_NVMF);
    EXPECT_EQ(
        c3.uri().rfind(
            fmt::format("nvmf://10.1.2.3:{}/nqn.2019-05.io.openebs:c3?uuid=", _target->replica_port()), 0),
        0u)
        << c3.uri();
    EXPECT_TRUE(_target->has_subsystem("nqn.2019-05.io.openebs:c3"));
    EXPECT_EQ(clone("s1", "c3", mayastor::REPLICA_ISCSI).first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(clone("s1", "").first.error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(SnapshotServiceTest, SnapshotNamesAreNotReplicas) {
    ASSERT_TRUE(snapshot("r1", "s1").first.ok());
    mayastor::CreateReplicaRequest r;
    r.set_uuid("s1");
    r.set_pool("pool");
    r.set_size(kMiB);
    auto [cs, created] = call(&mayastor::Mayastor::Stub::CreateReplica, *_mayastor, r);
    EXPECT_EQ(cs.error_code(), StatusCode::ALREADY_EXISTS) << cs.error_message();
    mayastor::DestroyReplicaRequest d;
    d.set_uuid("s1");
    auto ds = call(&mayastor::Mayastor::Stub::DestroyReplica, *_mayastor, d).first;
    EXPECT_EQ(ds.error_code(), StatusCode::INVALID_ARGUMENT) << ds.error_message();
    EXPECT_EQ(snapshots().snapshots_size(), 1);
    mayastor::ShareReplicaRequest sh;
    sh.set_uuid("s1");
    EXPECT_EQ(call(&mayastor::Mayastor::Stub::ShareReplica, *_mayastor, sh).first.error_code(),
              StatusCode::INTERNAL);
}

TEST_F(SnapshotServiceTest, DefaultNameCarriesTheTime) {
    auto [s, snap] = snapshot("r1", "");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(snap.name().rfind("r1-snap-", 0), 0u) << snap.name();
}

}  // namespace
}  // namespace ms::api::test
