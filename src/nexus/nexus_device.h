// The nexus as a BlockDevice: children, per-core channels, the mirrored I/O path, faults,
// rebuild range locks, the write-intent logs and the durable record of current children.
// NexusRegistry (nexus_registry.cc) creates nexuses and forwards the API's calls to them on
// their home reactor.
//
// Where the code lives: nexus_device.cc (creation, channels, info, teardown), nexus_io.cc
// (the I/O path and child failures), nexus_children.cc (fault, offline, online, add, remove),
// nexus_rebuild.cc (rebuild jobs, range locks), nexus_health.cc (the store record).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bdev/block_device.h"
#include "core/async.h"
#include "nexus/health_record.h"
#include "nexus/nexus.h"
#include "nexus/nexus_channel.h"
#include "nexus/nexus_child.h"
#include "nexus/rebuild_job.h"

namespace ms::store {
class KvStore;
}

namespace ms::nexus {

// Rebuild jobs running in the process (NexusInfo::rebuilds).
uint32_t rebuild_jobs_in_process();

struct NexusConfig {
    std::string name;
    Uuid uuid;
    uint64_t size = 0;  // bytes
    NexusOptions options;
    std::shared_ptr<store::KvStore> store;  // may be null
};

class Nexus final : public BlockDevice {
   public:
    // Opens the children, applies the store's record, registers the device and writes the
    // record; on the calling reactor, which becomes the nexus's home. Nothing is left on failure.
    static Task<Result<std::shared_ptr<Nexus>>> create(NexusConfig config, std::vector<std::string> children);

    Nexus(NexusConfig config, Geometry geometry, std::vector<std::shared_ptr<NexusChild>> children);
    ~Nexus() override;

    // ---- BlockDevice --------------------------------------------------------------------------
    bool io_type_supported(IoType t) const override;
    Result<std::unique_ptr<IoChannel>> create_channel() override;
    Task<Status> submit(IoChannel& ch, IoRequest req) override;

    Reactor& home() const { return *_home; }
    NexusInfo info() const;  // any thread

    // ---- management: on the home reactor, one at a time ------------------------------------
    Task<Result<ChildInfo>> add_child(std::string uri, bool norebuild);
    Task<Status> remove_child(std::string uri);
    Task<Status> fault_child(std::string uri);
    Task<Status> offline_child(std::string uri);
    Task<Status> online_child(std::string uri);
    Task<Status> start_rebuild(std::string uri);
    Task<Status> stop_rebuild(std::string uri);
    Task<Status> pause_rebuild(std::string uri);
    Task<Status> resume_rebuild(std::string uri);
    Result<RebuildState> rebuild_state(const std::string& uri) const;  // any thread
    Result<RebuildStats> rebuild_stats(const std::string& uri) const;  // any thread
    // Takes the nexus out of the device registry (EBUSY if it is open), stops its rebuilds,
    // gives its children back and, if `remove_record`, deletes its store record.
    Task<Status> close(bool remove_record);

    // Locks blocks [offset, offset + blocks) against writes on every core (rebuild copies).
    Task<std::unique_ptr<RangeLock>> lock_range(uint64_t offset, uint64_t blocks);

   private:
    friend class NexusRangeLock;
    struct ChildResult {
        Status status;
        bool tolerated = false;  // failed, and the nexus faulted the child: others carry on
        bool current = false;    // the child was open when the I/O finished
    };
    struct RebuildEntry {
        std::shared_ptr<NexusChild> destination;
        std::shared_ptr<NexusChild> source;
        std::unique_ptr<RebuildJob> job;
        // Tells this job from a later one for the same child (a freed job's address may be
        // reused by the next one).
        uint64_t id = 0;
    };
    enum class AckGate { Open, Wait, Failed };

    std::shared_ptr<Nexus> self() { return std::static_pointer_cast<Nexus>(shared_from_this()); }

