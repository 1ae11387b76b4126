// nbd:// and nbd+unix:// devices: an export of any NBD server, through libnbd, as a block device
// (so a nexus can have a child on an NBD server). See docs/nbd.md for the URIs, the names and
// the failure rules.
//
// Creation connects once (asynchronously, through the creating reactor's ring) to learn the
// export's size, block sizes and flags, then disconnects. Each reactor that does I/O gets its
// own connection (its own libnbd handle), made on its first I/O and polled through that
// reactor's ring; at most `connections` reactors can use the device.
//
// Flush and multi-conn: a server that advertises NBD_FLAG_CAN_MULTI_CONN promises that a
// flush on one connection covers writes completed on all of them, so a flush goes to the
// calling reactor's connection only. Without it, a flush goes to every connection that has
// completed a write (pwrite, trim, write zeroes) since its last flush, each on its own
// reactor, all at once; the flush succeeds when all of them do.
//
// Buffers: libnbd takes one buffer per command. A request with one iovec is sent from (read
// into) it directly; with up to 16 iovecs each a multiple of the server's minimum block size,
// one command per iovec, all in flight at once; otherwise through one bounce buffer. A transfer
// larger than the server's maximum payload (32 MiB when it gives none) is split likewise.
#pragma once

#include "bdev/device_factory.h"
#include "bdev/nbd/nbd_connection.h"
#include "bdev/nbd/nbd_uri.h"

namespace ms::nbd_host {

// The nbd:// and nbd+unix:// schemes (registered by register_all_device_factories,
// bdev/all_devices.h).
DeviceFactory nbd_device_factory();

bool is_nbd_device(const BlockDevice& dev);
// What the server said at creation; nullopt if `dev` is not an NBD device.
std::optional<ExportInfo> nbd_export_info(const BlockDevice& dev);

}  // namespace ms::nbd_host
