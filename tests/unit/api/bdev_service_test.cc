// BdevRpc through the real gRPC C++ client.
#include <fstream>

#include "api_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

class BdevServiceTest : public ApiFixture {
   protected:
    std::pair<grpc::Status, mayastor::CreateReply> create(const std::string& uri) {
        mayastor::BdevUri req;
        req.set_uri(uri);
        return call(&mayastor::BdevRpc::Stub::Create, *_bdev, req);
    }
    grpc::Status destroy(const std::string& uri) {
        mayastor::BdevUri req;
        req.set_uri(uri);
        return call(&mayastor::BdevRpc::Stub::Destroy, *_bdev, req).first;
    }
    mayastor::Bdevs list() {
        auto [s, rep] = call(&mayastor::BdevRpc::Stub::List, *_bdev, mayastor::Null());
        EXPECT_TRUE(s.ok()) << s.error_message();
        return rep;
    }
};

TEST_F(BdevServiceTest, CreateListDestroy) {
    auto [s, rep] = create("malloc:///b0?size_mb=8&blk_size=4096");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rep.name(), "b0");
    auto l = list();
    ASSERT_EQ(l.bdevs_size(), 1);
    const auto& b = l.bdevs(0);
    EXPECT_EQ(b.name(), "b0");
    EXPECT_EQ(b.num_blocks(), 2048u);
    EXPECT_EQ(b.blk_size(), 4096u);
    EXPECT_FALSE(b.claimed());
    EXPECT_EQ(b.claimed_by(), "Orphaned");
    EXPECT_EQ(b.share_uri(), "bdev:///b0");
    EXPECT_EQ(b.product_name(), "Malloc disk");
    EXPECT_EQ(b.uri(), "malloc:///b0?size_mb=8&blk_size=4096&uuid=" + b.uuid());
    EXPECT_EQ(b.uuid().size(), 36u);

    // Destroy by the listed URI, as mayastor-client does.
    EXPECT_TRUE(destroy(b.uri()).ok());
    EXPECT_EQ(list().bdevs_size(), 0);
}

TEST_F(BdevServiceTest, CreateIsIdempotentForTheSameUri) {
    ASSERT_TRUE(create("malloc:///b1?size_mb=8").first.ok());
    auto [s, rep] = create("malloc:///b1?size_mb=8");
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rep.name(), "b1");
    // The listed URI (with uuid=) names the same creation.
    std::string listed = list().bdevs(0).uri();
    auto again = create(listed);
    ASSERT_TRUE(again.first.ok()) << again.first.error_message();
    // Another URI for the same name is an internal failure (fact sheet: not a bad argument).
    auto other = create("malloc:///b1?size_mb=16");
    EXPECT_EQ(other.first.error_code(), StatusCode::INTERNAL);
    EXPECT_NE(other.first.error_message().find("already exists"), std::string::npos);
    EXPECT_EQ(list().bdevs_size(), 1);
}

TEST_F(BdevServiceTest, CreateRejectsBadUris) {
    for (const char* uri :
         {"", "nope:///x", "malloc:///x?size_mb=8&bogus=1", "malloc:///x", "malloc:///x?size_mb=abc",
          "malloc:///x?size_mb=8&blk_size=1000", "malloc:///x?size_mb=8&uuid=not-a-uuid"}) {
        auto [s, rep] = create(uri);
        EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << uri << ": " << s.error_message();
    }
    // A missing file is not the URI's fault.
    auto [s, rep] = create("uring:///nonexistent/file.img");
    EXPECT_EQ(s.error_code(), StatusCode::INTERNAL) << s.error_message();
    EXPECT_EQ(list().bdevs_size(), 0);
}

TEST_F(BdevServiceTest, CreateFromAFile) {
    std::string path = _dir.file("disk.img");
    { std::ofstream f(path); }
    std::filesystem::resize_file(path, 8 << 20);
    auto [s, rep] = create("uring://" + path);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rep.name(), path);
    EXPECT_TRUE(destroy(rep.name()).ok());  // by name
    EXPECT_EQ(list().bdevs_size(), 0);
}

