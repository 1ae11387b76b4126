#include "bdev/descriptor.h"

#include "core/reactor.h"

namespace ms {

namespace {
Task<Status> fail(Error e) {
    co_return std::unexpected(std::move(e));
}

Task<Status> run_and_record(BlockDevice& dev, IoChannel& ch, IoRequest req) {
    Status s = co_await dev.submit(ch, req);
    ch.record(req, dev.block_size(), s.has_value());
    co_return s;
}
}  // namespace

Result<std::unique_ptr<Descriptor>> Descriptor::open(std::shared_ptr<BlockDevice> dev, OpenMode mode,
                                                     std::string claim_owner) {
    if (!dev) {
        return make_error(ENODEV, "no such device");
    }
    if (mode == OpenMode::ReadWrite) {
        std::string owner = dev->claimed_by();
        if (!owner.empty() && owner != claim_owner) {
            return errorf(EPERM, "device '{}' is claimed by '{}'; it cannot be opened read-write",
                          dev->name(), owner);
        }
    }
    ++dev->_open_count;
    return std::unique_ptr<Descriptor>(new Descriptor(std::move(dev), mode));
}

Descriptor::~Descriptor() {
    --_dev->_open_count;
}

Status Descriptor::check(const IoRequest& req) const {
    const Geometry& g = _dev->geometry();
    if (!_dev->io_type_supported(req.type)) {
        return errorf(ENOTSUP, "device '{}' does not support {}", _dev->name(), to_string(req.type));
    }
    bool writes = req.type == IoType::Write || req.type == IoType::Unmap || req.type == IoType::WriteZeroes;
    if (writes && _mode != OpenMode::ReadWrite) {
        return errorf(EBADF, "{} on a read-only descriptor of '{}'", to_string(req.type), _dev->name());
    }
    if (req.type == IoType::Flush || req.type == IoType::Reset) {
        return ok();
    }
    if (req.num_blocks == 0) {
        return errorf(EINVAL, "{} of zero blocks on '{}'", to_string(req.type), _dev->name());
    }
    if (req.offset_blocks > g.num_blocks || req.num_blocks > g.num_blocks - req.offset_blocks) {
        return errorf(ERANGE, "{} of blocks [{}, +{}) is beyond the end of '{}' ({} blocks)",
                      to_string(req.type), req.offset_blocks, req.num_blocks, _dev->name(), g.num_blocks);
    }
    if (req.type == IoType::Read || req.type == IoType::Write) {
        const uint64_t expected = req.num_blocks * g.block_size;
        uint64_t total = 0;
        for (const iovec& v : req.iov) {
            if (g.buf_align > 1 && (reinterpret_cast<uintptr_t>(v.iov_base) % g.buf_align != 0 ||
                                    v.iov_len % g.buf_align != 0)) {
                return errorf(EINVAL, "buffer not aligned to {} bytes as '{}' needs", g.buf_align,
                              _dev->name());
            }
            // Checked before adding: lengths whose sum wraps around 2^64 must not pass as the
            // right total.
            if (v.iov_len > expected - total) {
                return errorf(EINVAL, "{} buffers hold more than the {} blocks of {} bytes requested",
                              to_string(req.type), req.num_blocks, g.block_size);
            }
            total += v.iov_len;
        }
        if (total != expected) {
            return errorf(EINVAL, "{} buffers hold {} bytes but the request is {} blocks of {}",
                          to_string(req.type), total, req.num_blocks, g.block_size);
        }
    }
    return ok();
}

Task<Status> Descriptor::submit(IoRequest req) {
    if (Status s = check(req); !s) {
        return fail(std::move(s.error()));
    }
    IoChannel* ch = _dev->channel();
    if (ch == nullptr) {
        return fail(Error{EIO, "no I/O channel for device '" + _dev->name() + "'"});
    }
    return run_and_record(*_dev, *ch, req);
}

namespace {
// Byte range -> block range, or EINVAL if either end is not on a block boundary.
Result<std::pair<uint64_t, uint64_t>> to_blocks(uint64_t offset, uint64_t length, uint32_t bs,
                                                const std::string& name) {
    if (offset % bs != 0 || length % bs != 0) {
        return errorf(EINVAL, "I/O at offset {} length {} is not aligned to the {}-byte blocks of '{}'",
                      offset, length, bs, name);
    }
    return std::pair{offset / bs, length / bs};
}

uint64_t iov_length(std::span<const iovec> iov) {
    uint64_t n = 0;
    for (const auto& v : iov) {
        n += v.iov_len;
    }
    return n;
}
}  // namespace

Task<Status> Descriptor::readv(uint64_t offset, std::span<const iovec> iov) {
    auto blocks = to_blocks(offset, iov_length(iov), block_size(), _dev->name());
    if (!blocks) {
        return fail(std::move(blocks.error()));
    }
    return submit(IoRequest{IoType::Read, blocks->first, blocks->second, iov});
}

Task<Status> Descriptor::writev(uint64_t offset, std::span<const iovec> iov) {
    auto blocks = to_blocks(offset, iov_length(iov), block_size(), _dev->name());
    if (!blocks) {
        return fail(std::move(blocks.error()));
    }
    return submit(IoRequest{IoType::Write, blocks->first, blocks->second, iov});
}

Task<Status> Descriptor::read_at(uint64_t offset, DmaBuf& buf) {
    iovec v = buf.iov();
    co_return co_await readv(offset, {&v, 1});
}

Task<Status> Descriptor::write_at(uint64_t offset, const DmaBuf& buf) {
    iovec v{const_cast<uint8_t*>(buf.data()), buf.size()};
    co_return co_await writev(offset, {&v, 1});
}

Task<Status> Descriptor::flush() {
    return submit(IoRequest{IoType::Flush, 0, 0, {}});
}

Task<Status> Descriptor::reset() {
    return submit(IoRequest{IoType::Reset, 0, 0, {}});
}

Task<Status> Descriptor::unmap(uint64_t offset, uint64_t length) {
    auto blocks = to_blocks(offset, length, block_size(), _dev->name());
    if (!blocks) {
        return fail(std::move(blocks.error()));
    }
    return submit(IoRequest{IoType::Unmap, blocks->first, blocks->second, {}});
}

Task<Status> Descriptor::write_zeroes(uint64_t offset, uint64_t length) {
    auto blocks = to_blocks(offset, length, block_size(), _dev->name());
    if (!blocks) {
        return fail(std::move(blocks.error()));
    }
    return submit(IoRequest{IoType::WriteZeroes, blocks->first, blocks->second, {}});
}

Result<DmaBuf> Descriptor::dma_malloc(std::size_t size) const {
    std::size_t align = std::max<std::size_t>(_dev->geometry().buf_align, DmaBuf::kDefaultAlign);
    return DmaBuf::allocate(size, align);
}

}  // namespace ms
