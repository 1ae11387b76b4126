// The data path of a pool's lvols, on the pool's reactor. The common case, an I/O inside one
// cluster that the lvol owns (every I/O of a thick replica that does not cross a cluster
// boundary), is a map lookup and one submit to the base device. Everything else (crossing
// clusters, reads through snapshots, first writes of thin lvols, copy-on-write, zeroing,
// frozen lvols) goes the slow path, one cluster at a time.
#include <algorithm>
#include <cstring>

#include "bdev/device_registry.h"
#include "lvs/lvol_device.h"
#include "lvs/pool.h"

namespace ms::lvs {
namespace {

bool is_write(IoType t) {
    return t == IoType::Write || t == IoType::Unmap || t == IoType::WriteZeroes;
}

// The part [offset, offset + length) of the buffers `iov`.
void slice_iov(std::span<const iovec> iov, std::size_t offset, std::size_t length, std::vector<iovec>& out) {
    out.clear();
    for (const iovec& v : iov) {
        if (length == 0) {
            break;
        }
        if (offset >= v.iov_len) {
            offset -= v.iov_len;
            continue;
        }
        std::size_t n = std::min(v.iov_len - offset, length);
        out.push_back({static_cast<uint8_t*>(v.iov_base) + offset, n});
        length -= n;
        offset = 0;
    }
}

void zero_iov(std::span<const iovec> iov) {
    for (const iovec& v : iov) {
        std::memset(v.iov_base, 0, v.iov_len);
    }
}

void copy_from_iov(uint8_t* dst, std::span<const iovec> iov) {
    for (const iovec& v : iov) {
        std::memcpy(dst, v.iov_base, v.iov_len);
        dst += v.iov_len;
    }
}

// Physical cluster holding logical cluster k for `l`: its own, or the nearest ancestor's.
uint32_t resolve(const Lvol* l, uint32_t k) {
    for (; l != nullptr; l = l->parent) {
        uint32_t p = l->map.get(k);
        if (p != kNoCluster) {
            return p;
        }
    }
    return kNoCluster;
}

}  // namespace

IoRequest Pool::translate(const IoRequest& req, uint32_t physical) const {
    IoRequest out = req;
    const uint64_t mask = (uint64_t{1} << _cluster_shift) - 1;
    out.offset_blocks = cluster_block(physical) + (req.offset_blocks & mask);
    return out;
}

Task<Status> Pool::io(Lvol& l, IoRequest req) {
    const uint64_t first = req.offset_blocks >> _cluster_shift;
    const bool one_cluster =
        req.num_blocks != 0 && ((req.offset_blocks + req.num_blocks - 1) >> _cluster_shift) == first;
    switch (req.type) {
        case IoType::Read:
            if (one_cluster && l.io.frozen != LvolIo::kAll) {
                uint32_t p = resolve(&l, static_cast<uint32_t>(first));
                if (p != kNoCluster) {
                    return read_direct(l, translate(req, p));
                }
            }
            return io_slow(l, req);
        case IoType::Write:
            if (l.kind == LvolKind::Snapshot) {
                return ready(Status(errorf(EROFS, "'{}' is a read-only snapshot", l.name)));
            }
            if (one_cluster && l.io.frozen == LvolIo::kNone) {
                uint32_t p = l.map.get(static_cast<uint32_t>(first));
                if (p != kNoCluster) {
                    return write_direct(l, translate(req, p));
                }
            }
            return io_slow(l, req);
        case IoType::Unmap:
        case IoType::WriteZeroes:
            if (l.kind == LvolKind::Snapshot) {
                return ready(Status(errorf(EROFS, "'{}' is a read-only snapshot", l.name)));
            }
            return io_slow(l, req);
        case IoType::Flush:
            return flush_lvol(l);
        case IoType::Reset:
            return ready(ok());
    }
    return ready(Status(make_error(EINVAL, "bad I/O type")));
}

Task<Status> Pool::base_io(IoRequest req) {
    Status s = co_await _base_dev->submit(*_base_ch, req);
    _base_ch->record(req, _block_size, s.has_value());
    co_return s;
}

Task<Status> Pool::read_direct(Lvol& l, IoRequest req) {
    ++l.io.inflight;
    Status s = co_await _base_dev->submit(*_base_ch, req);
    _base_ch->record(req, _block_size, s.has_value());
    --l.io.inflight;
    l.io.changed.wake_all();
    co_return s;
}

Task<Status> Pool::write_direct(Lvol& l, IoRequest req) {
    ++l.io.inflight;
    ++l.io.writes;
    Status s = co_await _base_dev->submit(*_base_ch, req);
    _base_ch->record(req, _block_size, s.has_value());
    --l.io.writes;
    --l.io.inflight;
    l.io.changed.wake_all();  // a freezer or closer waiting for these counts to reach 0
    co_return s;
}

Task<Status> Pool::flush_lvol(Lvol& l) {
    ++l.io.inflight;
    Status s = co_await base_io(IoRequest{IoType::Flush, 0, 0, {}});
    if (--l.io.inflight == 0) {
        l.io.changed.wake_all();
    }
    co_return s;
}

Task<Status> Pool::io_slow(Lvol& l, IoRequest req) {
    const bool writes = is_write(req.type);
    // Not counted while it waits: the freezer waits for the counted ones to finish.
    while (l.io.frozen == LvolIo::kAll || (writes && l.io.frozen != LvolIo::kNone)) {
        co_await l.io.thawed.wait();
    }
    ++l.io.inflight;
    if (writes) {
        ++l.io.writes;
    }
    Status s = ok();
    const uint64_t per_cluster = uint64_t{1} << _cluster_shift;
    uint64_t at = req.offset_blocks;
    uint64_t left = req.num_blocks;
    std::size_t iov_at = 0;
    std::vector<iovec> part;
    while (left > 0 && s) {
        const uint32_t k = static_cast<uint32_t>(at >> _cluster_shift);
        const uint64_t in = at & (per_cluster - 1);
        const uint64_t n = std::min(left, per_cluster - in);
        const std::size_t bytes = n * _block_size;
        if (!req.iov.empty()) {
            slice_iov(req.iov, iov_at, bytes, part);
        }
        s = co_await segment(l, req.type, k, in, n, part);
        at += n;
        left -= n;
        iov_at += bytes;
    }
    if (writes) {
        --l.io.writes;
    }
    if (--l.io.inflight == 0 || (writes && l.io.writes == 0)) {
        l.io.changed.wake_all();
    }
    co_return s;
}

Task<Status> Pool::segment(Lvol& l, IoType type, uint32_t k, uint64_t in, uint64_t n,
                           std::span<const iovec> iov) {
    for (;;) {
        switch (type) {
            case IoType::Read: {
                uint32_t p = resolve(&l, k);
                if (p == kNoCluster) {
                    zero_iov(iov);
                    co_return ok();
                }
                co_return co_await base_io(IoRequest{IoType::Read, cluster_block(p) + in, n, iov});
            }
            case IoType::Write: {
                uint32_t p = l.map.get(k);
                if (p != kNoCluster) {
                    co_return co_await base_io(IoRequest{IoType::Write, cluster_block(p) + in, n, iov});
                }
                break;
            }
            case IoType::Unmap:
            case IoType::WriteZeroes: {
                // Unmap is write-zeroes: reads after it return zeros on every base device.
                uint32_t p = l.map.get(k);
                if (p != kNoCluster) {
                    co_return co_await base_io(IoRequest{IoType::WriteZeroes, cluster_block(p) + in, n, {}});
                }
                if (resolve(l.parent, k) == kNoCluster) {
                    co_return ok();  // reads of it return zeros already
                }
                break;
            }
            default:
                co_return make_error(EINVAL, "bad I/O type");
        }
        auto done = co_await allocate(l, k, in, n, type == IoType::Write ? iov : std::span<const iovec>{});
        if (!done) {
            co_return std::unexpected(done.error());
        }
        if (*done) {
            co_return ok();
        }
        // Another writer allocated the cluster meanwhile: go again, now to its cluster.
    }
}

Task<Result<bool>> Pool::allocate(Lvol& l, uint32_t k, uint64_t in, uint64_t n, std::span<const iovec> iov) {
    const uint64_t key = (uint64_t{l.id} << 32) | k;
    if (auto it = _allocating.find(key); it != _allocating.end()) {
        co_await it->second->wait();
        co_return false;
    }
    if (l.map.get(k) != kNoCluster) {
        co_return false;
    }
    WaitQueue done;
    _allocating.emplace(key, &done);
    Status s = co_await fill_and_map(l, k, in, n, iov);
    _allocating.erase(key);
    done.wake_all();
    if (!s) {
        co_return std::unexpected(s.error());
    }
    co_return true;
}

// A new cluster for logical cluster k of `l`: reserved, filled (the ancestor's data or zeros,
// with this write on top), made durable, and only then published in the map by a durable
// MapCluster record. A crash before the record leaves the cluster free and unseen.
Task<Status> Pool::fill_and_map(Lvol& l, uint32_t k, uint64_t in, uint64_t n, std::span<const iovec> iov) {
    if (_log->failure()) {
        co_return std::unexpected(*_log->failure());
    }
    auto reserved = _state->reserve(1);
    if (!reserved) {
        co_return errorf(ENOSPC, "pool '{}' has no free cluster for a write to '{}'", name(), l.name);
    }
    const uint32_t p = reserved->front().physical;
    const uint64_t cluster_blocks = uint64_t{1} << _cluster_shift;
    const uint64_t base = cluster_block(p);
    const uint32_t src = resolve(l.parent, k);
    const bool zeros = iov.empty();
    Status s = ok();
    if (src != kNoCluster) {
        auto buf = _base->dma_malloc(cluster_blocks * _block_size);
        if (!buf) {
            s = std::unexpected(buf.error());
        } else {
            iovec whole = buf->iov();
            s = co_await base_io(IoRequest{IoType::Read, cluster_block(src), cluster_blocks, {&whole, 1}});
            if (s) {
                uint8_t* at = buf->data() + in * _block_size;
                if (zeros) {
                    std::memset(at, 0, n * _block_size);
                } else {
                    copy_from_iov(at, iov);
                }
                s = co_await base_io(IoRequest{IoType::Write, base, cluster_blocks, {&whole, 1}});
            }
        }
    } else if (zeros) {
        s = co_await base_io(IoRequest{IoType::WriteZeroes, base, cluster_blocks, {}});
    } else {
        if (in > 0) {
            s = co_await base_io(IoRequest{IoType::WriteZeroes, base, in, {}});
        }
        if (s) {
            s = co_await base_io(IoRequest{IoType::Write, base + in, n, iov});
        }
        if (s && in + n < cluster_blocks) {
            s = co_await base_io(IoRequest{IoType::WriteZeroes, base + in + n, cluster_blocks - in - n, {}});
        }
    }
    if (!s) {
        _state->unreserve(p);
        co_return s;
    }
    Record rec;
    rec.type = RecordType::MapCluster;
    rec.id = l.id;
    rec.logical = k;
    rec.physical = p;
    if (Status v = _state->validate(rec); !v) {
        _state->unreserve(p);
        co_return v;
    }
    s = co_await _log->commit(rec, true);
    if (!s && !_log->failure()) {
        _state->unreserve(p);  // not written at all: the cluster is free again
    }
    co_return s;
}

}  // namespace ms::lvs
