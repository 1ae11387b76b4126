// One child of a nexus: the device a URI named, the nexus's descriptor on it, its state, and
// what the nexus tracks while it is away (write-intent log) or coming back (rebuild). The
// state is an atomic that the I/O path may read on any reactor; everything else belongs to
// the nexus's home reactor (ViewSpec under the nexus's mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "bdev/descriptor.h"
#include "nexus/nexus.h"
#include "nexus/write_intent_log.h"

namespace ms::nexus {

// What a channel's view of a child says: where its I/O goes, if anywhere.
struct ViewSpec {
    Descriptor* desc = nullptr;  // set when writable or readable
    bool readable = false;       // Open: serves reads
    bool writable = false;       // in the write set: Open, or a rebuild destination
    // Absent child with a log: writes that skip it mark these regions.
    WriteIntentLog* wil = nullptr;
    bool removed = false;  // the child is leaving the nexus: drop the view once drained
};

class NexusChild {
   public:
    NexusChild(std::string uri, std::shared_ptr<BlockDevice> device, std::unique_ptr<Descriptor> desc,
               bool owned)
        : device(std::move(device)), desc(std::move(desc)), owned(owned), _uri(std::move(uri)) {}

    const std::string& uri() const { return _uri; }

    // Any thread: state and reason read together.
    ChildState state() const {
        return static_cast<ChildState>(_packed.load(std::memory_order_acquire) & 0xff);
    }
    FaultReason reason() const {
        return static_cast<FaultReason>(_packed.load(std::memory_order_acquire) >> 8);
    }
    bool is_open() const { return state() == ChildState::Open; }
    bool out_of_sync() const { return state() == ChildState::Faulted && reason() == FaultReason::OutOfSync; }
    // Home reactor only.
    void set_state(ChildState s, FaultReason r = FaultReason::None) {
        _packed.store(static_cast<uint16_t>(static_cast<unsigned>(s) | (static_cast<unsigned>(r) << 8)),
                      std::memory_order_release);
    }

    // The view channels should have of this child now, from its state.
    ViewSpec wanted_view() const {
        ViewSpec v;
        v.readable = is_open() && desc != nullptr;
        v.writable = desc != nullptr && (v.readable || (in_write_set && out_of_sync()));
        v.desc = v.writable ? desc.get() : nullptr;
        v.wil = v.writable ? nullptr : wil.get();
        v.removed = state() == ChildState::Destroying;
        return v;
    }

    // Home reactor only, from here on.
    std::shared_ptr<BlockDevice> device;
    std::unique_ptr<Descriptor> desc;  // null while closed
    bool owned;                        // made from its URI by the nexus: destroyed with it
    // Regions written while the child was away; `wil_complete` when it has tracked every
    // write since the child left (then a partial rebuild is enough).
    std::shared_ptr<WriteIntentLog> wil;
    bool wil_complete = false;
    // Out-of-sync child that receives application writes (a rebuild destination).
    bool in_write_set = false;
    // Rebuild finished: the store is being told it is current (it counts as current in the
    // record before it serves reads).
    bool promoting = false;
    ViewSpec spec;  // the last view sent to the channels (guarded by the nexus's mutex)

   private:
    std::string _uri;
    std::atomic<uint16_t> _packed{static_cast<uint16_t>(ChildState::Init)};
};

}  // namespace ms::nexus
