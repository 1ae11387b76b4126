// The pools file kept up to date by the API's pool hooks (as the daemon wires them), through the
// real gRPC C++ client.
#include "pools_file.h"

#include <filesystem>
#include <fstream>

#include "api/api_test_util.h"

namespace ms::daemon {
namespace {

class PoolsFileTest : public api::test::ApiFixture {
   protected:
    void SetUp() override {
        auto f = PoolsFile::open(_dir.file("pools.yaml"));
        ASSERT_TRUE(f) << f.error().message;
        _pools_file = std::move(*f);
        api::PoolHooks hooks;
        hooks.created = [this](const std::string& name, const std::string& disk) {
            _pools_file->pool_created(name, disk);
        };
        hooks.destroyed = [this](const std::string& name) { _pools_file->pool_destroyed(name); };
        start(std::move(hooks));
    }
    std::pair<grpc::Status, mayastor::Pool> create(const std::string& name, std::vector<std::string> disks) {
        mayastor::CreatePoolRequest req;
        req.set_name(name);
        for (auto& d : disks) {
            req.add_disks(d);
        }
        return api::test::call(&mayastor::Mayastor::Stub::CreatePool, *_mayastor, req);
    }
    grpc::Status destroy(const std::string& name) {
        mayastor::DestroyPoolRequest req;
        req.set_name(name);
        return api::test::call(&mayastor::Mayastor::Stub::DestroyPool, *_mayastor, req).first;
    }
    std::vector<PoolSpec> on_disk() {
        auto f = PoolsFile::open(_dir.file("pools.yaml"));
        EXPECT_TRUE(f);
        return f ? (*f)->pools() : std::vector<PoolSpec>{};
    }
    std::unique_ptr<PoolsFile> _pools_file;
};

TEST_F(PoolsFileTest, RecordsCreatedAndDestroyedPools) {
    auto [s1, p1] = create("p1", {"malloc:///d1?size_mb=64"});
    ASSERT_TRUE(s1.ok());
    auto [s2, p2] = create("p2", {"malloc:///d2?size_mb=64"});
    ASSERT_TRUE(s2.ok());
    // As the pools report their disks: with the base device's uuid, so that it stays the same.
    EXPECT_EQ(on_disk(), (std::vector<PoolSpec>{{"p1", {p1.disks(0)}}, {"p2", {p2.disks(0)}}}));
    // A failed create records nothing.
    EXPECT_FALSE(create("p3", {"nope:///x"}).first.ok());
    ASSERT_TRUE(destroy("p1").ok());
    EXPECT_EQ(on_disk(), (std::vector<PoolSpec>{{"p2", {p2.disks(0)}}}));
}

TEST_F(PoolsFileTest, RecordsBarePathsAsAbsoluteUris) {
    std::string path = _dir.file("disk.img");
    { std::ofstream f(path); }
    std::filesystem::resize_file(path, 64 << 20);
    auto [s, pool] = create("p1", {path});
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(pool.disks(0).rfind("aio://" + path + "?uuid=", 0), 0u) << pool.disks(0);
    EXPECT_EQ(on_disk(), (std::vector<PoolSpec>{{"p1", {pool.disks(0)}}}));
}

}  // namespace
}  // namespace ms::daemon
