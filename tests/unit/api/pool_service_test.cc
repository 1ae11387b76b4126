// Mayastor pool RPCs through the real gRPC C++ client, on malloc:// disks: status codes and
// idempotency as the fact sheet fixes them (the pools file: tests/unit/daemon).
#include <atomic>
#include <fstream>
#include <thread>

#include "api_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

class PoolServiceTest : public ApiFixture {
   protected:
    std::pair<grpc::Status, mayastor::Pool> create(const std::string& name, std::vector<std::string> disks) {
        mayastor::CreatePoolRequest req;
        req.set_name(name);
        for (auto& d : disks) {
            req.add_disks(d);
        }
        return call(&mayastor::Mayastor::Stub::CreatePool, *_mayastor, req);
    }
    grpc::Status destroy(const std::string& name) {
        mayastor::DestroyPoolRequest req;
        req.set_name(name);
        return call(&mayastor::Mayastor::Stub::DestroyPool, *_mayastor, req).first;
    }
    mayastor::ListPoolsReply list() {
        auto [s, rep] = call(&mayastor::Mayastor::Stub::ListPools, *_mayastor, mayastor::Null());
        EXPECT_TRUE(s.ok()) << s.error_message();
        return rep;
    }
};

TEST_F(PoolServiceTest, CreateListDestroy) {
    auto [s, pool] = create("p1", {"malloc:///d1?size_mb=100"});
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(pool.name(), "p1");
    ASSERT_EQ(pool.disks_size(), 1);
    EXPECT_EQ(pool.disks(0).rfind("malloc:///d1?size_mb=100&uuid=", 0), 0u) << pool.disks(0);
    EXPECT_EQ(pool.state(), mayastor::POOL_ONLINE);
    EXPECT_EQ(pool.capacity(), 96ull << 20);  // 100 MiB disk, 4 MiB clusters
    EXPECT_EQ(pool.used(), 0u);

    auto l = list();
    ASSERT_EQ(l.pools_size(), 1);
    EXPECT_EQ(l.pools(0).name(), "p1");
    EXPECT_EQ(l.pools(0).disks(0), pool.disks(0));
    EXPECT_EQ(l.pools(0).capacity(), pool.capacity());

    EXPECT_TRUE(destroy("p1").ok());
    EXPECT_EQ(list().pools_size(), 0);
    // The base device went with it.
    auto [bs, bdevs] = call(&mayastor::BdevRpc::Stub::List, *_bdev, mayastor::Null());
    EXPECT_EQ(bdevs.bdevs_size(), 0);
}

TEST_F(PoolServiceTest, CreateIsIdempotent) {
    ASSERT_TRUE(create("p1", {"malloc:///d1?size_mb=64"}).first.ok());
    auto [s, again] = create("p1", {"malloc:///d1?size_mb=64"});
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(again.name(), "p1");
    // The disk as ListPools reports it (with ?uuid=) is the same disk.
    auto [s2, listed] = create("p1", {again.disks(0)});
    EXPECT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(list().pools_size(), 1);
}

TEST_F(PoolServiceTest, CreateNeedsExactlyOneDisk) {
    EXPECT_EQ(create("p1", {}).first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(create("p1", {"malloc:///a?size_mb=64", "malloc:///b?size_mb=64"}).first.error_code(),
              StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(create("", {"malloc:///a?size_mb=64"}).first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(list().pools_size(), 0);
}

TEST_F(PoolServiceTest, SameNameOnAnotherDiskIsInternal) {
    ASSERT_TRUE(create("p1", {"malloc:///d1?size_mb=64"}).first.ok());
    auto [s, pool] = create("p1", {"malloc:///d2?size_mb=64"});
    EXPECT_EQ(s.error_code(), StatusCode::INTERNAL) << s.error_message();
    EXPECT_EQ(list().pools_size(), 1);
}

TEST_F(PoolServiceTest, DiskHoldingAnotherPoolIsInvalidArgument) {
    // A file keeps the pool after it is exported, so another name can be tried on it.
    std::string path = _dir.file("disk.img");
    { std::ofstream f(path); }
    std::filesystem::resize_file(path, 64 << 20);
    ASSERT_TRUE(create("p1", {"uring://" + path}).first.ok());
    run_on(reactor(), [] { return lvs::PoolRegistry::instance().export_pool("p1"); });
    auto [s, pool] = create("p2", {"uring://" + path});
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << s.error_message();
    // Importing under its own name works, and brings the same pool back.
    auto [s2, back] = create("p1", {"uring://" + path});
    ASSERT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(back.name(), "p1");
}

TEST_F(PoolServiceTest, BadBaseDeviceIsInternal) {
    for (const char* disk : {"malloc:///d1?size_mb=64&blk_size=1000", "nope:///x", "/nonexistent/disk.img"}) {
        auto [s, pool] = create("p1", {disk});
        EXPECT_EQ(s.error_code(), StatusCode::INTERNAL) << disk << ": " << s.error_message();
    }
    EXPECT_EQ(list().pools_size(), 0);
}

TEST_F(PoolServiceTest, DestroyUnknownIsOk) {
    EXPECT_TRUE(destroy("never-existed").ok());
    EXPECT_TRUE(destroy("").ok());
}

TEST_F(PoolServiceTest, ConcurrentCallsAreSerialized) {
    constexpr int kPools = 8;
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int i = 0; i < kPools; ++i) {
        threads.emplace_back([&, i] {
            for (int round = 0; round < 2; ++round) {  // the second round is idempotent
                auto [s, pool] =
                    create(fmt::format("cp{}", i), {fmt::format("malloc:///cd{}?size_mb=32", i)});
                good += s.ok();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(good, 2 * kPools);
    EXPECT_EQ(list().pools_size(), kPools);
}

}  // namespace
}  // namespace ms::api::test
