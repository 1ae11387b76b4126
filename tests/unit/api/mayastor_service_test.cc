// The Mayastor RPCs that need no pool or nexus: host information and NVMe controllers.
#include "api_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

class MayastorServiceTest : public ApiFixture {};

TEST_F(MayastorServiceTest, NoNvmeControllersWithoutNvmfDevices) {
    auto [s, rep] = call(&mayastor::Mayastor::Stub::ListNvmeControllers, *_mayastor, mayastor::Null());
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(rep.controllers_size(), 0);
}

TEST_F(MayastorServiceTest, ResourceUsageIsThisProcesss) {
    auto [s, rep] = call(&mayastor::Mayastor::Stub::GetResourceUsage, *_mayastor, mayastor::Null());
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(rep.has_usage());
    EXPECT_GT(rep.usage().soft_faults(), 0);
    EXPECT_GT(rep.usage().vol_csw() + rep.usage().invol_csw(), 0);
}

TEST_F(MayastorServiceTest, BlockDevicesAvailableAreASubsetOfAll) {
    mayastor::ListBlockDevicesRequest all_req;
    all_req.set_all(true);
    auto [s_all, all] = call(&mayastor::Mayastor::Stub::ListBlockDevices, *_mayastor, all_req);
    ASSERT_TRUE(s_all.ok()) << s_all.error_message();
    auto [s_av, avail] =
        call(&mayastor::Mayastor::Stub::ListBlockDevices, *_mayastor, mayastor::ListBlockDevicesRequest());
    ASSERT_TRUE(s_av.ok()) << s_av.error_message();
    EXPECT_LE(avail.devices_size(), all.devices_size());
    for (const auto& d : avail.devices()) {
        EXPECT_TRUE(d.available()) << d.devname();
        EXPECT_GT(d.size(), 0u);
        EXPECT_FALSE(d.has_filesystem() && !d.filesystem().fstype().empty()) << d.devname();
    }
    for (const auto& d : all.devices()) {
        EXPECT_EQ(d.devname().rfind("/dev/", 0), 0u) << d.devname();
        EXPECT_TRUE(d.devtype() == "disk" || d.devtype() == "partition") << d.devtype();
        EXPECT_EQ(d.has_partition(), d.devtype() == "partition");
    }
}

}  // namespace
}  // namespace ms::api::test
