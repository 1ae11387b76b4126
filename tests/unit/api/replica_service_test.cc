// Mayastor replica RPCs through the real gRPC C++ client: status codes, idempotency, thin
// replicas, URIs, stats and the share state.
#include <fstream>
#include <thread>

#include "api/jsonrpc/base64.h"
#include "api_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;
constexpr uint64_t kMiB = 1 << 20;

class ReplicaServiceTest : public ApiFixture {
   protected:
    void SetUp() override {
        ApiFixture::SetUp();
        mayastor::CreatePoolRequest req;
        req.set_name("pool");
        req.add_disks("malloc:///disk?size_mb=100");
        auto [s, pool] = call(&mayastor::Mayastor::Stub::CreatePool, *_mayastor, req);
        ASSERT_TRUE(s.ok()) << s.error_message();
    }
    std::pair<grpc::Status, mayastor::Replica> create(
        const std::string& uuid, uint64_t size, bool thin = false,
        mayastor::ShareProtocolReplica share = mayastor::REPLICA_NONE, const std::string& pool = "pool") {
        mayastor::CreateReplicaRequest req;
        req.set_uuid(uuid);
        req.set_pool(pool);
        req.set_size(size);
        req.set_thin(thin);
        req.set_share(share);
        return call(&mayastor::Mayastor::Stub::CreateReplica, *_mayastor, req);
    }
    grpc::Status destroy(const std::string& uuid) {
        mayastor::DestroyReplicaRequest req;
        req.set_uuid(uuid);
        return call(&mayastor::Mayastor::Stub::DestroyReplica, *_mayastor, req).first;
    }
    mayastor::ListReplicasReply list() {
        auto [s, rep] = call(&mayastor::Mayastor::Stub::ListReplicas, *_mayastor, mayastor::Null());
        EXPECT_TRUE(s.ok()) << s.error_message();
        return rep;
    }
    std::pair<grpc::Status, mayastor::ShareReplicaReply> share(const std::string& uuid,
                                                               mayastor::ShareProtocolReplica p) {
        mayastor::ShareReplicaRequest req;
        req.set_uuid(uuid);
        req.set_share(p);
        return call(&mayastor::Mayastor::Stub::ShareReplica, *_mayastor, req);
    }
    uint64_t pool_used() {
        auto [s, rep] = call(&mayastor::Mayastor::Stub::ListPools, *_mayastor, mayastor::Null());
        return rep.pools(0).used();
    }
    lvs::ReplicaInfo info(const std::string& name) {
        auto r = _ctx->call_on_reactor([name] { return lvs::PoolRegistry::instance().get_replica(name); });
        EXPECT_TRUE(r);
        return r ? *r : lvs::ReplicaInfo{};
    }
};

TEST_F(ReplicaServiceTest, CreateListDestroy) {
    auto [s, r] = create("r1", 10 * kMiB);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.uuid(), "r1");
    EXPECT_EQ(r.pool(), "pool");
    EXPECT_EQ(r.size(), 10 * kMiB);
    EXPECT_FALSE(r.thin());
    EXPECT_EQ(r.share(), mayastor::REPLICA_NONE);
    EXPECT_EQ(r.uri(), "bdev:///r1?uuid=" + info("r1").uuid.to_string());
    EXPECT_EQ(pool_used(), 12 * kMiB);  // thick: three 4 MiB clusters now

    auto l = list();
    ASSERT_EQ(l.replicas_size(), 1);
    EXPECT_EQ(l.replicas(0).uri(), r.uri());

    EXPECT_TRUE(destroy("r1").ok());
    EXPECT_EQ(list().replicas_size(), 0);
    EXPECT_EQ(pool_used(), 0u);
}

TEST_F(ReplicaServiceTest, ThinIsHonouredAndReported) {
    auto [s, r] = create("t1", 1000 * kMiB, true);  // larger than the pool
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(r.thin());
    EXPECT_EQ(r.size(), 1000 * kMiB);
    EXPECT_EQ(pool_used(), 0u);
    EXPECT_TRUE(list().replicas(0).thin());
}

