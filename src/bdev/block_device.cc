#include "bdev/block_device.h"

#include "core/log.h"
#include "core/reactor.h"

namespace ms {

std::string_view to_string(IoType t) {
    switch (t) {
        case IoType::Read:
            return "read";
        case IoType::Write:
            return "write";
        case IoType::Flush:
            return "flush";
        case IoType::Unmap:
            return "unmap";
        case IoType::WriteZeroes:
            return "write_zeroes";
        case IoType::Reset:
            return "reset";
    }
    return "unknown";
}

void IoChannel::record(const IoRequest& req, uint32_t block_size, bool ok) {
    if (!ok) {
        _errors.add(1);
        return;
    }
    uint64_t bytes = req.num_blocks * block_size;
    switch (req.type) {
        case IoType::Read:
            _read_ops.add(1);
            _bytes_read.add(bytes);
            break;
        case IoType::Write:
            _write_ops.add(1);
            _bytes_written.add(bytes);
            break;
        case IoType::Unmap:
            _unmap_ops.add(1);
            _bytes_unmapped.add(bytes);
            break;
        default:
            break;
    }
}

void IoChannel::add_to(IoStats& t) const {
    t.num_read_ops += _read_ops.get();
    t.num_write_ops += _write_ops.get();
    t.bytes_read += _bytes_read.get();
    t.bytes_written += _bytes_written.get();
    t.num_unmap_ops += _unmap_ops.get();
    t.bytes_unmapped += _bytes_unmapped.get();
    t.num_errors += _errors.get();
}

BlockDevice::BlockDevice(std::string name, std::string product, Geometry geometry, Uuid uuid)
    : _name(std::move(name)), _product(std::move(product)), _geometry(geometry), _uuid(uuid) {}

IoChannel* BlockDevice::channel() {
    unsigned id = Reactor::current()->id();
    if (id >= kMaxReactors) {
        log::error("{}: reactor id {} out of range", _name, id);
        return nullptr;
    }
    IoChannel* ch = _channels[id].load(std::memory_order_relaxed);
    if (ch != nullptr) {
        return ch;
    }
    auto made = create_channel();
    if (!made) {
        log::error("{}: cannot create an I/O channel on reactor {}: {}", _name, id, made.error().to_string());
        return nullptr;
    }
    ch = made->get();
    {
        std::lock_guard g(_channels_mutex);
        _owned_channels.push_back(std::move(*made));
    }
    _channels[id].store(ch, std::memory_order_release);
    return ch;
}

IoStats BlockDevice::stats() const {
    IoStats total;
    for (const auto& slot : _channels) {
        if (IoChannel* ch = slot.load(std::memory_order_acquire); ch != nullptr) {
            ch->add_to(total);
        }
    }
    return total;
}

Task<Status> BlockDevice::create_snapshot(uint64_t) {
    co_return errorf(ENOTSUP, "device '{}' ({}) cannot take snapshots", _name, _product);
}

Status BlockDevice::claim(const std::string& owner) {
    if (owner.empty()) {
        return make_error(EINVAL, "a claim needs an owner name");
    }
    std::lock_guard g(_claim_mutex);
    if (!_claimed_by.empty() && _claimed_by != owner) {
        return errorf(EBUSY, "device '{}' is already claimed by '{}'", _name, _claimed_by);
    }
    _claimed_by = owner;
    return ok();
}

void BlockDevice::release_claim(const std::string& owner) {
    std::lock_guard g(_claim_mutex);
    if (_claimed_by == owner) {
        _claimed_by.clear();
    }
}

std::string BlockDevice::claimed_by() const {
    std::lock_guard g(_claim_mutex);
    return _claimed_by;
}

}  // namespace ms
