// The Linux kernel's NBD driver as a local host of an export: connected sockets (our server
// serves the other ends, already past the handshake) are handed to the driver over generic
// netlink (family "nbd"), which makes /dev/nbdN appear. Blocking calls: make them from a
// non-reactor thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"

namespace ms::nbd {

struct KernelAttach {
    // The kernel's ends of connected stream sockets (one per connection; the kernel spreads
    // requests over them). The driver takes its own reference: the caller closes its copies
    // after attach returns.
    std::span<const int> sockets;
    uint64_t size_bytes = 0;
    uint32_t block_size = 512;
    // NBD transmission flags the server would have sent (NBD_FLAG_HAS_FLAGS | SEND_FLUSH |
    // SEND_FUA | SEND_TRIM | SEND_WRITE_ZEROES | CAN_MULTI_CONN ...).
    uint16_t transmission_flags = 0;
    // Seconds before the kernel times a request out (0: the driver's default).
    uint32_t timeout_s = 0;
};

// Attaches to the first free /dev/nbdN and returns N. ENODEV with a message naming the missing
// module when the kernel has no nbd driver (no "nbd" netlink family, even after trying
// `modprobe nbd`); other failures as the driver answers them (EBUSY, EINVAL...).
Result<int> kernel_nbd_attach(const KernelAttach& attach);
// Disconnects /dev/nbdN (the driver closes its sockets; the device node stays, unused).
// Not connected -> OK.
Status kernel_nbd_detach(int index);
// True when this kernel has the nbd driver (its netlink family answers), after trying modprobe.
bool kernel_nbd_available();

}  // namespace ms::nbd
