// uring:///path?blk_size=512|4096&uuid=U: a regular file, loop device or block device driven
// through the calling reactor's own io_uring (O_DIRECT where the file system allows it).
#pragma once

#include "bdev/device_factory.h"

namespace ms {

DeviceFactory uring_device_factory();

}  // namespace ms
