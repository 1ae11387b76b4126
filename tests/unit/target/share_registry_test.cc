// The share registry's rules with servers that record what they are asked (the real servers,
// NVMe-oF and NBD, are tested in their own folders and through the API): a share claims its
// device so that nothing else can write it, shares are idempotent per protocol, a second
// protocol or a claimed device is refused and changes nothing, unsharing releases the claim.
#include "target/share_registry.h"

#include <gtest/gtest.h>

#include <optional>

#include "bdev/descriptor.h"
#include "bdev/device_factory.h"
#include "bdev/device_registry.h"
#include "core/runtime.h"

namespace ms::target {
namespace {

class RecordingServer final : public ShareServer {
   public:
    explicit RecordingServer(std::string protocol) : _protocol(std::move(protocol)) {}
    std::string_view protocol() const override { return _protocol; }
    Result<std::string> share(ShareRequest req) override {
        ++shares;
        if (fail_share) {
            return errorf(EIO, "share refused");
        }
        // The server opens the device as the share's claim owner, as real servers do.
        auto d = Descriptor::open(req.device, OpenMode::ReadWrite, req.claim_owner);
        if (!d) {
            return std::unexpected(d.error());
        }
        open = std::move(*d);
        name = req.device->name();
        return _protocol + "://host/" + name;
    }
    Status unshare(const std::string& device_name) override {
        ++unshares;
        if (fail_unshare) {
            return errorf(EIO, "unshare refused");
        }
        if (device_name == name) {
            open.reset();
            name.clear();
        }
        return ok();
    }
    std::vector<ShareInfo> list() const override {
        if (name.empty()) {
            return {};
        }
        return {ShareInfo{_protocol, name, _protocol + "://host/" + name, {"host-a"}, false}};
    }

    int shares = 0;
    int unshares = 0;
    bool fail_share = false;
    bool fail_unshare = false;
    std::unique_ptr<Descriptor> open;
    std::string name;

   private:
    std::string _protocol;
};

class ShareRegistryTest : public ::testing::Test {
   protected:
    void SetUp() override {
        _runtime.emplace(RuntimeOptions{});
        auto dev = run_on(_runtime->reactor(0), [] { return create_device("malloc:///s0?size_mb=8"); });
        ASSERT_TRUE(dev) << dev.error().message;
        _dev = *dev;
        ASSERT_TRUE(_registry.add_server(_nvmf));
        ASSERT_TRUE(_registry.add_server(_nbd));
    }
    void TearDown() override {
        _registry.unshare_all();
        _dev.reset();
        (void)run_on(_runtime->reactor(0), [] { return destroy_device("s0"); });
        _runtime->stop();
    }

    std::optional<Runtime> _runtime;
    std::shared_ptr<BlockDevice> _dev;
    RecordingServer _nvmf{"nvmf"};
    RecordingServer _nbd{"nbd"};
    ShareRegistry _registry;
};

TEST_F(ShareRegistryTest, ShareClaimsTheDeviceAndIsIdempotent) {
    ShareOptions o;
    o.allowed_hosts = {"host-a"};
    auto uri = _registry.share("s0", "nvmf", o);
    ASSERT_TRUE(uri) << uri.error().message;
    EXPECT_EQ(*uri, "nvmf://host/s0");
    EXPECT_EQ(_dev->claimed_by(), ShareRegistry::claim_owner("nvmf"));
    auto again = _registry.share("s0", "nvmf", {});
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *uri);
    EXPECT_EQ(_nvmf.shares, 1);  // the server was not asked twice
    auto found = _registry.find("s0");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->protocol, "nvmf");
    EXPECT_EQ(found->uri, *uri);
    EXPECT_EQ(found->allowed_hosts, std::vector<std::string>{"host-a"});
    EXPECT_EQ(_registry.list().size(), 1u);
    EXPECT_EQ(_registry.protocols(), (std::vector<std::string>{"nbd", "nvmf"}));
}

TEST_F(ShareRegistryTest, SharedDeviceCannotBeClaimedOrOpenedForWritingByAnother) {
    ASSERT_TRUE(_registry.share("s0", "nvmf", {}));
    // What CreatePool and a nexus child do first: claim the device.
    auto claim = _dev->claim("pool p1");
    ASSERT_FALSE(claim);
    EXPECT_EQ(claim.error().code, EBUSY);
    auto rw = Descriptor::open(_dev, OpenMode::ReadWrite, "pool p1");
    EXPECT_FALSE(rw);
    EXPECT_TRUE(Descriptor::open(_dev, OpenMode::ReadOnly));  // reading stays possible
}

