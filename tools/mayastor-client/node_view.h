// `bdev list`, `device list`, `perf resource` and `controller list` output (default format).
#pragma once

#include <string>

#include "mayastor-client/style.h"
#include "mayastor.pb.h"

namespace ms::client {

// Sheet table UUID NUM_BLOCKS BLK_SIZE CLAIMED_BY NAME SHARE_URI; "No bdevs found".
std::string render_bdevs(const mayastor::Bdevs& reply, const Style& style);

// Sheet table DEVNAME DEVTYPE >MAJOR MINOR >SIZE AVAILABLE MODEL PARTTYPE FSTYPE FSUUID MOUNTPOINT
// DEVPATH DEVLINKS (SIZE in 512-byte sectors as received); "No devices found".
std::string render_devices(const mayastor::ListBlockDevicesReply& reply, const Style& style);

// Sheet table >SOFT_FAULTS >HARD_FAULTS >VOLUNTARY_CSW >INVOLUNTARY_CSW, one row (zeros when the
// reply carries no usage).
std::string render_resource_usage(const mayastor::GetResourceUsageReply& reply, const Style& style);

std::string controller_state_word(int state);  // new, init, running, faulted, unconfiguring, unconfigured

// Sheet table with the literal headers `NAMEs SIZE STATE BLKSIZE`; "No NVMe controllers found".
std::string render_controllers(const mayastor::ListNvmeControllersReply& reply, const Style& style);

}  // namespace ms::client
