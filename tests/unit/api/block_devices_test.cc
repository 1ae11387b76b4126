// ListBlockDevices on a fake sysfs tree: naming, order, the "available" filter.
#include "api/grpc/block_devices.h"

#include <gtest/gtest.h>

#include <fstream>

#include "api_test_util.h"

namespace ms::api {
namespace {

namespace fs = std::filesystem;

class FakeHost {
   public:
    FakeHost() {
        fs::create_directories(root() / "class/block");
        fs::create_directories(root() / "disk/by-id");
    }
    fs::path root() const { return _dir.path(); }

    void disk(const std::string& name, const std::string& devno, uint64_t size,
              const std::string& model = "") {
        fs::path d = root() / "devices" / name;
        fs::create_directories(d / "device");
        write(d / "dev", devno);
        write(d / "size", std::to_string(size));
        write(d / "uevent", "MAJOR=x\nDEVNAME=" + name + "\nDEVTYPE=disk\n");
        if (!model.empty()) {
            write(d / "device/model", model);
        }
        fs::create_symlink(d, root() / "class/block" / name);
    }
    void partition(const std::string& disk, const std::string& name, const std::string& devno, int number) {
        fs::path d = root() / "devices" / disk / name;
        fs::create_directories(d);
        write(d / "dev", devno);
        write(d / "size", "1024");
        write(d / "partition", std::to_string(number));
        write(d / "uevent", "DEVNAME=" + name + "\nDEVTYPE=partition\nPARTNAME=part-" + name + "\n");
        fs::create_symlink(d, root() / "class/block" / name);
    }
    void link(const std::string& link, const std::string& target) {
        fs::create_symlink(target, root() / "disk/by-id" / link);
    }
    void mounts(const std::string& text) { write(root() / "mountinfo", text); }

    BlockDeviceScan scan() const {
        BlockDeviceScan s;
        s.sys_class_block = (root() / "class/block").string();
        s.dev_disk = (root() / "disk").string();
        s.mountinfo = (root() / "mountinfo").string();
        s.probe = false;
        return s;
    }

   private:
    static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text << "\n"; }
    test::TempDir _dir;
};

std::vector<std::string> names(const std::vector<mayastor::BlockDevice>& devs) {
    std::vector<std::string> out;
    for (const auto& d : devs) {
        out.push_back(d.devname());
    }
    return out;
}

TEST(BlockDevices, ListsDisksThenTheirPartitions) {
    FakeHost h;
    h.disk("sdb", "8:16", 4096);
    h.disk("sda", "8:0", 2048, "QEMU HARDDISK   ");
    h.partition("sda", "sda2", "8:2", 2);
    h.partition("sda", "sda1", "8:1", 1);
    h.disk("sdc", "8:32", 4096);
    h.disk("loop0", "7:0", 0);
    h.disk("zram0", "252:0", 100);
    h.disk("nvme0n1", "259:0", 100);
    h.link("wwn-0x5000", "../../sdb");
    h.link("ata-QEMU_1", "../../sdb");
    h.mounts("30 1 8:32 / /mnt/with\\040space rw,relatime - ext4 /dev/sdc rw\n");

    auto all = list_block_devices(true, h.scan());
    EXPECT_EQ(names(all), (std::vector<std::string>{"/dev/loop0", "/dev/nvme0n1", "/dev/sda", "/dev/sda1",
                                                    "/dev/sda2", "/dev/sdb", "/dev/sdc", "/dev/zram0"}));
    const auto& sda = all[2];
    EXPECT_EQ(sda.devtype(), "disk");
    EXPECT_EQ(sda.devmajor(), 8u);
    EXPECT_EQ(sda.devminor(), 0u);
    EXPECT_EQ(sda.size(), 2048u);
    EXPECT_EQ(sda.model(), "QEMU HARDDISK");
    EXPECT_FALSE(sda.has_partition());
    EXPECT_FALSE(sda.available());  // it has partitions
    const auto& sda1 = all[3];
    EXPECT_EQ(sda1.devtype(), "partition");
    ASSERT_TRUE(sda1.has_partition());
    EXPECT_EQ(sda1.partition().parent(), "/dev/sda");
    EXPECT_EQ(sda1.partition().number(), 1u);
    EXPECT_EQ(sda1.partition().name(), "part-sda1");
    EXPECT_EQ(sda1.model(), "QEMU HARDDISK");
    const auto& sdb = all[5];
    EXPECT_TRUE(sdb.available());
    ASSERT_EQ(sdb.devlinks_size(), 2);
    EXPECT_EQ(fs::path(sdb.devlinks(0)).filename(), "ata-QEMU_1");
    EXPECT_FALSE(sdb.has_filesystem());
    const auto& sdc = all[6];
    EXPECT_FALSE(sdc.available());
    ASSERT_TRUE(sdc.has_filesystem());
    EXPECT_EQ(sdc.filesystem().mountpoint(), "/mnt/with space");

    // Available: nvme0n1 (259) and sdb. Not: loop0 (size 0), sda (partitions), sda1/2 (no
    // Linux partition type known without probing), sdc (mounted), zram0 (major 252).
    EXPECT_EQ(names(list_block_devices(false, h.scan())),
              (std::vector<std::string>{"/dev/nvme0n1", "/dev/sdb"}));
}

TEST(BlockDevices, OnlyLinuxPartitionsAreUsable) {
    mayastor::BlockDevice d;
    EXPECT_TRUE(usable_partition(d));
    auto* p = d.mutable_partition();
    p->set_scheme("gpt");
    p->set_typeid_("0FC63DAF-8483-4772-8E79-3D69D8477DE4");
    EXPECT_TRUE(usable_partition(d));
    p->set_typeid_("c12a7328-f81f-11d2-ba4b-00a0c93ec93b");  // EFI system
    EXPECT_FALSE(usable_partition(d));
    p->set_scheme("dos");
    p->set_typeid_("0x83");
    EXPECT_TRUE(usable_partition(d));
    p->set_typeid_("0x82");
    EXPECT_FALSE(usable_partition(d));
    p->set_scheme("");
    EXPECT_FALSE(usable_partition(d));
    for (uint32_t m : {7u, 8u, 43u, 259u}) {
        EXPECT_TRUE(usable_major(m));
    }
    EXPECT_FALSE(usable_major(252));
    EXPECT_FALSE(usable_major(253));
}

TEST(BlockDevices, TheRealHostListsWithoutErrors) {
    auto all = list_block_devices(true);
    auto avail = list_block_devices(false);
    EXPECT_LE(avail.size(), all.size());
}

}  // namespace
}  // namespace ms::api