TEST_F(ShareRegistryTest, SecondProtocolIsRefusedAndChangesNothing) {
    ASSERT_TRUE(_registry.share("s0", "nvmf", {}));
    auto other = _registry.share("s0", "nbd", {});
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, EBUSY);
    EXPECT_NE(other.error().message.find("nvmf"), std::string::npos) << other.error().message;
    EXPECT_EQ(_nbd.shares, 0);
    EXPECT_EQ(_registry.find("s0")->protocol, "nvmf");
    EXPECT_EQ(_dev->claimed_by(), ShareRegistry::claim_owner("nvmf"));
}

TEST_F(ShareRegistryTest, ClaimedDeviceIsRefused) {
    ASSERT_TRUE(_dev->claim("nexus-x"));
    auto uri = _registry.share("s0", "nvmf", {});
    ASSERT_FALSE(uri);
    EXPECT_EQ(uri.error().code, EBUSY);
    EXPECT_NE(uri.error().message.find("nexus-x"), std::string::npos) << uri.error().message;
    EXPECT_EQ(_nvmf.shares, 0);
    EXPECT_FALSE(_registry.find("s0"));
    EXPECT_EQ(_dev->claimed_by(), "nexus-x");
    _dev->release_claim("nexus-x");
}

TEST_F(ShareRegistryTest, UnknownDeviceOrProtocol) {
    auto dev = _registry.share("nope", "nvmf", {});
    ASSERT_FALSE(dev);
    EXPECT_EQ(dev.error().code, ENODEV);
    auto proto = _registry.share("s0", "iscsi", {});
    ASSERT_FALSE(proto);
    EXPECT_EQ(proto.error().code, EPROTONOSUPPORT);
    EXPECT_EQ(_dev->claimed_by(), "");
}

TEST_F(ShareRegistryTest, FailedShareReleasesTheClaim) {
    _nvmf.fail_share = true;
    auto uri = _registry.share("s0", "nvmf", {});
    ASSERT_FALSE(uri);
    EXPECT_EQ(uri.error().code, EIO);
    EXPECT_EQ(_dev->claimed_by(), "");
    EXPECT_FALSE(_registry.find("s0"));
    _nvmf.fail_share = false;
    EXPECT_TRUE(_registry.share("s0", "nvmf", {}));
}

TEST_F(ShareRegistryTest, UnshareReleasesTheClaimAndIsIdempotent) {
    ASSERT_TRUE(_registry.share("s0", "nbd", {}));
    ASSERT_TRUE(_registry.unshare("s0"));
    EXPECT_EQ(_nbd.unshares, 1);
    EXPECT_EQ(_dev->claimed_by(), "");
    EXPECT_FALSE(_nbd.open);
    EXPECT_FALSE(_registry.find("s0"));
    EXPECT_TRUE(_registry.unshare("s0"));  // not shared: OK, the server is not asked
    EXPECT_EQ(_nbd.unshares, 1);
    // Free for another protocol now.
    EXPECT_TRUE(_registry.share("s0", "nvmf", {}));
}

TEST_F(ShareRegistryTest, FailedUnshareKeepsTheShare) {
    ASSERT_TRUE(_registry.share("s0", "nvmf", {}));
    _nvmf.fail_unshare = true;
    auto s = _registry.unshare("s0");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, EIO);
    EXPECT_TRUE(_registry.find("s0"));
    EXPECT_EQ(_dev->claimed_by(), ShareRegistry::claim_owner("nvmf"));
    _nvmf.fail_unshare = false;
}

TEST_F(ShareRegistryTest, RemovingAServerUnsharesItsDevices) {
    ASSERT_TRUE(_registry.share("s0", "nbd", {}));
    _registry.remove_server("nbd");
    EXPECT_EQ(_nbd.unshares, 1);
    EXPECT_FALSE(_registry.find("s0"));
    EXPECT_EQ(_dev->claimed_by(), "");
    EXPECT_EQ(_registry.server("nbd"), nullptr);
    auto again = _registry.share("s0", "nbd", {});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, EPROTONOSUPPORT);
}

TEST_F(ShareRegistryTest, AServerPerProtocol) {
    RecordingServer second("nvmf");
    auto s = _registry.add_server(second);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, EEXIST);
    EXPECT_EQ(_registry.server("nvmf"), &_nvmf);
}

}  // namespace
}  // namespace ms::target
