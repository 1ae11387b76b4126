// A nexus's per-core state: its own view of the children (where reads and writes go), the
// LBA ranges locked by rebuilds and the writes in flight, and a queue for I/O waiting until
// the store knows which children are current. Used only on its reactor; the nexus changes it
// by messages (see Nexus::for_each_channel), so the I/O path takes no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "bdev/block_device.h"
#include "core/async.h"
#include "core/reactor.h"
#include "nexus/nexus_child.h"

namespace ms::nexus {

// Most children a nexus may have (fixed arrays on the I/O path).
inline constexpr std::size_t kMaxChildren = 16;

struct ChildView {
    NexusChild* child = nullptr;
    ViewSpec spec;
    uint32_t inflight = 0;  // I/Os of this channel at the child (with their fault reports)
    WaitQueue drained;
};

struct LockedRange {
    uint64_t id = 0;
    uint64_t offset = 0;
    uint64_t blocks = 0;
    bool overlaps(uint64_t off, uint64_t n) const { return off < offset + blocks && offset < off + n; }
};

class NexusChannel final : public IoChannel {
   public:
    NexusChannel(Reactor& reactor, std::vector<std::pair<NexusChild*, ViewSpec>> views,
                 std::vector<LockedRange> locks);

    Reactor& reactor() const { return _reactor; }

    // ---- children -------------------------------------------------------------------------
    // Sets this channel's view of `child`. A child that no longer takes I/O is waited for:
    // returns once this channel's I/O to it has finished (a removed child's view is dropped).
    Task<void> apply(NexusChild* child, ViewSpec spec);
    // Next child for a read, round-robin over the open ones not in `tried`; null if none.
    ChildView* next_reader(std::span<NexusChild* const> tried);
    // The children a write goes to (at most out.size()). Children away with a write-intent log
    // get the range marked now, before the write is issued: a child rejoining later either
    // receives this write or finds it in its log.
    std::size_t write_targets(const IoRequest& req, bool marks, std::span<ChildView*> out);

    // ---- rebuild range locks ----------------------------------------------------------------
    bool blocked(uint64_t offset, uint64_t blocks) const;
    WaitQueue& unlocked() { return _unlocked; }
    // Holds new writes to the range, then waits for this channel's writes in it to finish.
    Task<void> lock(LockedRange range);
    void unlock(uint64_t id);

    // A write in flight, linked into its channel while it lives (range locks wait for it).
    class InflightWrite {
       public:
        InflightWrite(NexusChannel& c, uint64_t offset, uint64_t blocks);
        ~InflightWrite();
        InflightWrite(const InflightWrite&) = delete;
        InflightWrite& operator=(const InflightWrite&) = delete;

       private:
        friend class NexusChannel;
        NexusChannel& _c;
        uint64_t _offset;
        uint64_t _blocks;
        InflightWrite* _prev = nullptr;
        InflightWrite* _next = nullptr;
    };

    // ---- acknowledgement gate ---------------------------------------------------------------
    // I/O waiting for the store to record a child as stale waits here.
    WaitQueue& persisted() { return _persisted; }
    // Any thread: wakes the queue above on this channel's reactor (at most one message queued).
    void post_wake();

   private:
    class WakeMessage final : public Message {
       public:
        explicit WakeMessage(NexusChannel& c) : _c(c) {}
        void run() override;
        std::atomic<bool> queued{false};

       private:
        NexusChannel& _c;
    };

    ChildView* find(NexusChild* child);
    bool write_in_flight(uint64_t offset, uint64_t blocks) const;

    Reactor& _reactor;
    std::vector<std::unique_ptr<ChildView>> _views;
    std::size_t _next_read = 0;
    std::vector<LockedRange> _locks;
    WaitQueue _unlocked;    // writes held by a range lock
    WaitQueue _write_done;  // range locks waiting for writes in flight
    InflightWrite* _writes = nullptr;
    WaitQueue _persisted;
    WakeMessage _wake{*this};
};

}  // namespace ms::nexus
