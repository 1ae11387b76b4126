// Sharing through the real gRPC C++ client, with a real NVMe-oF target on free ports:
// ShareReplica / CreateReplica with NVMF (URIs, idempotency, the stored share surviving a pool
// re-import, failure leaving nothing behind), PublishNexus / UnpublishNexus, ANA, and a nexus
// with a local and an nvmf:// child (data through our host, ListNvmeControllers, CreateSnapshot
// through the vendor command); and what a share protects: a shared device is claimed, so
// CreatePool, a nexus child or a second share of it is refused and nothing is written.
#include <filesystem>
#include <fstream>
#include <set>

#include "api/grpc/proto_convert.h"
#include "nexus_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

class NvmfShareTest : public NexusFixture {
   protected:
    void make_pool(const std::string& name, const std::string& disk) {
        mayastor::CreatePoolRequest req;
        req.set_name(name);
        req.add_disks(disk);
        auto [s, pool] = call(&Stub::CreatePool, *_mayastor, req);
        ASSERT_TRUE(s.ok()) << s.error_message();
    }
    std::pair<grpc::Status, mayastor::Replica> create_replica(
        const std::string& uuid, uint64_t size, mayastor::ShareProtocolReplica share = mayastor::REPLICA_NONE,
        const std::string& pool = "pool") {
        mayastor::CreateReplicaRequest req;
        req.set_uuid(uuid);
        req.set_pool(pool);
        req.set_size(size);
        req.set_share(share);
        return call(&Stub::CreateReplica, *_mayastor, req);
    }
    std::pair<grpc::Status, mayastor::ShareReplicaReply> share(const std::string& uuid,
                                                               mayastor::ShareProtocolReplica p) {
        mayastor::ShareReplicaRequest req;
        req.set_uuid(uuid);
        req.set_share(p);
        return call(&Stub::ShareReplica, *_mayastor, req);
    }
    std::pair<grpc::Status, mayastor::PublishNexusReply> publish(
        const std::string& uuid, mayastor::ShareProtocolNexus p = mayastor::NEXUS_NVMF,
        const std::string& key = "") {
        mayastor::PublishNexusRequest req;
        req.set_uuid(uuid);
        req.set_share(p);
        req.set_key(key);
        return call(&Stub::PublishNexus, *_mayastor, req);
    }
    grpc::Status unpublish(const std::string& uuid) {
        mayastor::UnpublishNexusRequest req;
        req.set_uuid(uuid);
        return call(&Stub::UnpublishNexus, *_mayastor, req).first;
    }
    std::pair<grpc::Status, mayastor::NvmeAnaState> get_ana(const std::string& uuid) {
        mayastor::GetNvmeAnaStateRequest req;
        req.set_uuid(uuid);
        auto [s, rep] = call(&Stub::GetNvmeAnaState, *_mayastor, req);
        return {s, rep.ana_state()};
    }
    grpc::Status set_ana(const std::string& uuid, int state) {
        mayastor::SetNvmeAnaStateRequest req;
        req.set_uuid(uuid);
        req.set_ana_state(static_cast<mayastor::NvmeAnaState>(state));
        return call(&Stub::SetNvmeAnaState, *_mayastor, req).first;
    }
    mayastor::ListReplicasReply replicas() {
        auto [s, rep] = call(&Stub::ListReplicas, *_mayastor, mayastor::Null());
        EXPECT_TRUE(s.ok()) << s.error_message();
        return rep;
    }
    lvs::ReplicaInfo info(const std::string& name) {
        auto r = _ctx->call_on_reactor([name] { return lvs::PoolRegistry::instance().get_replica(name); });
        EXPECT_TRUE(r) << name;
        return r ? *r : lvs::ReplicaInfo{};
    }
    std::string port() const { return std::to_string(_target->replica_port()); }
    std::string replica_nvmf_uri(const std::string& name) {
        return "nvmf://10.1.2.3:" + port() + "/nqn.2019-05.io.openebs:" + name +
               "?uuid=" + info(name).uuid.to_string();
    }
    bool shared(const std::string& device) const {
        return _target->has_subsystem("nqn.2019-05.io.openebs:" + device);
    }
};

