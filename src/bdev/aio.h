// aio:///path?blk_size=512|4096&uuid=U: a regular file, loop device or block device driven by
// Linux AIO (libaio). Each reactor has its own AIO context; its eventfd is polled through the
// reactor's ring, so AIO completions wake the reactor like everything else. A bare path with
// no scheme means aio://.
#pragma once

#include "bdev/device_factory.h"

namespace ms {

DeviceFactory aio_device_factory();

}  // namespace ms
