// The nexus's I/O path: writes (and unmap, write-zeroes, flush, reset) to every child in the
// channel's write set at once, reads round-robin over open children with retry elsewhere, and
// the handling of a child that fails (fault it, or refuse if it is the last open one). Runs on
// whichever reactor submitted the request, through that reactor's NexusChannel; only a child's
// failure takes a trip to the home reactor.
#include <array>
#include <span>

#include "core/log.h"
#include "nexus/fan_out.h"
#include "nexus/nexus_device.h"

namespace ms::nexus {

namespace {

// Requests that change data: held by range locks and recorded in write-intent logs.
bool changes_data(IoType t) {
    return t == IoType::Write || t == IoType::Unmap || t == IoType::WriteZeroes;
}

}  // namespace

Task<Status> Nexus::submit(IoChannel& ch, IoRequest req) {
    auto& c = static_cast<NexusChannel&>(ch);
    if (req.type == IoType::Read) {
        return read(c, req);
    }
    return write(c, req);
}

Nexus::AckGate Nexus::ack_gate() const {
    const uint64_t barrier = _ack_barrier.load(std::memory_order_acquire);
    if (_persisted.load(std::memory_order_acquire) >= barrier) {
        return AckGate::Open;
    }
    if (_persist_failed.load(std::memory_order_acquire) >= barrier) {
        return AckGate::Failed;
    }
    return AckGate::Wait;
}

Error Nexus::ack_error() const {
    return Error{EIO,
                 "nexus '" + name() + "': the store could not record a faulted child; I/O not acknowledged"};
}

Task<Nexus::ChildResult> Nexus::child_io(NexusChannel& c, ChildView* v, IoRequest req) {
    ++v->inflight;
    ChildResult r;
    r.status = co_await v->spec.desc->submit(req);
    co_await switch_to(c.reactor());
    if (!r.status) {
        r.tolerated = co_await report_failure(v->child, req, r.status.error());
    }
    r.current = v->child->is_open();
    // From here the view may be dropped (the child is being removed): not touched again.
    if (--v->inflight == 0) {
        v->drained.wake_all();
    }
    co_return r;
}

Task<bool> Nexus::report_failure(NexusChild* child, IoRequest req, Error error) {
    Reactor& back = *Reactor::current();
    co_await switch_to(*_home);
    const bool tolerated = on_child_failure(child, req, error);
    co_await switch_to(back);
    co_return tolerated;
}

Task<Status> Nexus::write(NexusChannel& c, IoRequest req) {
    const bool data = changes_data(req.type);
    std::optional<NexusChannel::InflightWrite> inflight;
    if (data) {
        while (c.blocked(req.offset_blocks, req.num_blocks)) {
            co_await c.unlocked().wait();
        }
        inflight.emplace(c, req.offset_blocks, req.num_blocks);
    }
    std::array<ChildView*, kMaxChildren> targets{};
    const std::size_t n = c.write_targets(req, data, targets);
    std::array<ChildResult, kMaxChildren> results;
    std::span<ChildResult> slots(results.data(), n);
    co_await all_of(slots, [&](std::size_t i) { return child_io(c, targets[i], req); });
    inflight.reset();

    // Done when every failed child was faulted and at least one current child has the data.
    Status s = ok();
    Status absorbed = ok();
    bool refused = false;
    bool current_ok = false;
    for (ChildResult& r : slots) {
        if (r.status) {
            current_ok |= r.current;
        } else if (!r.tolerated) {
            if (!refused) {
                refused = true;
                s = std::move(r.status);
            }
        } else if (absorbed) {
            absorbed = std::move(r.status);
        }
    }
    if (!refused && !current_ok) {
        if (!absorbed) {
            s = std::move(absorbed);
        } else {
            s = errorf(ENXIO, "nexus '{}' has no open child for {}", name(), to_string(req.type));
        }
    }
    for (;;) {
        AckGate g = ack_gate();
        if (g == AckGate::Open) {
            break;
        }
        if (g == AckGate::Failed) {
            s = std::unexpected(ack_error());
            break;
        }
        co_await c.persisted().wait();
    }
    co_return s;
}

Task<Status> Nexus::read(NexusChannel& c, IoRequest req) {
    std::array<NexusChild*, kMaxChildren> tried{};
    std::size_t n_tried = 0;
    Status s;
    bool answered = false;
    while (n_tried < kMaxChildren) {
        ChildView* v = c.next_reader(std::span<NexusChild* const>(tried.data(), n_tried));
        if (v == nullptr) {
            break;
        }
        tried[n_tried++] = v->child;
        ChildResult r = co_await child_io(c, v, req);
        s = std::move(r.status);
        answered = true;
        if (s || !r.tolerated) {
            break;  // read, or failed on the last open child: the error is the caller's
        }
    }
    if (!answered) {
        s = errorf(ENXIO, "nexus '{}' has no open child to read from", name());
    }
    for (;;) {
        AckGate g = ack_gate();
        if (g == AckGate::Open) {
            break;
        }
        if (g == AckGate::Failed) {
            s = std::unexpected(ack_error());
            break;
        }
        co_await c.persisted().wait();
    }
    co_return s;
}

bool Nexus::on_child_failure(NexusChild* child, const IoRequest& req, const Error& error) {
    const bool data = changes_data(req.type);
    if (child->is_open()) {
        if (open_children() <= 1) {
            log::error("nexus '{}': {} on its last open child '{}' failed ({}); not faulting it", name(),
                       to_string(req.type), child->uri(), error.message);
            return false;
        }
        log::warn("nexus '{}': {} on child '{}' failed ({}); faulting it", name(), to_string(req.type),
                  child->uri(), error.message);
        start_log(*child);
        if (data) {
            child->wil->mark(req.offset_blocks, req.num_blocks);
        } else if (req.type != IoType::Read) {
            child->wil_complete = false;  // a failed flush: which blocks it lost is unknown
        }
        child->set_state(ChildState::Faulted, FaultReason::IoError);
        note_health_change(true);
        _home->spawn(retire(self(), shared_child(child)));
        return true;
    }
    if (child->out_of_sync() && child->in_write_set) {
        // A rebuild destination failed an application write: its rebuild fails; the others
        // have the data.
        log::warn("nexus '{}': {} on rebuilding child '{}' failed ({}); its rebuild fails", name(),
                  to_string(req.type), child->uri(), error.message);
        child->set_state(ChildState::Faulted, FaultReason::RebuildFailed);
        child->in_write_set = false;
        child->wil.reset();
        child->wil_complete = false;
        if (child->promoting) {
            child->promoting = false;
            note_health_change(true);
        }
        {
            std::lock_guard g(_mutex);
            if (auto it = _rebuilds.find(child->uri()); it != _rebuilds.end()) {
                it->second.job->stop();
            }
        }
        _home->spawn(retire(self(), shared_child(child)));
        return true;
    }
    // Already out of I/O (a late failure of a request issued before it left).
    if (data && child->wil) {
        child->wil->mark(req.offset_blocks, req.num_blocks);
    }
    return true;
}

}  // namespace ms::nexus
