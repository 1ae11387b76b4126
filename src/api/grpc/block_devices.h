// The host's disks and partitions for Mayastor.ListBlockDevices, read without udev: sysfs
// (/sys/class/block) for the devices, libblkid for file systems and partition entries,
// /proc/self/mountinfo for mount points and /dev/disk/by-* for the device links. Blocking file
// I/O: call it off the reactors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mayastor.pb.h"

namespace ms::api {

struct BlockDeviceScan {
    std::string sys_class_block = "/sys/class/block";
    std::string dev_disk = "/dev/disk";
    std::string mountinfo = "/proc/self/mountinfo";
    // Probe devices with libblkid (file systems, partition types); off for fake trees in tests.
    bool probe = true;
};

// Disks sorted by name, each followed by its partitions. `all` = false keeps the available
// ones only: size > 0, major 7 (loop), 8 (SCSI), 43 (NBD) or 259 (NVMe, extended), a whole disk
// without partitions or a partition of Linux type (gpt 0fc63daf-... or dos 0x83), no file system
// and not mounted.
std::vector<mayastor::BlockDevice> list_block_devices(bool all, const BlockDeviceScan& scan = {});

bool usable_major(uint32_t major);
bool usable_partition(const mayastor::BlockDevice& dev);

}  // namespace ms::api
