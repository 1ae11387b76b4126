#include "nexus/nexus_channel.h"

#include <algorithm>

namespace ms::nexus {

NexusChannel::NexusChannel(Reactor& reactor, std::vector<std::pair<NexusChild*, ViewSpec>> views,
                           std::vector<LockedRange> locks)
    : _reactor(reactor), _locks(std::move(locks)) {
    for (auto& [child, spec] : views) {
        auto v = std::make_unique<ChildView>();
        v->child = child;
        v->spec = spec;
        _views.push_back(std::move(v));
    }
}

ChildView* NexusChannel::find(NexusChild* child) {
    for (auto& v : _views) {
        if (v->child == child) {
            return v.get();
        }
    }
    return nullptr;
}

Task<void> NexusChannel::apply(NexusChild* child, ViewSpec spec) {
    ChildView* v = find(child);
    if (v == nullptr) {
        if (spec.removed) {
            co_return;
        }
        _views.push_back(std::make_unique<ChildView>());
        v = _views.back().get();
        v->child = child;
    }
    v->spec = spec;
    if (spec.readable || spec.writable) {
        co_return;
    }
    while (v->inflight != 0) {
        co_await v->drained.wait();
    }
    if (spec.removed) {
        // Nothing of this channel refers to the view any more: requests hold a view only
        // while counted in `inflight`.
        std::erase_if(_views, [v](const auto& p) { return p.get() == v; });
    }
}

ChildView* NexusChannel::next_reader(std::span<NexusChild* const> tried) {
    const std::size_t n = _views.size();
    for (std::size_t k = 0; k < n; ++k) {
        ChildView* v = _views[(_next_read + k) % n].get();
        if (!v->spec.readable || !v->child->is_open()) {
            continue;
        }
        if (std::find(tried.begin(), tried.end(), v->child) != tried.end()) {
            continue;
        }
        _next_read = (_next_read + k + 1) % n;
        return v;
    }
    return nullptr;
}

std::size_t NexusChannel::write_targets(const IoRequest& req, bool marks, std::span<ChildView*> out) {
    std::size_t n = 0;
    for (auto& v : _views) {
        if (v->spec.writable) {
            if (n < out.size()) {
                out[n++] = v.get();
            }
        } else if (marks && v->spec.wil != nullptr) {
            v->spec.wil->mark(req.offset_blocks, req.num_blocks);
        }
    }
    return n;
}

bool NexusChannel::blocked(uint64_t offset, uint64_t blocks) const {
    return std::any_of(_locks.begin(), _locks.end(),
                       [&](const LockedRange& r) { return r.overlaps(offset, blocks); });
}

bool NexusChannel::write_in_flight(uint64_t offset, uint64_t blocks) const {
    for (const InflightWrite* w = _writes; w != nullptr; w = w->_next) {
        if (w->_offset < offset + blocks && offset < w->_offset + w->_blocks) {
            return true;
        }
    }
    return false;
}

Task<void> NexusChannel::lock(LockedRange range) {
    if (std::none_of(_locks.begin(), _locks.end(), [&](const LockedRange& r) { return r.id == range.id; })) {
        _locks.push_back(range);
    }
    while (write_in_flight(range.offset, range.blocks)) {
        co_await _write_done.wait();
    }
}

void NexusChannel::unlock(uint64_t id) {
    std::erase_if(_locks, [id](const LockedRange& r) { return r.id == id; });
    _unlocked.wake_all();
}

NexusChannel::InflightWrite::InflightWrite(NexusChannel& c, uint64_t offset, uint64_t blocks)
    : _c(c), _offset(offset), _blocks(blocks), _next(c._writes) {
    if (_next != nullptr) {
        _next->_prev = this;
    }
    c._writes = this;
}

NexusChannel::InflightWrite::~InflightWrite() {
    if (_prev != nullptr) {
        _prev->_next = _next;
    } else {
        _c._writes = _next;
    }
    if (_next != nullptr) {
        _next->_prev = _prev;
    }
    _c._write_done.wake_all();
}

void NexusChannel::post_wake() {
    if (!_wake.queued.exchange(true, std::memory_order_acq_rel)) {
        _reactor.post(&_wake);
    }
}

void NexusChannel::WakeMessage::run() {
    queued.store(false, std::memory_order_release);
    _c._persisted.wake_all();
}

}  // namespace ms::nexus
