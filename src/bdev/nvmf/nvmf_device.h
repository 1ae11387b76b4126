// nvmf://host[:port]/<subsystem-nqn>?uuid=&... devices: namespace 1 of a remote NVMe-oF/TCP
// controller, reached through our own host (nvmf_queue.h). The admin queue lives on the
// reactor that created the device; each reactor that does I/O gets its own I/O queue (its own
// TCP connection), connected on its first I/O. See docs/nvmf.md for the parameters and the
// failure rules.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

#include "bdev/device_factory.h"
#include "bdev/nvmf/nvmf_queue.h"
#include "nvme/spec.h"

namespace ms::nvmf_host {

// Parsed nvmf:// URI.
struct NvmfUriSpec {
    std::string host;
    uint16_t port = nvme::kReplicaPort;
    std::string subnqn;
    std::optional<Uuid> uuid;    // from uuid=; else the namespace's NGUID
    std::string hostnqn;         // hostnqn=, default nqn.2019-05.io.openebs:host:<hostname>
    uint32_t io_queues = 64;     // io_queues=: most I/O queues asked for (one per reactor used)
    uint32_t queue_depth = 128;  // qdepth=: entries per I/O queue (capped by CAP.MQES)
    uint32_t timeout_ms = 5000;
    uint32_t reconnect_ms = 1000;
    uint32_t kato_ms = 10000;
    bool hdgst = false;
    bool ddgst = false;
    std::string device_name() const;  // "<host>:<port>/<nqn>n1"
};
Result<NvmfUriSpec> parse_nvmf_uri(const Uri& uri);

// The nvmf:// scheme (registered by register_all_device_factories, bdev/all_devices.h).
DeviceFactory nvmf_device_factory();

// Raw admin command on the controller behind an nvmf:// device (`dev` must be one): the
// initiator tool's nvme-admin, id-ctrlr and create-snapshot. `data` is read into (ToHost) or
// sent (ToController). Any reactor.
Task<Result<nvme::Cqe>> nvmf_admin_command(BlockDevice& dev, nvme::Sqe sqe, DataDir dir,
                                           std::span<uint8_t> data);
bool is_nvmf_device(const BlockDevice& dev);

}  // namespace ms::nvmf_host
