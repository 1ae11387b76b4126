// The nexus, the public face of src/nexus: what the management API (src/api), the library API
// (include/mayastor) and the daemon call. A nexus is a BlockDevice in the DeviceRegistry (so
// `bdev:///<name>` reaches it and it can be shared) that mirrors every write to its children,
// devices named by URI, and reads from any healthy one. Children hold the volume's blocks as
// plain data from offset 0 (no label), so a child is readable with the nexus out of the path.
//
// Threading: every call here is a coroutine that must run on a reactor. A nexus's management
// state lives on the reactor that created it (its home); calls hop there. I/O may be submitted
// from any reactor through per-core channels; no lock is taken on the I/O path.
//
// Errors (Error::code), which src/api maps to gRPC status codes per RPC:
//   EINVAL     bad argument: size 0 or not a multiple of the block size, no children, a child
//              URI that cannot be parsed, created or opened (also one already in use by
//              another owner), children with different block sizes, the last child removed
//   EFBIG      a child smaller than the nexus size
//   ENOENT     no such nexus / child / rebuild job
//   EEXIST     the URI is already a child of this nexus; a nexus name taken by another device
//   EBUSY      refused because it would leave no healthy child (fault/offline the last one)
//   EALREADY   state does not allow it (online a child that is open, start a rebuild into a
//              child that is not out of sync, resume a job that is not paused)
//   EUCLEAN    the store records every given child as stale: the nexus refuses to serve
//   other      errors of the children and of the store
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bdev/block_device.h"
#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"

namespace ms::store {
class KvStore;
}

namespace ms::nexus {

// Internal child states (Mayastor's); the wire mapping is in the API sheet:
// Open -> CHILD_ONLINE; Init, Closed, Destroying, Faulted(OutOfSync) -> CHILD_DEGRADED;
// Faulted(other reason), ConfigInvalid -> CHILD_FAULTED.
enum class ChildState : uint8_t { Init, ConfigInvalid, Open, Destroying, Closed, Faulted };

// Why a child is faulted. OutOfSync: it lacks data (new, or back from offline) and is, or is
// about to be, rebuilt. IoError: an I/O to it failed. AdminCommand: FaultNexusChild.
// CantOpen: its device could not be (re)opened. RebuildFailed: a rebuild into it failed.
enum class FaultReason : uint8_t { None, OutOfSync, IoError, AdminCommand, CantOpen, RebuildFailed };

// Online: every child open. Degraded: at least one open child, not all. Faulted: none open.
enum class NexusState : uint8_t { Online, Degraded, Faulted };

enum class RebuildState : uint8_t { Init, Running, Stopped, Paused, Failed, Completed };

std::string_view to_string(ChildState s);
std::string_view to_string(FaultReason r);
std::string_view to_string(NexusState s);
// Lowercase words of the API: init, running, stopped, paused, failed, completed.
std::string_view to_string(RebuildState s);

struct RebuildStats {
    uint64_t blocks_total = 0;      // blocks the job has to copy (all, or the missed regions)
    uint64_t blocks_recovered = 0;  // blocks copied so far
    uint64_t progress = 0;          // blocks_recovered * 100 / blocks_total (100 when total = 0)
    uint64_t segment_size_blks = 0;
    uint64_t block_size = 0;
    uint64_t tasks_total = 0;   // segment copies that may be in flight at once
    uint64_t tasks_active = 0;  // segment copies in flight now
    bool partial = false;       // copies only the regions the child missed (write-intent log)
};

struct ChildInfo {
    std::string uri;  // as given at create/add
    ChildState state = ChildState::Init;
    FaultReason reason = FaultReason::None;
    // Percent of the rebuild running into this child; -1 when none.
    int32_t rebuild_progress = -1;
};

struct NexusInfo {
    std::string name;  // device name ("nexus-<uuid>" when made by the API)
    Uuid uuid;
    uint64_t size = 0;  // bytes
    uint32_t block_size = 0;
    NexusState state = NexusState::Online;
    std::vector<ChildInfo> children;
    // Rebuild jobs in the whole process (the API sheet's Nexus.rebuilds).
    uint32_t rebuilds = 0;
};

struct RebuildOptions {
    uint64_t segment_bytes = 128 * 1024;  // copy unit
    uint32_t max_tasks = 4;               // segments in flight at once
    // Rebuild bandwidth cap in bytes/s so application I/O keeps its latency; 0 = none.
    uint64_t rate_limit = 0;
};

struct NexusOptions {
    RebuildOptions rebuild;
    // Granularity of the write-intent log (regions a faulted/offline child missed).
    uint64_t wil_region_bytes = 1024 * 1024;
};

class NexusRegistry {
   public:
    static NexusRegistry& instance();