TEST_F(NvmfShareTest, ShareReplicaNvmfAndNone) {
    make_pool("pool", "malloc:///disk?size_mb=64");
    auto [cs, r] = create_replica("r1", 8 * kMiB);
    ASSERT_TRUE(cs.ok()) << cs.error_message();
    std::string local = r.uri();

    auto [s1, nvmf] = share("r1", mayastor::REPLICA_NVMF);
    ASSERT_TRUE(s1.ok()) << s1.error_message();
    EXPECT_EQ(nvmf.uri(), replica_nvmf_uri("r1"));
    EXPECT_TRUE(shared("r1"));
    EXPECT_EQ(info("r1").share, lvs::ShareProtocol::Nvmf);
    auto [s2, again] = share("r1", mayastor::REPLICA_NVMF);  // idempotent
    ASSERT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(again.uri(), nvmf.uri());
    auto l = replicas();
    ASSERT_EQ(l.replicas_size(), 1);
    EXPECT_EQ(l.replicas(0).share(), mayastor::REPLICA_NVMF);
    EXPECT_EQ(l.replicas(0).uri(), nvmf.uri());
    EXPECT_EQ(share("r1", mayastor::REPLICA_ISCSI).first.error_code(), StatusCode::INTERNAL);
    EXPECT_TRUE(shared("r1"));  // an iSCSI request changes nothing

    auto [s3, none] = share("r1", mayastor::REPLICA_NONE);
    ASSERT_TRUE(s3.ok()) << s3.error_message();
    EXPECT_EQ(none.uri(), local);
    EXPECT_FALSE(shared("r1"));
    EXPECT_EQ(info("r1").share, lvs::ShareProtocol::None);
    EXPECT_EQ(share("unknown", mayastor::REPLICA_NVMF).first.error_code(), StatusCode::INTERNAL);

    // Destroying a shared replica unshares it first.
    ASSERT_TRUE(share("r1", mayastor::REPLICA_NVMF).first.ok());
    mayastor::DestroyReplicaRequest d;
    d.set_uuid("r1");
    auto [ds, unused] = call(&Stub::DestroyReplica, *_mayastor, d);
    ASSERT_TRUE(ds.ok()) << ds.error_message();
    EXPECT_FALSE(shared("r1"));
    EXPECT_EQ(replicas().replicas_size(), 0);
}

TEST_F(NvmfShareTest, CreateReplicaSharedAndItsFailureLeavesNothing) {
    make_pool("pool", "malloc:///disk?size_mb=64");
    auto [s, r] = create_replica("r1", 8 * kMiB, mayastor::REPLICA_NVMF);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(r.share(), mayastor::REPLICA_NVMF);
    EXPECT_EQ(r.uri(), replica_nvmf_uri("r1"));
    EXPECT_TRUE(shared("r1"));

    // The NQN r2 would get is taken by another device: sharing fails, no replica remains.
    auto other = _ctx->on_reactor([] { return create_device("malloc:///other?size_mb=8"); });
    ASSERT_TRUE(other) << other.error().message;
    nvmf::SubsystemSpec spec;
    spec.nqn = "nqn.2019-05.io.openebs:r2";
    spec.device = *other;
    ASSERT_TRUE(_target->add_subsystem(spec));
    auto [fs, failed] = create_replica("r2", 8 * kMiB, mayastor::REPLICA_NVMF);
    EXPECT_EQ(fs.error_code(), StatusCode::INTERNAL) << fs.error_message();
    auto l = replicas();
    ASSERT_EQ(l.replicas_size(), 1);
    EXPECT_EQ(l.replicas(0).uuid(), "r1");
    ASSERT_TRUE(_target->remove_subsystem("nqn.2019-05.io.openebs:r2"));
}

TEST_F(NvmfShareTest, DestroyPoolUnsharesItsReplicas) {
    make_pool("pool", "malloc:///disk?size_mb=64");
    ASSERT_TRUE(create_replica("r1", 8 * kMiB, mayastor::REPLICA_NVMF).first.ok());
    mayastor::DestroyPoolRequest req;
    req.set_name("pool");
    auto [s, unused] = call(&Stub::DestroyPool, *_mayastor, req);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(shared("r1"));
    EXPECT_EQ(replicas().replicas_size(), 0);
}

