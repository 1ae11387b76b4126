// Pools and replicas, the public face of src/lvs: what the management API (src/api) and the
// daemon call. A pool is a volume manager on one block device; its replicas (and snapshots
// and clones) are BlockDevices in the DeviceRegistry, named by the replica's name (the uuid the
// client chose), so `bdev:///<name>` reaches them. On-disk format: docs/lvs-format.md.
//
// Threading: every call here is a coroutine that must run on a reactor; a pool lives on the
// reactor that created or imported it, and its calls hop there. Management calls on one pool
// are serialised by the pool itself.
//
// Errors (Error::code), which src/api maps to gRPC status codes per RPC:
//   EINVAL  bad argument (empty/too long name, size 0, size not a multiple of the block size,
//           snapshot of a snapshot...)
//   ENOENT  no such pool / replica / snapshot
//   EEXIST  name already used by another object (or a pool of that name on another disk)
//   EXDEV   the disk holds a pool under another name (import refused)
//   ENOSPC  not enough free clusters (nothing half-made remains)
//   EBUSY   object in use (snapshot with clones, device claimed by someone else)
//   EUCLEAN damaged metadata: checksum/version/structure error, with a message naming what
//   other   errors of the base device (EIO, ENODEV, ENOENT for a missing file, ...)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bdev/block_device.h"
#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"

namespace ms::lvs {

inline constexpr uint64_t kDefaultClusterSize = 4ull << 20;
inline constexpr std::size_t kMaxNameLength = 255;

// How a replica is exported; stored with the replica and restored on import. Values are the
// wire values of the API's ShareProtocolReplica; Nbd (3) has no value there (BdevRpc.Share over nbd).
enum class ShareProtocol : uint8_t { None = 0, Nvmf = 1, Iscsi = 2, Nbd = 3 };

struct PoolInfo {
    std::string name;
    // The URI the base device was created from, with `?uuid=<base device uuid>` added
    // (the API's Pool.disks[0]).
    std::string disk;
    Uuid uuid;              // the pool's own uuid (on disk)
    uint64_t capacity = 0;  // bytes of data clusters (metadata area excluded)
    uint64_t used = 0;      // bytes of allocated clusters
    uint64_t cluster_size = 0;
    uint32_t block_size = 0;
};

enum class LvolKind : uint8_t { Replica, Snapshot, Clone };

struct ReplicaInfo {
    std::string name;  // client-chosen id (the API's Replica.uuid), also the device name
    Uuid uuid;         // uuid the pool assigned (the API's `?uuid=` of Replica.uri)
    std::string pool;
    LvolKind kind = LvolKind::Replica;
    bool thin = false;
    uint64_t size = 0;       // bytes
    uint64_t allocated = 0;  // bytes of clusters this lvol owns
    ShareProtocol share = ShareProtocol::None;
    // Snapshot: the replica it was taken of. Clone: the snapshot it was made from. Replica
    // that has been snapshotted: its newest snapshot (reads of unwritten clusters go there).
    std::string parent;
    std::vector<std::string> clones;  // snapshot only: lvols whose parent it is
    uint64_t created = 0;             // Unix seconds
    IoStats stats;
};

struct CreatePoolOptions {
    uint64_t cluster_size = kDefaultClusterSize;  // power of two, >= 1 MiB
    // Format tuning, used by tests and tools (0 = the default, see docs/lvs-format.md): the
    // most lvols the pool can hold, and the log size in 4 KiB pages (default: what the
    // metadata clusters leave).
    uint32_t max_lvols = 0;
    uint32_t log_pages = 0;
};

class Pool;
struct RegistryState;

class PoolRegistry {
   public:
    static PoolRegistry& instance();

    // Creates a pool named `name` on the device `disk` (a URI; a bare path means aio://), or
    // imports the pool the disk already holds. Idempotent: the same name on the same disk returns
    // the existing pool. Same name on another disk: EEXIST. Disk holding a pool of another name:
    // EXDEV. Damaged metadata: EUCLEAN (the disk is left untouched). The base device is created
    // and claimed; on any failure nothing is left behind.
    Task<Result<PoolInfo>> create_or_import(std::string name, std::string disk,
                                            CreatePoolOptions options = {});
    // Import only: EUCLEAN/ENODATA... if the disk holds no valid pool (ENOMEDIUM when no pool
    // label at all). Used for pools.yaml at start.
    Task<Result<PoolInfo>> import(std::string name, std::string disk);
    // Deletes the pool: destroys its replica devices (they must not be open elsewhere: EBUSY),
    // wipes the pool's labels so the disk no longer imports, and destroys the base device.
    // Unknown name: ok.
    Task<Status> destroy(std::string name);
    // Closes the pool without deleting anything (shutdown): it imports again later.
    Task<Status> export_pool(std::string name);
    Task<void> export_all();

    std::vector<PoolInfo> list() const;
    Result<PoolInfo> get(const std::string& name) const;

    // Replica of `size` bytes (rounded up to whole clusters for allocation; the device size is
    // exactly `size`, which must be a multiple of the pool's block size). A thick replica gets
    // all its clusters now; a thin one on first write. Reads back zeros. Name taken by an
    // existing replica of this pool: returns it unchanged (idempotent); by anything else: EEXIST.
    Task<Result<ReplicaInfo>> create_replica(std::string pool, std::string name, uint64_t size, bool thin);
    // Destroys a replica or clone (its device must not be open: EBUSY). Unknown: ok.
    Task<Status> destroy_replica(std::string name);
    // Replicas and clones of every pool (snapshots are in list_snapshots).
    std::vector<ReplicaInfo> list_replicas() const;
    Result<ReplicaInfo> get_replica(const std::string& name) const;
    // Persists the share protocol of a replica or clone.
    Task<Status> set_share(std::string name, ShareProtocol share);

    // Read-only point-in-time snapshot of replica or clone `replica`. In-flight writes finish
    // first; writes after it do not change the snapshot. Idempotent for the same pair.
    Task<Result<ReplicaInfo>> create_snapshot(std::string replica, std::string snapshot);
    // A snapshot with clones: EBUSY. A snapshot that only its replica depends on is merged into
    // it (no data copied). Unknown: ok.
    Task<Status> destroy_snapshot(std::string snapshot);
    std::vector<ReplicaInfo> list_snapshots() const;
    // Writable thin copy-on-write replica of `snapshot`.
    Task<Result<ReplicaInfo>> create_clone(std::string snapshot, std::string clone);

   private:
    PoolRegistry();
    std::shared_ptr<RegistryState> _state;
    friend std::shared_ptr<Pool> registered_pool(const std::string& name);
};

}  // namespace ms::lvs
