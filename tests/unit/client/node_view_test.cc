// `bdev list`, `device list`, `perf resource`, `controller list`.
#include "mayastor-client/node_view.h"

#include <gtest/gtest.h>

namespace ms::client {
namespace {

TEST(NodeView, Bdevs) {
    mayastor::Bdevs reply;
    auto* b = reply.add_bdevs();
    b->set_name("m0");
    b->set_uuid("b0a3d4e5-0000-4000-8000-000000000000");
    b->set_num_blocks(204800);
    b->set_blk_size(512);
    b->set_claimed_by("Orphaned");
    b->set_share_uri("bdev:///m0");
    EXPECT_EQ(render_bdevs(reply, Style{}),
              "UUID                                 NUM_BLOCKS BLK_SIZE CLAIMED_BY NAME SHARE_URI \n"
              "b0a3d4e5-0000-4000-8000-000000000000 204800     512      Orphaned   m0   bdev:///m0\n");
    EXPECT_EQ(render_bdevs(mayastor::Bdevs(), Style{}), "No bdevs found\n");
    EXPECT_EQ(render_bdevs(mayastor::Bdevs(), Style{.verbosity = 0}), "");
}

TEST(NodeView, Devices) {
    mayastor::ListBlockDevicesReply reply;
    auto* d = reply.add_devices();
    d->set_devname("/dev/sda1");
    d->set_devtype("partition");
    d->set_devmajor(8);
    d->set_devminor(1);
    d->set_model("Disk");
    d->set_devpath("/devices/x/sda/sda1");
    d->add_devlinks("/dev/disk/by-id/a");
    d->add_devlinks("/dev/disk/by-uuid/b");
    d->set_size(2048);
    d->mutable_partition()->set_scheme("gpt");
    d->mutable_partition()->set_typeid_("0fc63daf");
    d->mutable_filesystem()->set_fstype("ext4");
    d->mutable_filesystem()->set_uuid("f-uuid");
    d->mutable_filesystem()->set_mountpoint("/mnt");
    d->set_available(false);
    auto* e = reply.add_devices();
    e->set_devname("/dev/loop8");
    e->set_devtype("disk");
    e->set_devmajor(7);
    e->set_devminor(8);
    e->set_size(204800);
    e->set_available(true);
    EXPECT_EQ(render_devices(reply, Style{.verbosity = 0}),
              "/dev/sda1 partition 8 1 2048 no Disk gpt:0fc63daf ext4 f-uuid /mnt /devices/x/sda/sda1 "
              "\"/dev/disk/by-id/a\" \"/dev/disk/by-uuid/b\"\n"
              "/dev/loop8 disk 7 8 204800 yes       \n");
    EXPECT_EQ(render_devices(reply, Style{}),
              "DEVNAME    DEVTYPE   MAJOR MINOR   SIZE AVAILABLE MODEL PARTTYPE     FSTYPE FSUUID MOUNTPOINT "
              "DEVPATH             DEVLINKS                                 \n"
              "/dev/sda1  partition     8 1       2048 no        Disk  gpt:0fc63daf ext4   f-uuid /mnt       "
              "/devices/x/sda/sda1 \"/dev/disk/by-id/a\" \"/dev/disk/by-uuid/b\"\n"
              "/dev/loop8 disk          7 8     204800 yes      "
              "                                                                                              "
              "            \n");
    EXPECT_EQ(render_devices(mayastor::ListBlockDevicesReply(), Style{}), "No devices found\n");
}

TEST(NodeView, ResourceUsage) {
    mayastor::GetResourceUsageReply reply;
    reply.mutable_usage()->set_soft_faults(1234);
    reply.mutable_usage()->set_hard_faults(5);
    reply.mutable_usage()->set_vol_csw(77);
    reply.mutable_usage()->set_invol_csw(-1);
    EXPECT_EQ(render_resource_usage(reply, Style{}),
              "SOFT_FAULTS HARD_FAULTS VOLUNTARY_CSW INVOLUNTARY_CSW\n"
              "       1234           5            77              -1\n");
    EXPECT_EQ(render_resource_usage(reply, Style{.verbosity = 0}), "1234 5 77 -1\n");
    EXPECT_EQ(render_resource_usage(mayastor::GetResourceUsageReply(), Style{.verbosity = 0}), "0 0 0 0\n");
}

TEST(NodeView, Controllers) {
    mayastor::ListNvmeControllersReply reply;
    auto* c = reply.add_controllers();
    c->set_name("10.0.0.2:8420/nqn.2019-05.io.openebs:r2n1");
    c->set_state(mayastor::RUNNING);
    c->set_size(67108864);
    c->set_blk_size(512);
    EXPECT_EQ(render_controllers(reply, Style{}),
              "NAMEs                                     SIZE     STATE   BLKSIZE\n"
              "10.0.0.2:8420/nqn.2019-05.io.openebs:r2n1 67108864 running 512    \n");
    EXPECT_EQ(render_controllers(mayastor::ListNvmeControllersReply(), Style{}),
              "No NVMe controllers found\n");
    EXPECT_EQ(controller_state_word(mayastor::NEW), "new");
    EXPECT_EQ(controller_state_word(mayastor::INITIALIZING), "init");
    EXPECT_EQ(controller_state_word(mayastor::RUNNING), "running");
    EXPECT_EQ(controller_state_word(mayastor::FAULTED), "faulted");
    EXPECT_EQ(controller_state_word(mayastor::UNCONFIGURING), "unconfiguring");
    EXPECT_EQ(controller_state_word(mayastor::UNCONFIGURED), "unconfigured");
}

}  // namespace
}  // namespace ms::client
