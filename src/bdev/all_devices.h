// Every device kind of this tree, registered in one place: the built-in schemes of ms_bdev
// (malloc, null, uring, aio, bdev/loopback, error) and the kinds in their own libraries
// (nvmf: our NVMe/TCP host; nbd, nbd+unix: libnbd). Each kind gives a DeviceFactory
// (<kind>_device_factory()) and is listed here with its scheme(s), once; a new kind adds one
// line. Programs (the daemon, the perf tool, the initiator) and tests call this. Idempotent.
#pragma once

namespace ms {

void register_all_device_factories();

}  // namespace ms
