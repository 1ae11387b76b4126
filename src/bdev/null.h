// null:///name?size_mb=N|num_blocks=N&blk_size=512|4096&uuid=U: discards writes; reads complete
// at once without touching the buffer (a device to measure the stack above it, like SPDK's
// null bdev and fio's null engine).
#pragma once

#include "bdev/device_factory.h"

namespace ms {

DeviceFactory null_device_factory();

}  // namespace ms
