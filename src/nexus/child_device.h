// Getting and giving back the device behind a child URI: create it (or find it, for
// bdev:///), claim it for the nexus and open it read-write; and the reverse.
#pragma once

#include <memory>
#include <string>

#include "nexus/nexus_child.h"

namespace ms::nexus {

// EINVAL naming the child for anything that fails (bad URI, no such device, claimed by
// another owner, cannot open). Leaves nothing behind on failure.
Task<Result<std::shared_ptr<NexusChild>>> open_child(std::string owner, std::string uri);
// Closes and unclaims the child's device and destroys it if the nexus made it.
Task<void> release_child(std::string owner, std::shared_ptr<NexusChild> child);
// EINVAL: other block size; EFBIG: smaller than `size` bytes.
Status check_child_geometry(const BlockDevice& dev, const std::string& uri, uint32_t block_size,
                            uint64_t size);

}  // namespace ms::nexus
