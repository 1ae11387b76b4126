// Unmap and write-zeroes on a BackingFile, whatever kind it is: fallocate through the ring on
// regular files (with fallbacks for file systems that lack a mode), ioctls on block devices,
// and plain zero writes as the last resort. Shared by the uring and aio devices.
#pragma once

#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "bdev/backing_file.h"
#include "core/task.h"

namespace ms {

// Writes `length` zero bytes at `offset` with `write_fn(offset, iov)`.
using ZeroWriter = std::function<Task<Status>(uint64_t offset, std::span<const iovec> iov)>;

// A whole read or write of `iov` at `offset`: `one(offset, iov)` issues one kernel request and
// returns bytes done or a negative errno. Lists longer than IOV_MAX go in batches and short
// transfers (signals, a file shrunk underneath) are finished with the tail; an end short of
// the total is EIO. A template, not a std::function: this is every file I/O's path.
template <typename One>
Task<Status> file_transfer(std::string_view device, bool write, uint64_t offset, std::span<const iovec> iov,
                           One one) {
    std::size_t total = 0;
    for (const auto& v : iov) {
        total += v.iov_len;
    }
    long res = co_await one(offset, iov_batch(iov));
    std::size_t done = res > 0 ? static_cast<std::size_t>(res) : 0;
    while (res > 0 && done < total) {
        std::vector<iovec> tail = iov_tail(iov, done);
        res = co_await one(offset + done, iov_batch(tail));
        done += res > 0 ? static_cast<std::size_t>(res) : 0;
    }
    const char* what = write ? "write" : "read";
    if (res < 0) {
        co_return errno_error(static_cast<int>(res),
                              fmt::format("{} at offset {} of '{}'", what, offset, device));
    }
    if (done < total) {
        co_return errorf(EIO, "{} at offset {} of '{}' ended after {} of {} bytes", what, offset, device,
                         done, total);
    }
    co_return ok();
}

Task<Status> file_unmap(BackingFile& f, uint64_t offset, uint64_t length, ZeroWriter write_fn);
Task<Status> file_write_zeroes(BackingFile& f, uint64_t offset, uint64_t length, ZeroWriter write_fn);

}  // namespace ms
