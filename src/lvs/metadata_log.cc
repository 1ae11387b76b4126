#include "lvs/metadata_log.h"

#include "core/log.h"
#include "core/reactor.h"

namespace ms::lvs {

MetadataLog::MetadataLog(Descriptor& base, const Superblock& sb, PoolState& state, std::mutex& state_mutex,
                         unsigned image_area, uint64_t next_seq, uint64_t tail)
    : _base(base),
      _sb(sb),
      _state(state),
      _state_mutex(state_mutex),
      _image_area(image_area),
      _next_seq(next_seq),
      _tail(tail) {}

Status MetadataLog::fail(Error e) {
    if (!_failure) {
        log::error(
            "pool '{}': metadata write failed, its metadata is read-only until it is imported again: {}",
            _sb.name, e.message);
        _failure = Error{e.code, fmt::format("pool '{}' metadata is read-only after a failed write ({}); "
                                             "export and import it again",
                                             _sb.name, e.message)};
    }
    return std::unexpected(*_failure);
}

Task<Status> MetadataLog::commit(std::vector<Record> records, bool after_data) {
    if (_failure) {
        co_return std::unexpected(*_failure);
    }
    Pending p;
    p.after_data = after_data;
    for (const Record& r : records) {
        p.bytes += record_size(r);
    }
    p.records = std::move(records);
    if (p.bytes > uint64_t{_sb.layout.log_pages} * kPagePayload) {
        co_return errorf(EFBIG, "a metadata update of {} bytes does not fit in the log", p.bytes);
    }
    _queue.push_back(&p);
    if (!_writing) {
        _writing = true;
        Reactor::current()->spawn(run_writer());
    }
    co_await Wait{p};
    co_return std::move(p.result);
}

Task<void> MetadataLog::run_writer() {
    const uint64_t max_bytes = uint64_t{_sb.layout.log_pages} * kPagePayload;
    while (!_queue.empty()) {
        std::vector<Pending*> batch;
        uint64_t bytes = 0;
        while (!_queue.empty() && (batch.empty() || bytes + _queue.front()->bytes <= max_bytes)) {
            bytes += _queue.front()->bytes;
            batch.push_back(_queue.front());
            _queue.pop_front();
        }
        Status s = _failure ? Status(std::unexpected(*_failure)) : co_await write_batch(batch);
        Reactor* r = Reactor::current();
        for (Pending* p : batch) {
            p->result = s;
            p->done = true;
            if (p->waiter) {
                r->schedule(p->waiter);
            }
        }
    }
    _writing = false;
    _idle.wake_all();
}

Task<Status> MetadataLog::write_batch(std::vector<Pending*>& batch) {
    std::vector<uint8_t> stream;
    ByteWriter w(stream);
    bool after_data = false;
    std::size_t records = 0;
    for (Pending* p : batch) {
        after_data |= p->after_data;
        for (const Record& r : p->records) {
            encode_record(w, r);
            ++records;
        }
    }
    const uint64_t pages = pages_for(stream.size());
    if (_tail + pages > _sb.layout.log_pages) {
        if (Status s = co_await write_image(); !s) {
            co_return fail(s.error());
        }
    }
    if (after_data) {
        ++_stats.flushes;
        if (Status s = co_await _base.flush(); !s) {
            co_return fail(s.error());
        }
    }
    auto buf = _base.dma_malloc(pages * kPageSize);
    if (!buf) {
        co_return std::unexpected(buf.error());  // nothing written: the pool stays usable
    }
    frame_stream(stream, kLogMagic, _sb.uuid, _next_seq, buf->span());
    const uint64_t offset = (_sb.layout.log_page() + _tail) * kPageSize;
    if (Status s = co_await _base.write_at(offset, *buf); !s) {
        co_return fail(s.error());
    }
    ++_stats.flushes;
    if (Status s = co_await _base.flush(); !s) {
        co_return fail(s.error());
    }
    _tail += pages;
    ++_next_seq;
    ++_stats.batches;
    _stats.records += records;
    std::lock_guard g(_state_mutex);
    for (Pending* p : batch) {
        for (const Record& r : p->records) {
            // Checked by the caller before it queued the record; checked again because a
            // record that is durable but not applied would make memory and disk disagree.
            if (Status s = _state.validate(r); !s) {
                log::critical("pool '{}': durable {} record of lvol {} does not apply: {}", _sb.name,
                              to_string(r.type), r.id, s.error().message);
                co_return fail(s.error());
            }
            _state.apply(r);
        }
    }
    co_return ok();
}

Task<Status> MetadataLog::write_image() {
    const uint64_t seq = _next_seq - 1;
    std::vector<uint8_t> stream;
    _state.encode_image(seq, stream);
    const uint64_t pages = pages_for(stream.size());
    if (pages > _sb.layout.image_pages) {
        co_return errorf(ENOSPC, "an image of {} pages does not fit in the {}-page image area", pages,
                         _sb.layout.image_pages);
    }
    auto buf = _base.dma_malloc(pages * kPageSize);
    if (!buf) {
        co_return std::unexpected(buf.error());
    }
    frame_stream(stream, kImageMagic, _sb.uuid, seq, buf->span());
    const unsigned target = 1 - _image_area;
    if (Status s = co_await _base.write_at(_sb.layout.image_page(target) * kPageSize, *buf); !s) {
        co_return s;
    }
    ++_stats.flushes;
    if (Status s = co_await _base.flush(); !s) {
        co_return s;
    }
    // The new image is durable: from here on the log restarts at its first page, and the
    // old image (and the old log it needed) may be overwritten.
    _image_area = target;
    _tail = 0;
    ++_stats.checkpoints;
    co_return ok();
}

Task<Status> MetadataLog::checkpoint() {
    co_await drain();
    if (_failure) {
        co_return std::unexpected(*_failure);
    }
    _writing = true;
    Status s = co_await write_image();
    _writing = false;
    if (!_queue.empty()) {
        // Commits queued meanwhile found the writer busy: start it for them.
        _writing = true;
        Reactor::current()->spawn(run_writer());
    } else {
        _idle.wake_all();
    }
    if (!s) {
        co_return fail(s.error());
    }
    co_return ok();
}

Task<void> MetadataLog::drain() {
    while (_writing) {
        co_await _idle.wait();
    }
}

}  // namespace ms::lvs