TEST_F(BdevServiceTest, DestroyErrors) {
    EXPECT_EQ(destroy("malloc:///nothing?size_mb=8").error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(destroy("nothing").error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(destroy("nope:///x").error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(destroy("").error_code(), StatusCode::INVALID_ARGUMENT);
    ASSERT_TRUE(create("malloc:///base?size_mb=8").first.ok());
    ASSERT_TRUE(create("error:///e0?base=base").first.ok());
    auto busy = destroy("base");
    EXPECT_EQ(busy.error_code(), StatusCode::INTERNAL);
    auto l = list();
    ASSERT_EQ(l.bdevs_size(), 2);
    EXPECT_EQ(l.bdevs(0).name(), "base");
    EXPECT_TRUE(l.bdevs(0).claimed());
    EXPECT_EQ(l.bdevs(0).claimed_by(), "error:e0");
    // Loopback URIs refer to a device without owning it: destroying one is a no-op.
    EXPECT_TRUE(destroy("bdev:///base").ok());
    EXPECT_TRUE(destroy("e0").ok());
    EXPECT_TRUE(destroy("malloc:///base").ok());  // the scheme's naming, whatever the parameters
    EXPECT_EQ(list().bdevs_size(), 0);
}

TEST_F(BdevServiceTest, ShareAndUnshare) {
    ASSERT_TRUE(create("malloc:///s0?size_mb=8").first.ok());
    auto share = [&](const std::string& name, const std::string& proto) {
        mayastor::BdevShareRequest req;
        req.set_name(name);
        req.set_proto(proto);
        return call(&mayastor::BdevRpc::Stub::Share, *_bdev, req);
    };
    auto share_uri = [&] {
        auto l = list();
        return l.bdevs_size() == 1 ? l.bdevs(0).share_uri() : std::string("?");
    };
    EXPECT_EQ(share("nope", "nvmf").first.error_code(), StatusCode::NOT_FOUND);
    EXPECT_EQ(share_uri(), "bdev:///s0");
    std::string expected =
        fmt::format("nvmf://10.1.2.3:{}/nqn.2019-05.io.openebs:s0", _target->replica_port());
    auto [nvmf, shared] = share("s0", "nvmf");
    ASSERT_TRUE(nvmf.ok()) << nvmf.error_message();
    EXPECT_EQ(shared.uri(), expected);
    EXPECT_TRUE(_target->has_subsystem("nqn.2019-05.io.openebs:s0"));
    EXPECT_EQ(share_uri(), expected);
    auto [again, shared_again] = share("s0", "nvmf");  // idempotent
    ASSERT_TRUE(again.ok()) << again.error_message();
    EXPECT_EQ(shared_again.uri(), expected);
    // No iSCSI server runs: a sharing failure (INTERNAL, the sheet's code) that says why, and
    // the NVMe-oF share stays as it is.
    auto [iscsi, unused] = share("s0", "iscsi");
    EXPECT_EQ(iscsi.error_code(), StatusCode::INTERNAL);
    EXPECT_NE(iscsi.error_message().find("no iscsi server"), std::string::npos) << iscsi.error_message();
    EXPECT_EQ(share_uri(), expected);
    EXPECT_EQ(share("s0", "").first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(share("s0", "NVMF").first.error_code(), StatusCode::INVALID_ARGUMENT);

    for (const char* name : {"s0", "s0", "unknown", ""}) {
        mayastor::CreateReply req;
        req.set_name(name);
        EXPECT_TRUE(call(&mayastor::BdevRpc::Stub::Unshare, *_bdev, req).first.ok()) << name;
    }
    EXPECT_FALSE(_target->has_subsystem("nqn.2019-05.io.openebs:s0"));
    EXPECT_EQ(share_uri(), "bdev:///s0");
}

}  // namespace
}  // namespace ms::api::test