TEST_F(NvmfShareTest, ShareSurvivesAPoolReimport) {
    std::string path = _dir.file("disk.img");
    { std::ofstream f(path); }
    std::filesystem::resize_file(path, 64 << 20);
    make_pool("pool", "uring://" + path);
    ASSERT_TRUE(create_replica("r1", 8 * kMiB, mayastor::REPLICA_NVMF).first.ok());
    ASSERT_TRUE(create_replica("r2", 8 * kMiB).first.ok());
    std::string uri = replica_nvmf_uri("r1");
    // What a restart does: the shares end (the stored share stays), the pool is closed, then
    // imported again.
    _shares.unshare_all();
    EXPECT_FALSE(shared("r1"));
    Status exported = run_on(reactor(), [] { return lvs::PoolRegistry::instance().export_pool("pool"); });
    ASSERT_TRUE(exported) << exported.error().message;
    EXPECT_EQ(replicas().replicas_size(), 0);
    make_pool("pool", "uring://" + path);
    EXPECT_TRUE(shared("r1"));
    EXPECT_FALSE(shared("r2"));
    auto l = replicas();
    ASSERT_EQ(l.replicas_size(), 2);
    for (const auto& r : l.replicas()) {
        if (r.uuid() == "r1") {
            EXPECT_EQ(r.share(), mayastor::REPLICA_NVMF);
            EXPECT_EQ(r.uri(), uri);
        } else {
            EXPECT_EQ(r.share(), mayastor::REPLICA_NONE);
        }
    }
}

