// The store record of which children are current, and the rule that protects it: once a child
// stops being current, no I/O is acknowledged until the store says so (a crash then never
// leaves the store calling a stale child current). One writer task per nexus puts the latest
// record; I/O waiting for it sits on its channel's queue and is woken by message.
#include <chrono>

#include "core/log.h"
#include "nexus/nexus_device.h"
#include "store/kv_store.h"

namespace ms::nexus {

namespace {
// A failed put is retried this often (the nexus acknowledges no I/O meanwhile).
constexpr auto kRetryInterval = std::chrono::milliseconds(100);
constexpr int kRetrySlices = 10;
}  // namespace

HealthRecord Nexus::record() const {
    HealthRecord r;
    r.name = name();
    r.size = _config.size;
    for (const auto& c : _children) {
        if (c->state() != ChildState::Destroying) {
            r.children.push_back({c->uri(), c->is_open() || c->promoting});
        }
    }
    return r;
}

uint64_t Nexus::note_health_change(bool stale) {
    const uint64_t v = ++_health_version;
    if (!_config.store) {
        // Nowhere to record it: known at once. Persisted first, so I/O never sees a barrier
        // that is ahead of it.
        _persisted.store(v, std::memory_order_release);
        if (stale) {
            _ack_barrier.store(v, std::memory_order_release);
        }
        return v;
    }
    if (stale) {
        _ack_barrier.store(v, std::memory_order_release);
    }
    if (!_writer_running) {
        _writer_running = true;
        _home->spawn(health_writer(self()));
    }
    return v;
}

Task<Status> Nexus::wait_persisted(uint64_t version) {
    while (_persisted.load(std::memory_order_acquire) < version) {
        if (_persist_failed.load(std::memory_order_acquire) >= version) {
            co_return errorf(_persist_error ? _persist_error->code : EIO,
                             "nexus '{}': the store did not record the change of its children: {}", name(),
                             _persist_error ? _persist_error->message : std::string("unknown error"));
        }
        co_await _persist_waiters.wait();
    }
    co_return ok();
}

Task<void> Nexus::health_writer(std::shared_ptr<Nexus>) {
    while (_persisted.load(std::memory_order_acquire) < _health_version) {
        const uint64_t v = _health_version;
        Status s = co_await _config.store->put(health_record_key(uuid()), encode_health_record(record()));
        co_await switch_to(*_home);
        if (s) {
            _persisted.store(v, std::memory_order_release);
        } else {
            log::error("nexus '{}': cannot write its store record: {}", name(), s.error().message);
            _persist_error = s.error();
            _persist_failed.store(v, std::memory_order_release);
        }
        wake_persist_waiters();
        if (!s) {
            bool go_on = true;
            for (int i = 0; i < kRetrySlices && go_on && !_closing; ++i) {
                go_on = co_await sleep_for(kRetryInterval);
            }
            if (!go_on || _closing) {
                break;
            }
        }
    }
    _writer_running = false;
    _writer_done.wake_all();
}

void Nexus::wake_persist_waiters() {
    _persist_waiters.wake_all();
    std::lock_guard g(_mutex);
    for (NexusChannel* c : _channels) {
        c->post_wake();
    }
}

}  // namespace ms::nexus