    // I/O path (nexus_io.cc).
    Task<Status> read(NexusChannel& c, IoRequest req);
    Task<Status> write(NexusChannel& c, IoRequest req);
    Task<ChildResult> child_io(NexusChannel& c, ChildView* v, IoRequest req);
    Task<bool> report_failure(NexusChild* child, IoRequest req, Error error);
    bool on_child_failure(NexusChild* child, const IoRequest& req, const Error& error);
    AckGate ack_gate() const;
    Error ack_error() const;

    // Children (nexus_children.cc).
    std::shared_ptr<NexusChild> find_child(std::string_view uri) const;
    std::shared_ptr<NexusChild> shared_child(const NexusChild* child) const;
    std::size_t open_children() const;
    std::size_t live_children() const;  // not being removed
    void start_log(NexusChild& child);
    // The child stops taking I/O as `state`; returns the record version to wait for (0 if it
    // was not current, so the record does not change).
    uint64_t leave(NexusChild& child, ChildState state, FaultReason reason);
    void update_io_types();
    // Brings every channel's view of `child` in line with its state; a child that no longer
    // takes I/O is drained on every core (and then its descriptor closed).
    Task<void> apply_view(std::shared_ptr<NexusChild> child);
    // Takes a child out of I/O: stops rebuilds from or into it, drains it, closes it; rebuilds
    // that used it as their source start again from another child.
    Task<void> detach(std::shared_ptr<NexusChild> child);
    Task<void> retire(std::shared_ptr<Nexus> self, std::shared_ptr<NexusChild> child);
    Task<Status> reopen(NexusChild& child);

    // Channels.
    Task<void> for_each_channel(std::function<Task<void>(NexusChannel&)> fn);

    // Rebuild (nexus_rebuild.cc); callers hold the management lock.
    Task<Status> begin_rebuild(std::shared_ptr<NexusChild> destination);
    Task<std::vector<std::shared_ptr<NexusChild>>> cancel_rebuilds(std::shared_ptr<NexusChild> child);
    Task<void> finish_rebuild(std::shared_ptr<Nexus> self, std::shared_ptr<NexusChild> destination,
                              uint64_t job_id, RebuildState state, std::optional<Error> error);
    // Drops the job's entry if it is still there; caller holds _mutex.
    void erase_rebuild_locked(const RebuildJob* job);
    void unlock_range(uint64_t id);
    Task<void> unlock_everywhere(std::shared_ptr<Nexus> self, uint64_t id);

    // Store record (nexus_health.cc).
    HealthRecord record() const;
    // A child stopped (stale = true) or started being current: the record must be rewritten.
    // After a stale change no I/O is acknowledged until the new record is in the store.
    uint64_t note_health_change(bool stale);
    Task<Status> wait_persisted(uint64_t version);
    Task<void> health_writer(std::shared_ptr<Nexus> self);
    void wake_persist_waiters();

    Reactor* _home;
    NexusConfig _config;
    uint64_t _region_blocks;

    // Guards what other threads read or copy: the child list and views, channels, locked
    // ranges, rebuild jobs, device URI. Taken by management and channel creation only.
    mutable std::mutex _mutex;
    std::vector<std::shared_ptr<NexusChild>> _children;
    std::vector<NexusChannel*> _channels;  // owned by BlockDevice, live as long as the nexus
    std::vector<LockedRange> _locks;
    std::map<std::string, RebuildEntry, std::less<>> _rebuilds;
    uint64_t _rebuild_ids = 0;  // home reactor only

    std::atomic<uint32_t> _io_types{0};
    AsyncMutex _op_lock;  // management calls and fault processing, one at a time
    uint64_t _next_lock_id = 0;
    bool _closed = false;
    bool _closing = false;  // the health writer stops retrying

    // Record versions: bumped on every change of who is current; I/O completing while
    // _persisted < _ack_barrier waits (or fails if the put of that version failed).
    uint64_t _health_version = 0;
    std::atomic<uint64_t> _ack_barrier{0};
    std::atomic<uint64_t> _persisted{0};
    std::atomic<uint64_t> _persist_failed{0};
    std::optional<Error> _persist_error;  // home only: why the last put failed
    bool _writer_running = false;
    WaitQueue _persist_waiters;  // home: management calls waiting for a version
    WaitQueue _writer_done;
};

}  // namespace ms::nexus
