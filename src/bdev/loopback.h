// bdev:///name and loopback:///name: an existing device by name (e.g. a local replica given to
// a nexus as a child). Creates nothing; `uuid=` if given must match the device's uuid.
#pragma once

#include "bdev/device_factory.h"

namespace ms {

DeviceFactory loopback_device_factory();

}  // namespace ms
