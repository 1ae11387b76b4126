#include "bdev/file_ops.h"

#include <fcntl.h>
#include <linux/falloc.h>

#include <algorithm>

#include "core/dma_buf.h"
#include "core/reactor.h"

namespace ms {
namespace {

constexpr std::size_t kZeroChunk = 1 << 20;

const DmaBuf& zero_buffer() {
    static DmaBuf buf = std::move(*DmaBuf::allocate(kZeroChunk, 4096, true));
    return buf;
}

Task<Status> write_zero_buffers(uint64_t offset, uint64_t length, const ZeroWriter& write_fn) {
    const DmaBuf& zeros = zero_buffer();
    while (length > 0) {
        std::size_t n = std::min<uint64_t>(length, kZeroChunk);
        iovec v{const_cast<uint8_t*>(zeros.data()), n};
        Status s = co_await write_fn(offset, {&v, 1});
        if (!s) {
            co_return s;
        }
        offset += n;
        length -= n;
    }
    co_return ok();
}

Task<int> fallocate(int fd, int mode, uint64_t offset, uint64_t length) {
    co_return co_await uring_op(
        [&](io_uring_sqe* sqe) { io_uring_prep_fallocate(sqe, fd, mode, offset, length); });
}

}  // namespace

Task<Status> file_unmap(BackingFile& f, uint64_t offset, uint64_t length, ZeroWriter write_fn) {
    if (f.is_block_device) {
        co_return f.discard_blocks(offset, length);
    }
    int res = co_await fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    if (res == -EOPNOTSUPP) {
        co_return co_await write_zero_buffers(offset, length, write_fn);
    }
    if (res < 0) {
        co_return errno_error(res, fmt::format("punch hole in '{}'", f.path));
    }
    co_return ok();
}

Task<Status> file_write_zeroes(BackingFile& f, uint64_t offset, uint64_t length, ZeroWriter write_fn) {
    if (f.is_block_device) {
        Status s = f.zero_blocks(offset, length);
        if (s) {
            co_return s;
        }
        co_return co_await write_zero_buffers(offset, length, write_fn);
    }
    int res = co_await fallocate(f.fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
    if (res == -EOPNOTSUPP) {
        res = co_await fallocate(f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }
    if (res == -EOPNOTSUPP) {
        co_return co_await write_zero_buffers(offset, length, write_fn);
    }
    if (res < 0) {
        co_return errno_error(res, fmt::format("zero range in '{}'", f.path));
    }
    co_return ok();
}

}  // namespace ms
