#include "bdev/uring.h"

#include "bdev/file_ops.h"
#include "core/reactor.h"

namespace ms {
namespace {

class UringDevice final : public BlockDevice {
   public:
    explicit UringDevice(BackingFile file)
        : BlockDevice(file.path, "io_uring disk", file.geometry, file.uuid), _file(std::move(file)) {}

    bool io_type_supported(IoType) const override { return true; }

    Task<Status> submit(IoChannel&, IoRequest req) override {
        uint64_t offset = req.offset_blocks * block_size();
        uint64_t length = req.num_blocks * block_size();
        switch (req.type) {
            case IoType::Read:
                return transfer(false, offset, req.iov);
            case IoType::Write:
                return transfer(true, offset, req.iov);
            case IoType::Flush:
                return flush();
            case IoType::Unmap:
                return file_unmap(_file, offset, length, zero_writer());
            case IoType::WriteZeroes:
                return file_write_zeroes(_file, offset, length, zero_writer());
            case IoType::Reset:
                return ready(ok());
        }
        return ready(Status(make_error(EINVAL, "bad I/O type")));
    }

   private:
    ZeroWriter zero_writer() {
        return [this](uint64_t off, std::span<const iovec> iov) { return transfer(true, off, iov); };
    }

    static Task<int> one(bool write, int fd, uint64_t offset, std::span<const iovec> iov) {
        if (iov.size() == 1) {
            co_return co_await uring_op([&](io_uring_sqe* sqe) {
                if (write) {
                    io_uring_prep_write(sqe, fd, iov[0].iov_base, iov[0].iov_len, offset);
                } else {
                    io_uring_prep_read(sqe, fd, iov[0].iov_base, iov[0].iov_len, offset);
                }
            });
        }
        co_return co_await uring_op([&](io_uring_sqe* sqe) {
            if (write) {
                io_uring_prep_writev(sqe, fd, iov.data(), iov.size(), offset);
            } else {
                io_uring_prep_readv(sqe, fd, iov.data(), iov.size(), offset);
            }
        });
    }

    Task<Status> transfer(bool write, uint64_t offset, std::span<const iovec> iov) {
        int fd = _file.fd;
        return file_transfer(name(), write, offset, iov, [write, fd](uint64_t off, std::span<const iovec> v) {
            return one(write, fd, off, v);
        });
    }

    Task<Status> flush() {
        int fd = _file.fd;
        int res = co_await uring_op(
            [&](io_uring_sqe* sqe) { io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC); });
        if (res < 0) {
            co_return errno_error(res, fmt::format("flush of '{}'", name()));
        }
        co_return ok();
    }

    BackingFile _file;
};

}  // namespace

DeviceFactory uring_device_factory() {
    DeviceFactory f;
    f.name_of = &BackingFile::name_of;
    f.create = [](const Uri& uri) -> Task<Result<std::shared_ptr<BlockDevice>>> {
        auto file = BackingFile::open(uri);
        if (!file) {
            co_return std::unexpected(file.error());
        }
        co_return std::make_shared<UringDevice>(std::move(*file));
    };
    return f;
}

}  // namespace ms
