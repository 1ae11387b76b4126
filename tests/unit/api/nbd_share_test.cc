// Sharing over NBD through the real gRPC C++ client, with a real NBD server on a free port:
// BdevRpc.Share with proto "nbd" (our extension: nbd://IP:PORT/NAME), the data reached through
// an nbd:// device (libnbd) at that address, the share stored on a replica and restored at
// import, a second protocol refused, PublishNexus over NBD without a kernel driver refused with
// a clear error and nothing changed, and the NBD server's export of a published nexus listed
// by ListNexus.
#include <filesystem>
#include <fstream>

#include "nexus_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

class NbdShareTest : public NexusFixture {
   protected:
    std::pair<grpc::Status, mayastor::BdevShareReply> bdev_share(const std::string& name,
                                                                 const std::string& proto) {
        mayastor::BdevShareRequest req;
        req.set_name(name);
        req.set_proto(proto);
        return call(&mayastor::BdevRpc::Stub::Share, *_bdev, req);
    }
    grpc::Status bdev_unshare(const std::string& name) {
        mayastor::CreateReply req;
        req.set_name(name);
        return call(&mayastor::BdevRpc::Stub::Unshare, *_bdev, req).first;
    }
    std::string nbd_uri(const std::string& name) const {
        return "nbd://10.1.2.3:" + std::to_string(_nbd->port()) + "/" + name;
    }
    // The export at the server's real address, as another node's nbd:// child would reach it.
    std::string local_nbd_uri(const std::string& name) const {
        return "nbd://127.0.0.1:" + std::to_string(_nbd->port()) + "/" + name;
    }
    void make_pool(const std::string& disk) {
        mayastor::CreatePoolRequest req;
        req.set_name("pool");
        req.add_disks(disk);
        auto [s, pool] = call(&Stub::CreatePool, *_mayastor, req);
        ASSERT_TRUE(s.ok()) << s.error_message();
    }
    void make_replica(const std::string& name) {
        mayastor::CreateReplicaRequest req;
        req.set_uuid(name);
        req.set_pool("pool");
        req.set_size(8 * kMiB);
        auto [s, r] = call(&Stub::CreateReplica, *_mayastor, req);
        ASSERT_TRUE(s.ok()) << s.error_message();
    }
    lvs::ReplicaInfo info(const std::string& name) {
        auto r = _ctx->call_on_reactor([name] { return lvs::PoolRegistry::instance().get_replica(name); });
        EXPECT_TRUE(r) << name;
        return r ? *r : lvs::ReplicaInfo{};
    }
};

TEST_F(NbdShareTest, BdevShareOverNbdCarriesData) {
    auto dev = _ctx->on_reactor([] { return create_device("malloc:///m0?size_mb=16"); });
    ASSERT_TRUE(dev) << dev.error().message;
    auto data = pattern(128 * 1024, 11);
    write("m0", 4096, data);
    auto [s, rep] = bdev_share("m0", "nbd");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rep.uri(), nbd_uri("m0"));
    auto [again, rep2] = bdev_share("m0", "nbd");  // idempotent
    ASSERT_TRUE(again.ok()) << again.error_message();
    EXPECT_EQ(rep2.uri(), rep.uri());
    // Another protocol while shared over NBD: refused, the NBD share stays.
    auto [other, unused] = bdev_share("m0", "nvmf");
    EXPECT_EQ(other.error_code(), StatusCode::FAILED_PRECONDITION) << other.error_message();
    EXPECT_NE(other.error_message().find("nbd"), std::string::npos) << other.error_message();

    // Through the export: an nbd:// device (libnbd) at the server's address.
    std::string uri = local_nbd_uri("m0");
    auto client = _ctx->on_reactor([uri] { return create_bdev(uri); });
    ASSERT_TRUE(client) << client.error().message;
    EXPECT_EQ(read(*client, 4096, data.size()), data);
    auto more = pattern(64 * 1024, 12);
    write(*client, 1 << 20, more);
    Status gone = _ctx->on_reactor([uri] { return destroy_bdev(uri); });
    ASSERT_TRUE(gone) << gone.error().message;
    EXPECT_EQ(read("m0", 1 << 20, more.size()), more);

    auto [ls, bdevs] = call(&mayastor::BdevRpc::Stub::List, *_bdev, mayastor::Null());
    ASSERT_TRUE(ls.ok());
    ASSERT_EQ(bdevs.bdevs_size(), 1);
    EXPECT_EQ(bdevs.bdevs(0).share_uri(), nbd_uri("m0"));
    EXPECT_EQ(bdevs.bdevs(0).claimed_by(), "nbd share");

    ASSERT_TRUE(bdev_unshare("m0").ok());
    auto [ls2, after] = call(&mayastor::BdevRpc::Stub::List, *_bdev, mayastor::Null());
    ASSERT_TRUE(ls2.ok());
    EXPECT_EQ(after.bdevs(0).share_uri(), "bdev:///m0");
    EXPECT_EQ(after.bdevs(0).claimed_by(), "Orphaned");
    // Unshared: the export is gone for new clients.
    auto refused = _ctx->on_reactor([uri] { return create_bdev(uri); });
    EXPECT_FALSE(refused);
}

