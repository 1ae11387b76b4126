// Device management shared by the gRPC BdevRpc service and the JSON-RPC methods. Every function
// here runs on a reactor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bdev/block_device.h"
#include "core/status.h"
#include "core/task.h"

namespace ms::api {

struct BdevInfo {
    std::string name;
    std::string uuid;
    uint64_t num_blocks = 0;
    uint32_t blk_size = 0;
    std::string claimed_by;  // empty when unclaimed
    std::string uri;         // creation URI with uuid=, empty if made in code (replicas)
    std::string product;
    std::string share_uri;  // bdev:///<name>; where it is shared is the share registry's (share_ops.h)
};

BdevInfo bdev_info(const BlockDevice& dev);
// Every device of the registry, by name.
std::vector<BdevInfo> list_bdevs();

// Creates the device `uri` names and returns its name. A device that already exists and was
// made from the same URI is not an error: its name is returned. Errors as create_device's
// (EINVAL bad URI/scheme/parameter, EEXIST name taken by another device, ...).
Task<Result<std::string>> create_bdev(std::string uri);
// Destroys the device created from `uri_or_name` (its creation URI, as BdevRpc.List shows it, or
// any URI that names it, or its name). Replicas, snapshots and clones of pools are refused (EBUSY):
// they belong to their pool. ENODEV if there is no such device; EBUSY if it is claimed or open.
Task<Status> destroy_bdev(std::string uri_or_name);

// Diagnostic I/O (JSON-RPC bdev_write / bdev_read). Offset and length must be multiples of the
// block size, length in (0, kMaxDiagnosticIo], inside the device: else EINVAL.
inline constexpr uint64_t kMaxDiagnosticIo = 1 << 20;
Task<Status> write_bdev(std::string name, uint64_t offset, std::vector<uint8_t> data, bool flush);
Task<Result<std::vector<uint8_t>>> read_bdev(std::string name, uint64_t offset, uint64_t length);

}  // namespace ms::api