TEST_F(NvmfShareTest, PublishAndUnpublishNexus) {
    ASSERT_TRUE(create(kNexus1, 8 * kMiB, {"malloc:///m1?size_mb=16"}).first.ok());
    std::string expected = "nvmf://10.1.2.3:" + port() + "/nqn.2019-05.io.openebs:nexus-" + kNexus1;

    EXPECT_EQ(unpublish(kNexus1).error_code(), StatusCode::OK);  // not published: OK
    EXPECT_EQ(publish(kNexus1, mayastor::NEXUS_NVMF, "short").first.error_code(),
              StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(publish(kNexus2).first.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(publish("not-a-uuid").first.error_code(), StatusCode::INVALID_ARGUMENT);

    auto [s, rep] = publish(kNexus1, mayastor::NEXUS_NVMF, "0123456789abcdef");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rep.device_uri(), expected);
    EXPECT_EQ(get(kNexus1).device_uri(), expected);
    EXPECT_TRUE(shared(std::string("nexus-") + kNexus1));
    auto [s2, again] = publish(kNexus1);  // same protocol: OK, same URI
    ASSERT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(again.device_uri(), expected);
    EXPECT_EQ(publish(kNexus1, mayastor::NEXUS_NBD).first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(publish(kNexus1, mayastor::NEXUS_ISCSI).first.error_code(), StatusCode::INVALID_ARGUMENT);

    EXPECT_TRUE(unpublish(kNexus1).ok());
    EXPECT_EQ(get(kNexus1).device_uri(), "");
    EXPECT_FALSE(shared(std::string("nexus-") + kNexus1));
    EXPECT_TRUE(unpublish(kNexus1).ok());
    EXPECT_EQ(unpublish(kNexus2).error_code(), StatusCode::NOT_FOUND);

    // Destroyed while published: unpublished implicitly.
    ASSERT_TRUE(publish(kNexus1).first.ok());
    EXPECT_TRUE(destroy(kNexus1).ok());
    EXPECT_FALSE(shared(std::string("nexus-") + kNexus1));
    EXPECT_EQ(list().nexus_list_size(), 0);
}

TEST_F(NvmfShareTest, AnaStateOfAPublishedNexus) {
    ASSERT_TRUE(create(kNexus1, 8 * kMiB, {"malloc:///m1?size_mb=16"}).first.ok());
    EXPECT_EQ(get_ana(kNexus1).first.error_code(), StatusCode::INVALID_ARGUMENT);  // not published
    EXPECT_EQ(set_ana(kNexus1, mayastor::NVME_ANA_OPTIMIZED_STATE).error_code(),
              StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(get_ana(kNexus2).first.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(set_ana(kNexus2, mayastor::NVME_ANA_OPTIMIZED_STATE).error_code(), StatusCode::NOT_FOUND);

    ASSERT_TRUE(publish(kNexus1).first.ok());
    auto [g1, state] = get_ana(kNexus1);
    ASSERT_TRUE(g1.ok()) << g1.error_message();
    EXPECT_EQ(state, mayastor::NVME_ANA_OPTIMIZED_STATE);
    std::string nqn = std::string("nqn.2019-05.io.openebs:nexus-") + kNexus1;
    for (auto [wire, internal] :
         {std::pair{mayastor::NVME_ANA_NON_OPTIMIZED_STATE, nvme::AnaState::NonOptimized},
          std::pair{mayastor::NVME_ANA_INACCESSIBLE_STATE, nvme::AnaState::Inaccessible},
          std::pair{mayastor::NVME_ANA_OPTIMIZED_STATE, nvme::AnaState::Optimized}}) {
        ASSERT_TRUE(set_ana(kNexus1, wire).ok()) << wire;
        EXPECT_EQ(get_ana(kNexus1).second, wire);
        auto t = _target->ana_state(nqn);
        ASSERT_TRUE(t);
        EXPECT_EQ(*t, internal);
    }
    for (int bad : {int{mayastor::NVME_ANA_INVALID_STATE}, int{mayastor::NVME_ANA_PERSISTENT_LOSS_STATE},
                    int{mayastor::NVME_ANA_CHANGE_STATE}, 9}) {
        EXPECT_EQ(set_ana(kNexus1, bad).error_code(), StatusCode::INVALID_ARGUMENT) << bad;
    }
    EXPECT_EQ(get_ana(kNexus1).second, mayastor::NVME_ANA_OPTIMIZED_STATE);
}

// A nexus over a local replica and a replica reached over NVMe-oF (exported by this process's
// target, read by our host): data reaches both, the controller is listed, and a nexus
// snapshot snapshots both (the remote one through the vendor admin command).
TEST_F(NvmfShareTest, NexusWithAnNvmfChild) {
    make_pool("pool", "malloc:///disk?size_mb=64");
    ASSERT_TRUE(create_replica("r1", 16 * kMiB).first.ok());
    ASSERT_TRUE(create_replica("r2", 16 * kMiB, mayastor::REPLICA_NVMF).first.ok());
    std::string remote = "nvmf://127.0.0.1:" + port() + "/nqn.2019-05.io.openebs:r2";
    auto [cs, n] = create(kNexus1, 8 * kMiB, {"bdev:///r1", remote});
    ASSERT_TRUE(cs.ok()) << cs.error_message();
    EXPECT_EQ(n.state(), mayastor::NEXUS_ONLINE);

    auto [ls, controllers] = call(&Stub::ListNvmeControllers, *_mayastor, mayastor::Null());
    ASSERT_TRUE(ls.ok()) << ls.error_message();
    ASSERT_EQ(controllers.controllers_size(), 1);
    EXPECT_EQ(controllers.controllers(0).name(), "127.0.0.1:" + port() + "/nqn.2019-05.io.openebs:r2n1");
    EXPECT_EQ(controllers.controllers(0).state(), mayastor::RUNNING);
    EXPECT_EQ(controllers.controllers(0).size(), 16 * kMiB);
    EXPECT_EQ(controllers.controllers(0).blk_size(), 512u);

    std::string nexus_dev = std::string("nexus-") + kNexus1;
    auto data = pattern(256 * 1024, 3);
    write(nexus_dev, 0, data);
    EXPECT_EQ(read(nexus_dev, 0, data.size()), data);
    // The nexus keeps its data after its own label area: compare the children with each other.
    EXPECT_TRUE(same_data("r1", "r2", 16 * kMiB));

    mayastor::CreateSnapshotRequest snap;
    snap.set_uuid(kNexus1);
    auto [ss, reply] = call(&Stub::CreateSnapshot, *_mayastor, snap);
    ASSERT_TRUE(ss.ok()) << ss.error_message();
    std::string prefix = nexus_dev + "-snap-";
    ASSERT_EQ(reply.name().rfind(prefix, 0), 0u) << reply.name();
    std::string secs = reply.name().substr(prefix.size());
    auto [ps, snaps] = call(&Stub::ListReplicaSnapshots, *_mayastor, mayastor::Null());
    ASSERT_TRUE(ps.ok()) << ps.error_message();
    std::set<std::string> names;
    for (const auto& s : snaps.snapshots()) {
        names.insert(s.name());
    }
    EXPECT_TRUE(names.contains("r1-snap-" + secs)) << reply.name();
    EXPECT_TRUE(names.contains("r2-snap-" + secs)) << reply.name();

    EXPECT_TRUE(destroy(kNexus1).ok());
}

// The three overwrites of issue 11, each refused with nothing changed: a pool made on a
// published nexus, a nexus made over a shared replica, a pool made on a device shared by
// BdevRpc.Share. The data a host wrote through the export is still there afterwards.
TEST_F(NvmfShareTest, PoolOnAPublishedNexusIsRefused) {
    ASSERT_TRUE(create(kNexus1, 8 * kMiB, {"malloc:///m1?size_mb=16"}).first.ok());
    std::string nexus_dev = std::string("nexus-") + kNexus1;
    auto data = pattern(64 * 1024, 7);
    write(nexus_dev, 0, data);  // what a host would have written through the export
    ASSERT_TRUE(publish(kNexus1).first.ok());
    mayastor::CreatePoolRequest req;
    req.set_name("p1");
    req.add_disks("bdev:///" + nexus_dev);
    auto [s, pool] = call(&Stub::CreatePool, *_mayastor, req);
    EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_NE(s.error_message().find("nvmf share"), std::string::npos) << s.error_message();
    auto [ls, pools] = call(&Stub::ListPools, *_mayastor, mayastor::Null());
    ASSERT_TRUE(ls.ok());
    EXPECT_EQ(pools.pools_size(), 0);
    EXPECT_EQ(read(nexus_dev, 0, data.size()), data);
    // Unpublished, the nexus is free again (and a pool may then be made on it knowingly).
    ASSERT_TRUE(unpublish(kNexus1).ok());
    EXPECT_TRUE(call(&Stub::CreatePool, *_mayastor, req).first.ok());
    // The pool goes before the nexus it stands on (the fixture destroys nexuses first).
    mayastor::DestroyPoolRequest d;
    d.set_name("p1");
    EXPECT_TRUE(call(&Stub::DestroyPool, *_mayastor, d).first.ok());
}

TEST_F(NvmfShareTest, NexusOverASharedReplicaIsRefused) {
    make_pool("pool", "malloc:///disk?size_mb=64");
    ASSERT_TRUE(create_replica("r1", 8 * kMiB).first.ok());
    auto data = pattern(64 * 1024, 9);
    write("r1", 0, data);
    ASSERT_TRUE(share("r1", mayastor::REPLICA_NVMF).first.ok());
    auto [s, n] = create(kNexus1, 4 * kMiB, {"bdev:///r1"});
    // Nor may anyone else write it (a diagnostic write goes through a read-write descriptor).
    auto w = json_call("bdev_write", {{"name", "r1"}, {"offset", 0}, {"pattern", 1}, {"length", 4096}});
    ASSERT_TRUE(w);
    EXPECT_FALSE(*w);
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << s.error_message();  // the sheet's code
    EXPECT_NE(s.error_message().find("claimed"), std::string::npos) << s.error_message();
    EXPECT_EQ(list().nexus_list_size(), 0);
    EXPECT_EQ(read("r1", 0, data.size()), data);
    EXPECT_TRUE(shared("r1"));
    // A second share of it over another protocol is refused too.
    mayastor::BdevShareRequest b;
    b.set_name("r1");
    b.set_proto("nbd");
    auto [bs, unused] = call(&mayastor::BdevRpc::Stub::Share, *_bdev, b);
    EXPECT_NE(bs.error_code(), StatusCode::OK);
    EXPECT_TRUE(shared("r1"));
}

TEST_F(NvmfShareTest, PoolOnADeviceSharedByBdevRpcIsRefused) {
    auto dev = _ctx->on_reactor([] { return create_device("malloc:///m0?size_mb=16"); });
    ASSERT_TRUE(dev) << dev.error().message;
    auto data = pattern(64 * 1024, 5);
    write("m0", 0, data);
    mayastor::BdevShareRequest b;
    b.set_name("m0");
    b.set_proto("nvmf");
    auto [bs, shared_at] = call(&mayastor::BdevRpc::Stub::Share, *_bdev, b);
    ASSERT_TRUE(bs.ok()) << bs.error_message();
    for (std::string disk : {"malloc:///m0?size_mb=16", "bdev:///m0"}) {
        mayastor::CreatePoolRequest req;
        req.set_name("p1");
        req.add_disks(disk);
        auto [s, pool] = call(&Stub::CreatePool, *_mayastor, req);
        EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << disk << ": " << s.error_message();
    }
    EXPECT_EQ(read("m0", 0, data.size()), data);
    auto [ls, bdevs] = call(&mayastor::BdevRpc::Stub::List, *_bdev, mayastor::Null());
    ASSERT_TRUE(ls.ok());
    bool found = false;
    for (const auto& d : bdevs.bdevs()) {
        if (d.name() == "m0") {
            found = true;
            EXPECT_EQ(d.claimed_by(), "nvmf share");
            EXPECT_EQ(d.share_uri(), shared_at.uri());
        }
    }
    EXPECT_TRUE(found);
}

}  // namespace
}  // namespace ms::api::test
