#include "bdev/backing_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <utility>
#include <vector>

#include "bdev/device_factory.h"
#include "core/log.h"

namespace ms {

BackingFile::BackingFile(BackingFile&& o) noexcept
    : fd(std::exchange(o.fd, -1)),
      path(std::move(o.path)),
      is_block_device(o.is_block_device),
      direct(o.direct),
      geometry(o.geometry),
      uuid(o.uuid) {}

BackingFile& BackingFile::operator=(BackingFile&& o) noexcept {
    if (this != &o) {
        if (fd >= 0) {
            ::close(fd);
        }
        fd = std::exchange(o.fd, -1);
        path = std::move(o.path);
        is_block_device = o.is_block_device;
        direct = o.direct;
        geometry = o.geometry;
        uuid = o.uuid;
    }
    return *this;
}

BackingFile::~BackingFile() {
    if (fd >= 0) {
        ::close(fd);
    }
}

Result<BackingFile> BackingFile::open(const Uri& uri) {
    if (!uri.host.empty() || uri.port) {
        return errorf(EINVAL, "'{}' must not name a host (expected {}:///path)", uri.to_string(), uri.scheme);
    }
    if (uri.path.empty() || uri.path == "/") {
        return errorf(EINVAL, "'{}' names no file (expected {}:///path)", uri.to_string(), uri.scheme);
    }
    QueryParams params(uri);
    auto blk_size = params.take_u64("blk_size");
    if (!blk_size) {
        return std::unexpected(blk_size.error());
    }
    auto uuid = take_uuid_param(params);
    if (!uuid) {
        return std::unexpected(uuid.error());
    }
    if (Status s = params.finish(); !s) {
        return std::unexpected(s.error());
    }
    uint32_t bs = 512;
    if (*blk_size) {
        if (**blk_size != 512 && **blk_size != 4096) {
            return errorf(EINVAL, "blk_size must be 512 or 4096, not {} in '{}'", **blk_size,
                          uri.to_string());
        }
        bs = static_cast<uint32_t>(**blk_size);
    }

    BackingFile f;
    f.path = uri.path;
    f.uuid = *uuid;
    f.fd = ::open(f.path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (f.fd >= 0) {
        f.direct = true;
    } else if (errno == EINVAL) {
        // The file system does not do O_DIRECT: buffered I/O, made durable by flush.
        f.fd = ::open(f.path.c_str(), O_RDWR | O_CLOEXEC);
    }
    if (f.fd < 0 && errno == EISDIR) {
        // A bad argument like any other file type that is not a disk (see below).
        return errorf(EINVAL, "'{}' is a directory, not a regular file or block device", f.path);
    }
    if (f.fd < 0) {
        return errno_error(errno, fmt::format("cannot open '{}'", f.path));
    }
    struct stat st {};
    if (::fstat(f.fd, &st) < 0) {
        return errno_error(errno, fmt::format("cannot stat '{}'", f.path));
    }
    uint64_t size = 0;
    uint32_t logical = 512;
    if (S_ISBLK(st.st_mode)) {
        f.is_block_device = true;
        if (::ioctl(f.fd, BLKGETSIZE64, &size) < 0) {
            return errno_error(errno, fmt::format("cannot get the size of '{}'", f.path));
        }
        int lbs = 0;
        if (::ioctl(f.fd, BLKSSZGET, &lbs) == 0 && lbs > 0) {
            logical = static_cast<uint32_t>(lbs);
        }
    } else if (S_ISREG(st.st_mode)) {
        size = static_cast<uint64_t>(st.st_size);
    } else {
        return errorf(EINVAL, "'{}' is neither a regular file nor a block device", f.path);
    }
    if (bs < logical) {
        return errorf(EINVAL, "blk_size={} is smaller than the {}-byte logical blocks of '{}'", bs, logical,
                      f.path);
    }
    f.geometry.block_size = bs;
    f.geometry.num_blocks = size / bs;
    f.geometry.buf_align = f.direct ? logical : 1;
    if (f.geometry.num_blocks == 0) {
        return errorf(EINVAL, "'{}' ({} bytes) is smaller than one {}-byte block", f.path, size, bs);
    }
    if (size % bs != 0) {
        log::warn("'{}': the last {} bytes do not fill a block and are not used", f.path, size % bs);
    }
    return f;
}

Status BackingFile::discard_blocks(uint64_t offset, uint64_t length) {
    uint64_t range[2] = {offset, length};
    if (::ioctl(fd, BLKDISCARD, range) < 0) {
        return errno_error(errno, fmt::format("discard on '{}'", path));
    }
    return ok();
}

Status BackingFile::zero_blocks(uint64_t offset, uint64_t length) {
    uint64_t range[2] = {offset, length};
    if (::ioctl(fd, BLKZEROOUT, range) < 0) {
        return errno_error(errno, fmt::format("zero-out on '{}'", path));
    }
    return ok();
}

std::span<const iovec> iov_batch(std::span<const iovec> iov) {
    return iov.first(std::min<std::size_t>(iov.size(), IOV_MAX));
}

std::vector<iovec> iov_tail(std::span<const iovec> iov, std::size_t done) {
    std::vector<iovec> out;
    for (const iovec& v : iov) {
        if (done >= v.iov_len) {
            done -= v.iov_len;
            continue;
        }
        out.push_back({static_cast<uint8_t*>(v.iov_base) + done, v.iov_len - done});
        done = 0;
    }
    return out;
}

}  // namespace ms