    // Where child health is recorded (null = nowhere: tests and the library without a store).
    // Set once at start, before any nexus is created.
    void set_store(std::shared_ptr<store::KvStore> store);
    void set_options(NexusOptions options);

    // Creates nexus `name` of `size` bytes over `children` (URIs of any scheme; a device that
    // does not exist yet is created from its URI, one that exists, e.g. bdev:///replica, is
    // opened and claimed). Idempotent: an existing nexus with this uuid is returned as it is.
    // If the store holds a record for this uuid, children it marks stale come up faulted
    // (OutOfSync) and are rebuilt from a current one; if it marks all given children stale:
    // EUCLEAN. Without a record every child is taken as current. On failure nothing is left.
    Task<Result<NexusInfo>> create(std::string name, uint64_t size, Uuid uuid,
                                   std::vector<std::string> children);
    // Destroys the nexus (stops its rebuilds, closes and releases its children, destroys the
    // devices it created, removes its store record). Unknown: ok. Works while rebuilding; the
    // sharing code unpublishes first.
    Task<Status> destroy(Uuid uuid);
    // Closes every nexus at shutdown, keeping store records (a restart must know stale children).
    Task<void> shutdown_all();

    std::vector<NexusInfo> list() const;
    Result<NexusInfo> get(const Uuid& uuid) const;
    // The nexus's device, for the library API and for sharing.
    Result<std::shared_ptr<BlockDevice>> device(const Uuid& uuid) const;

    // Adds child `uri`: it joins faulted (OutOfSync) and a rebuild into it starts unless
    // `norebuild`; if the rebuild cannot start it becomes Faulted(RebuildFailed).
    Task<Result<ChildInfo>> add_child(Uuid uuid, std::string uri, bool norebuild);
    // Removes child `uri` (cancels rebuilds into or from it). Last child: EINVAL. Not a child: ok.
    Task<Status> remove_child(Uuid uuid, std::string uri);
    // Faults child `uri` (AdminCommand). Fewer than 2 children, or the last healthy one: EBUSY.
    Task<Status> fault_child(Uuid uuid, std::string uri);
    // Closes child `uri` (Closed); writes from then on are recorded in the write-intent log.
    // The last healthy child: EBUSY.
    Task<Status> offline_child(Uuid uuid, std::string uri);
    // Reopens a closed or faulted child, marks it OutOfSync and starts a rebuild into it: a
    // partial one (only the regions it missed) when the nexus has tracked them since it left,
    // a full one otherwise. An open child: EALREADY.
    Task<Status> online_child(Uuid uuid, std::string uri);

    // Rebuild jobs, one per destination child. The source is the first open child other than
    // the destination.
    Task<Status> start_rebuild(Uuid uuid, std::string uri);
    // Cancels the job (it disappears). No job: ok.
    Task<Status> stop_rebuild(Uuid uuid, std::string uri);
    Task<Status> pause_rebuild(Uuid uuid, std::string uri);
    Task<Status> resume_rebuild(Uuid uuid, std::string uri);
    Result<RebuildState> rebuild_state(const Uuid& uuid, const std::string& uri) const;
    Result<RebuildStats> rebuild_stats(const Uuid& uuid, const std::string& uri) const;
    // Rebuild jobs in the process.
    uint32_t rebuild_count() const;

   private:
    NexusRegistry();
    struct State;
    std::shared_ptr<State> _state;
};

}  // namespace ms::nexus
