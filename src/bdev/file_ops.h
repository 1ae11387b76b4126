// Unmap and write-zeroes on a BackingFile, whatever kind it is: fallocate through the ring on
// regular files (with fallbacks for file systems that lack a mode), ioctls on block devices,
// and plain zero writes as the last resort. Shared by the uring and aio devices.
#pragma once

#include <functional>

#include "bdev/backing_file.h"
#include "core/task.h"

namespace ms {

// Writes `length` zero bytes at `offset` with `write_fn(offset, iov)`.
using ZeroWriter = std::function<Task<Status>(uint64_t offset, std::span<const iovec> iov)>;

Task<Status> file_unmap(BackingFile& f, uint64_t offset, uint64_t length, ZeroWriter write_fn);
Task<Status> file_write_zeroes(BackingFile& f, uint64_t offset, uint64_t length, ZeroWriter write_fn);

}  // namespace ms
