// Descriptor: an open handle on a BlockDevice, read-only or read-write. All I/O goes through a
// descriptor, which checks every request (alignment, range, mode, supported type) before the
// device sees it, and keeps one IoChannel per reactor.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "bdev/block_device.h"
#include "core/dma_buf.h"

namespace ms {

enum class OpenMode { ReadOnly, ReadWrite };

class Descriptor {
   public:
    // Opens `dev`. ReadWrite on a device claimed by someone else is EPERM unless `claim_owner`
    // is that owner. Usable from any reactor (each uses the device's channel for its core).
    static Result<std::unique_ptr<Descriptor>> open(std::shared_ptr<BlockDevice> dev, OpenMode mode,
                                                    std::string claim_owner = {});
    ~Descriptor();
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;

    BlockDevice& device() { return *_dev; }
    const std::shared_ptr<BlockDevice>& device_ptr() const { return _dev; }
    OpenMode mode() const { return _mode; }
    uint32_t block_size() const { return _dev->block_size(); }
    uint64_t size_bytes() const { return _dev->geometry().size_bytes(); }

    // Byte-addressed I/O. Offset and length must be multiples of the block size, inside the
    // device, and buffers aligned as the device needs; otherwise EINVAL (ERANGE past the end).
    Task<Status> readv(uint64_t offset, std::span<const iovec> iov);
    Task<Status> writev(uint64_t offset, std::span<const iovec> iov);
    Task<Status> read_at(uint64_t offset, DmaBuf& buf);
    Task<Status> write_at(uint64_t offset, const DmaBuf& buf);
    Task<Status> flush();
    Task<Status> unmap(uint64_t offset, uint64_t length);
    Task<Status> write_zeroes(uint64_t offset, uint64_t length);
    Task<Status> reset();

    // Block-addressed request (no byte-to-block conversion); same checks.
    Task<Status> submit(IoRequest req);

    // An aligned, zeroed buffer suitable for this device.
    Result<DmaBuf> dma_malloc(std::size_t size) const;

   private:
    Descriptor(std::shared_ptr<BlockDevice> dev, OpenMode mode) : _dev(std::move(dev)), _mode(mode) {}
    Status check(const IoRequest& req) const;

    std::shared_ptr<BlockDevice> _dev;
    OpenMode _mode;
};

}  // namespace ms