TEST_F(NbdShareTest, ReplicaShareOverNbdIsStoredAndRestored) {
    std::string path = _dir.file("disk.img");
    { std::ofstream f(path); }
    std::filesystem::resize_file(path, 64 << 20);
    make_pool("uring://" + path);
    make_replica("r1");
    auto [s, rep] = bdev_share("r1", "nbd");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rep.uri(), nbd_uri("r1"));
    EXPECT_EQ(info("r1").share, lvs::ShareProtocol::Nbd);
    auto [ls, listed] = call(&Stub::ListReplicas, *_mayastor, mayastor::Null());
    ASSERT_TRUE(ls.ok());
    ASSERT_EQ(listed.replicas_size(), 1);
    EXPECT_EQ(listed.replicas(0).uri(), nbd_uri("r1") + "?uuid=" + info("r1").uuid.to_string());

    // A restart: the shares end (the stored share stays), the pool is closed and imported.
    _shares.unshare_all();
    Status exported = run_on(reactor(), [] { return lvs::PoolRegistry::instance().export_pool("pool"); });
    ASSERT_TRUE(exported) << exported.error().message;
    make_pool("uring://" + path);
    auto share = _shares.find("r1");
    ASSERT_TRUE(share);
    EXPECT_EQ(share->protocol, "nbd");
    EXPECT_EQ(share->uri, nbd_uri("r1"));

    // ShareReplica NVMF moves it from NBD to NVMe-oF; NONE unshares and clears the stored share.
    mayastor::ShareReplicaRequest req;
    req.set_uuid("r1");
    req.set_share(mayastor::REPLICA_NVMF);
    auto [s2, moved] = call(&Stub::ShareReplica, *_mayastor, req);
    ASSERT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(moved.uri().rfind("nvmf://", 0), 0u) << moved.uri();
    EXPECT_EQ(info("r1").share, lvs::ShareProtocol::Nvmf);
    req.set_share(mayastor::REPLICA_NONE);
    ASSERT_TRUE(call(&Stub::ShareReplica, *_mayastor, req).first.ok());
    EXPECT_EQ(info("r1").share, lvs::ShareProtocol::None);
    EXPECT_FALSE(_shares.find("r1"));
}

TEST_F(NbdShareTest, PublishOverNbdWithoutAKernelDriverChangesNothing) {
    if (std::filesystem::exists("/sys/module/nbd")) {
        GTEST_SKIP() << "this kernel has the nbd driver: e2e.nbd_publish_local covers it";
    }
    ASSERT_TRUE(create(kNexus1, 8 * kMiB, {"malloc:///m1?size_mb=16"}).first.ok());
    mayastor::PublishNexusRequest req;
    req.set_uuid(kNexus1);  // no share: NEXUS_NBD, the sheet's default
    auto [s, rep] = call(&Stub::PublishNexus, *_mayastor, req);
    EXPECT_EQ(s.error_code(), StatusCode::INTERNAL);
    EXPECT_NE(lowercase(s.error_message()).find("nbd"), std::string::npos) << s.error_message();
    EXPECT_EQ(get(kNexus1).device_uri(), "");
    std::string nexus_dev = std::string("nexus-") + kNexus1;
    EXPECT_FALSE(_shares.find(nexus_dev));
    auto dev = _ctx->call_on_reactor([nexus_dev] { return DeviceRegistry::instance().lookup(nexus_dev); });
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->claimed_by(), "");
    // Still free to publish another way.
    req.set_share(mayastor::NEXUS_NVMF);
    EXPECT_TRUE(call(&Stub::PublishNexus, *_mayastor, req).first.ok());
}

TEST_F(NbdShareTest, NexusExportedOverNbdIsListedAndUnpublished) {
    ASSERT_TRUE(create(kNexus1, 8 * kMiB, {"malloc:///m1?size_mb=16"}).first.ok());
    std::string nexus_dev = std::string("nexus-") + kNexus1;
    // The network export (BdevRpc.Share), not the kernel one: PublishNexus NBD asks for a
    // local /dev/nbdN, so an nbd:// export is "published over another protocol" for it.
    auto [s, rep] = bdev_share(nexus_dev, "nbd");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(get(kNexus1).device_uri(), nbd_uri(nexus_dev));
    mayastor::PublishNexusRequest req;
    req.set_uuid(kNexus1);
    EXPECT_EQ(call(&Stub::PublishNexus, *_mayastor, req).first.error_code(), StatusCode::INVALID_ARGUMENT);
    mayastor::UnpublishNexusRequest un;
    un.set_uuid(kNexus1);
    ASSERT_TRUE(call(&Stub::UnpublishNexus, *_mayastor, un).first.ok());
    EXPECT_EQ(get(kNexus1).device_uri(), "");
    EXPECT_FALSE(_shares.find(nexus_dev));
}

}  // namespace
}  // namespace ms::api::test