TEST_F(ReplicaServiceTest, ExistingUuidIsReturnedUnchanged) {
    auto [s, r] = create("r1", 8 * kMiB);
    ASSERT_TRUE(s.ok());
    // Other size, thin, share and even another pool: the existing replica, unchanged.
    auto [s2, again] = create("r1", 16 * kMiB, true, mayastor::REPLICA_NVMF, "other-pool");
    ASSERT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(again.SerializeAsString(), r.SerializeAsString());
    EXPECT_EQ(list().replicas_size(), 1);
}

TEST_F(ReplicaServiceTest, CreateErrors) {
    EXPECT_EQ(create("r1", 8 * kMiB, false, mayastor::REPLICA_NONE, "no-pool").first.error_code(),
              StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(create("r1", 8 * kMiB, false, mayastor::REPLICA_ISCSI).first.error_code(),
              StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(
        create("r1", 8 * kMiB, false, static_cast<mayastor::ShareProtocolReplica>(7)).first.error_code(),
        StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(create("r1", 200 * kMiB).first.error_code(), StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(create("r1", 0).first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(create("r1", 1000).first.error_code(), StatusCode::INVALID_ARGUMENT);  // not whole blocks
    EXPECT_EQ(create("", kMiB).first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(list().replicas_size(), 0);
    EXPECT_EQ(pool_used(), 0u);
}

TEST_F(ReplicaServiceTest, DestroyUnknownIsOk) {
    EXPECT_TRUE(destroy("never-existed").ok());
}

TEST_F(ReplicaServiceTest, ShareReplica) {
    auto [s, r] = create("r1", 8 * kMiB);
    ASSERT_TRUE(s.ok());
    auto [s1, none] = share("r1", mayastor::REPLICA_NONE);
    ASSERT_TRUE(s1.ok()) << s1.error_message();
    EXPECT_EQ(none.uri(), r.uri());
    auto [s2, again] = share("r1", mayastor::REPLICA_NONE);  // idempotent
    ASSERT_TRUE(s2.ok());
    EXPECT_EQ(again.uri(), r.uri());
    EXPECT_EQ(share("r1", mayastor::REPLICA_ISCSI).first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(share("unknown", mayastor::REPLICA_NONE).first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(share("r1", static_cast<mayastor::ShareProtocolReplica>(9)).first.error_code(),
              StatusCode::INVALID_ARGUMENT);
}

TEST_F(ReplicaServiceTest, UnsharingPersistsTheShareState) {
    ASSERT_TRUE(create("r1", 8 * kMiB).first.ok());
    // A replica left shared over NVMe-oF by an earlier version of the daemon.
    Status s = _ctx->on_reactor(
        [] { return lvs::PoolRegistry::instance().set_share("r1", lvs::ShareProtocol::Nvmf); });
    ASSERT_TRUE(s) << s.error().message;
    // Listed as it is exported now (not at all), not as stored.
    auto l = list();
    EXPECT_EQ(l.replicas(0).share(), mayastor::REPLICA_NONE);
    EXPECT_EQ(l.replicas(0).uri().rfind("bdev:///r1?uuid=", 0), 0u) << l.replicas(0).uri();
    auto [s2, rep] = share("r1", mayastor::REPLICA_NONE);
    ASSERT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(rep.uri().rfind("bdev:///r1?uuid=", 0), 0u);
    EXPECT_EQ(info("r1").share, lvs::ShareProtocol::None);
}

TEST_F(ReplicaServiceTest, ShareStateSurvivesReimport) {
    std::string path = _dir.file("disk.img");
    { std::ofstream f(path); }
    std::filesystem::resize_file(path, 64 << 20);
    mayastor::CreatePoolRequest pool;
    pool.set_name("fpool");
    pool.add_disks("uring://" + path);
    auto reimport = [&] {
        run_on(reactor(), [] { return lvs::PoolRegistry::instance().export_pool("fpool"); });
        auto [s, p] = call(&mayastor::Mayastor::Stub::CreatePool, *_mayastor, pool);
        ASSERT_TRUE(s.ok()) << s.error_message();
    };
    ASSERT_TRUE(call(&mayastor::Mayastor::Stub::CreatePool, *_mayastor, pool).first.ok());
    ASSERT_TRUE(create("f1", 4 * kMiB, true, mayastor::REPLICA_NONE, "fpool").first.ok());
    Status s = _ctx->on_reactor(
        [] { return lvs::PoolRegistry::instance().set_share("f1", lvs::ShareProtocol::Nvmf); });
    ASSERT_TRUE(s) << s.error().message;
    reimport();
    EXPECT_EQ(info("f1").share, lvs::ShareProtocol::Nvmf);
    EXPECT_TRUE(info("f1").thin);
    ASSERT_TRUE(share("f1", mayastor::REPLICA_NONE).first.ok());
    reimport();
    EXPECT_EQ(info("f1").share, lvs::ShareProtocol::None);
}

TEST_F(ReplicaServiceTest, StatsCountIo) {
    ASSERT_TRUE(create("r1", 8 * kMiB).first.ok());
    auto w = json_call("bdev_write", {{"name", "r1"}, {"offset", 0}, {"pattern", 7}, {"length", 8192}});
    ASSERT_TRUE(w && *w) << (w ? (*w ? "" : w->error().message) : w.error().message);
    auto r = json_call("bdev_read", {{"name", "r1"}, {"offset", 0}, {"length", 4096}});
    ASSERT_TRUE(r && *r);
    auto [s, stats] = call(&mayastor::Mayastor::Stub::StatReplicas, *_mayastor, mayastor::Null());
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(stats.replicas_size(), 1);
    EXPECT_EQ(stats.replicas(0).uuid(), "r1");
    EXPECT_EQ(stats.replicas(0).pool(), "pool");
    ASSERT_TRUE(stats.replicas(0).has_stats());
    EXPECT_EQ(stats.replicas(0).stats().num_write_ops(), 1u);
    EXPECT_EQ(stats.replicas(0).stats().bytes_written(), 8192u);
    EXPECT_EQ(stats.replicas(0).stats().num_read_ops(), 1u);
    EXPECT_EQ(stats.replicas(0).stats().bytes_read(), 4096u);
}

TEST_F(ReplicaServiceTest, NewReplicaReadsZerosThroughJsonRpc) {
    ASSERT_TRUE(create("r1", 8 * kMiB).first.ok());
    auto r = json_call("bdev_read", {{"name", "r1"}, {"offset", 4 * kMiB}, {"length", 4096}});
    ASSERT_TRUE(r && *r);
    EXPECT_EQ(base64_decode((*r)->get<std::string>()).value(), std::vector<uint8_t>(4096, 0));
    // A replica device belongs to its pool: BdevRpc and bdev_destroy refuse it.
    mayastor::BdevUri req;
    req.set_uri("r1");
    EXPECT_EQ(call(&mayastor::BdevRpc::Stub::Destroy, *_bdev, req).first.error_code(), StatusCode::INTERNAL);
    auto d = json_call("bdev_destroy", {{"name", "r1"}});
    ASSERT_TRUE(d && !*d);
    EXPECT_EQ(d->error().code, -EBUSY);
    auto rl = json_call("replica_list");
    ASSERT_TRUE(rl && *rl);
    ASSERT_EQ((*rl)->size(), 1u);
    EXPECT_EQ((**rl)[0]["uuid"], "r1");
    EXPECT_EQ((**rl)[0]["kind"], "replica");
    auto pl = json_call("pool_list");
    ASSERT_TRUE(pl && *pl);
    EXPECT_EQ((**pl)[0]["name"], "pool");
    EXPECT_EQ((**pl)[0]["used"], 8 * kMiB);
}

}  // namespace
}  // namespace ms::api::test
