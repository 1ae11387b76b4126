// One imported pool: its base device, metadata writer, state and lvol devices.
//
// Threading: a pool lives on the reactor that created or imported it. Its state (lvol maps,
// free clusters, in-flight counters) is touched only there, so the data path needs no lock:
// lvol devices hop I/O submitted on other reactors to the pool's reactor and back (see
// LvolDevice). The catalog that management calls read from other threads (names, sizes,
// allocation) is guarded by a mutex that the pool's reactor takes only while it changes it.
// Management calls on one pool are serialised by an AsyncMutex on its reactor.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "bdev/descriptor.h"
#include "core/reactor.h"
#include "core/async.h"
#include "lvs/loader.h"
#include "lvs/lvs.h"
#include "lvs/metadata_log.h"
#include "lvs/pool_state.h"

namespace ms::lvs {

class LvolDevice;

class Pool {
   public:
    // Reads the superblocks of `base` (see probe_superblocks).
    static Task<Result<SuperblockProbe>> probe(Descriptor& base);
    // Formats `base` (open read-write, claimed by the caller) as a new pool named `name`.
    static Task<Result<std::shared_ptr<Pool>>> format(std::string name, std::unique_ptr<Descriptor> base,
                                                      CreatePoolOptions options);
    // Imports the pool `base` holds, whose superblocks `probe` read.
    static Task<Result<std::shared_ptr<Pool>>> open(std::unique_ptr<Descriptor> base, SuperblockProbe probe);

    Pool(std::unique_ptr<Descriptor> base, LoadedPool loaded);
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    Reactor& reactor() const { return *_reactor; }
    const std::string& name() const { return _sb.name; }
    const Uuid& uuid() const { return _sb.uuid; }
    const Layout& layout() const { return _sb.layout; }
    BlockDevice& base_device() const { return *_base_dev; }
    // What the registry needs to give the base device back.
    void set_origin(std::string disk_uri, std::string claim_owner, bool owns_base);
    const std::string& disk_uri() const { return _disk; }
    const std::string& claim_owner() const { return _claim_owner; }
    bool owns_base() const { return _owns_base; }

    // Any thread.
    PoolInfo info() const;
    bool has(std::string_view lvol) const;
    Result<ReplicaInfo> lvol_info(std::string_view lvol) const;
    void list(std::vector<ReplicaInfo>& out, bool snapshots) const;

    // On the pool's reactor (the registry hops there).
    Task<Result<ReplicaInfo>> create_replica(std::string name, uint64_t size, bool thin);
    // A replica or clone (snapshot = false) or a snapshot (true); unknown: ok.
    Task<Status> destroy(std::string name, bool snapshot);
    Task<Result<ReplicaInfo>> snapshot(std::string replica, std::string name);
    Task<Result<ReplicaInfo>> clone(std::string snapshot, std::string name);
    Task<Status> set_share(std::string name, ShareProtocol share);
    // Closes the pool: EBUSY if an lvol device is open (and then nothing changes). `wipe`
    // erases both superblocks first, so that the disk no longer imports.
    Task<Status> close(bool wipe);
    bool closed() const { return _closed; }

    // Data path, on the pool's reactor: a request already checked against the lvol's size.
    Task<Status> io(Lvol& lvol, IoRequest req);

    MetadataLog& metadata() { return *_log; }
    PoolState& state() { return *_state; }

   private:
    Task<Status> write_labels();
    Task<Status> erase_labels();
    Status register_devices();
    void make_device(Lvol& l);
    ReplicaInfo info_of(const Lvol& l) const;  // caller holds _mutex or runs on the reactor
    Status check_open() const;
    Status check_new_name(std::string_view name) const;
    Task<void> freeze(Lvol& l, bool reads_too);
    void thaw(Lvol& l);
    Task<void> wait_idle(Lvol& l);
    Task<Status> destroy_lvol(Lvol& l);
    Task<Status> merge(Lvol& snapshot, Lvol& child);

    // Data path pieces (pool_io.cc).
    IoRequest translate(const IoRequest& req, uint32_t physical) const;
    Task<Status> read_direct(Lvol& l, IoRequest req);
    Task<Status> write_direct(Lvol& l, IoRequest req);
    Task<Status> flush_lvol(Lvol& l);
    Task<Status> io_slow(Lvol& l, IoRequest req);
    Task<Status> segment(Lvol& l, IoType type, uint32_t k, uint64_t in_blocks, uint64_t n,
                         std::span<const iovec> iov);
    Task<Result<bool>> allocate(Lvol& l, uint32_t k, uint64_t in_blocks, uint64_t n,
                                std::span<const iovec> iov);
    Task<Status> fill_and_map(Lvol& l, uint32_t k, uint64_t in_blocks, uint64_t n,
                              std::span<const iovec> iov);
    Task<Status> base_io(IoRequest req);
    uint64_t cluster_block(uint32_t physical) const {
        return _data_block + (uint64_t{physical} << _cluster_shift);
    }

    Reactor* _reactor;
    std::unique_ptr<Descriptor> _base;
    std::shared_ptr<BlockDevice> _base_dev;
    IoChannel* _base_ch = nullptr;
    Superblock _sb;
    std::unique_ptr<PoolState> _state;
    mutable std::mutex _mutex;  // catalog readers on other threads; see the file comment
    std::unique_ptr<MetadataLog> _log;
    AsyncMutex _mgmt;
    std::string _disk;
    std::string _claim_owner;
    bool _owns_base = true;
    bool _closed = false;
    uint32_t _block_size;
    uint32_t _cluster_shift;  // log2(blocks per cluster)
    uint64_t _data_block;     // first block of data cluster 0
    // Thin allocations in progress, by (lvol id << 32 | logical cluster): later writers to
    // the same cluster wait for the first.
    std::unordered_map<uint64_t, WaitQueue*> _allocating;
};

// The registered pool of that name (tests and tools), or null.
std::shared_ptr<Pool> registered_pool(const std::string& name);

}  // namespace ms::lvs
