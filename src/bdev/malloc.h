// malloc:///name?size_mb=N|num_blocks=N&blk_size=512|4096&uuid=U: a RAM disk (zeroed, lazily
// backed by anonymous memory).
#pragma once

#include "bdev/device_factory.h"

namespace ms {

DeviceFactory malloc_device_factory();

}  // namespace ms
