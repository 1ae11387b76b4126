// A regular file or block device opened for a file-backed device (uring://, aio://): the
// shared URI parameters (blk_size, uuid), O_DIRECT where the file system allows it, geometry,
// and the unmap / write-zeroes operations that depend on the file type.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "bdev/block_device.h"
#include "core/uri.h"

namespace ms {

struct BackingFile {
    int fd = -1;
    std::string path;
    bool is_block_device = false;
    bool direct = false;  // opened with O_DIRECT
    Geometry geometry;
    Uuid uuid;

    BackingFile() = default;
    BackingFile(BackingFile&& o) noexcept;
    BackingFile& operator=(BackingFile&& o) noexcept;
    ~BackingFile();

    // scheme:///path?blk_size=512|4096&uuid=U (blk_size defaults to 512, and must be at least
    // the device's logical block size).
    static Result<BackingFile> open(const Uri& uri);
    // The device name for a URI: its path.
    static std::string name_of(const Uri& uri) { return uri.path; }

    // Synchronous fallbacks used where the ring has no equivalent (block device ioctls).
    Status discard_blocks(uint64_t offset, uint64_t length);
    Status zero_blocks(uint64_t offset, uint64_t length);
};

// Resubmits the unfinished tail of a short vectored transfer: the iovecs past `done` bytes.
std::vector<iovec> iov_tail(std::span<const iovec> iov, std::size_t done);
// The first IOV_MAX iovecs of `iov`: the most one system call or io_uring operation takes. The
// rest of a longer list follows like the tail of a short transfer.
std::span<const iovec> iov_batch(std::span<const iovec> iov);

}  // namespace ms
