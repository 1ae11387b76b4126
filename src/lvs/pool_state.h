// The state of a pool in memory: its lvols with their cluster maps and the free-cluster
// bitmap. It changes only through apply(record), the same code for a record replayed from
// the log at import and for one just made durable at run time (validate -> append durably ->
// apply). An image is this state serialised; decode_image checks every length, count,
// index and cross reference of untrusted bytes before any of it is used.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/uuid.h"
#include "core/async.h"
#include "lvs/cluster_map.h"
#include "lvs/format.h"
#include "lvs/record.h"

namespace ms::lvs {

class LvolDevice;

// Data-path state of an lvol, on the pool's reactor; not stored.
struct LvolIo {
    enum Freeze : uint8_t { kNone = 0, kWrites = 1, kAll = 2 };
    uint32_t inflight = 0;  // every I/O submitted and not finished
    uint32_t writes = 0;    // writes, unmaps, write-zeroes among them
    // Snapshot in progress: new writes wait. Merge in progress: all new I/O waits.
    uint8_t frozen = kNone;
    WaitQueue thawed;   // I/O waiting for frozen to clear
    WaitQueue changed;  // woken when inflight or writes reaches 0
    std::shared_ptr<LvolDevice> device;
};

struct Lvol {
    uint32_t id = 0;
    std::string name;
    Uuid uuid;
    LvolKind kind = LvolKind::Replica;
    bool thin = false;
    ShareProtocol share = ShareProtocol::None;
    uint64_t size = 0;
    uint64_t created = 0;
    uint32_t origin = 0;
    Lvol* parent = nullptr;       // reads of unmapped clusters continue here
    std::vector<Lvol*> children;  // lvols whose parent this is
    ClusterMap map;
    LvolIo io;
};

class PoolState {
   public:
    explicit PoolState(const Layout& layout);
    PoolState(const PoolState&) = delete;
    PoolState& operator=(const PoolState&) = delete;

    const Layout& layout() const { return _layout; }
    uint32_t next_id() const { return _next_id; }
    uint32_t lvol_count() const { return static_cast<uint32_t>(_lvols.size()); }
    uint64_t used_clusters() const { return _used; }
    const std::map<uint32_t, std::unique_ptr<Lvol>>& lvols() const { return _lvols; }
    Lvol* find(uint32_t id) const;
    Lvol* find(std::string_view name) const;
    // Clusters an lvol of `size` bytes spans (rounded up).
    uint32_t clusters_of(uint64_t size) const;

    // Whether `rec` can be applied to the current state; the error says why not (EINVAL,
    // ENOENT, EEXIST, ENOSPC). Reserved clusters count as free here: a record takes the
    // clusters its writer reserved.
    Status validate(const Record& rec) const;
    // Applies a record validate() accepted. Clusters it maps stop being reserved; clusters it
    // frees become free (for reservations) only now, once the record is durable.
    void apply(const Record& rec);

    // Serialised state as of log sequence `seq`.
    void encode_image(uint64_t seq, std::vector<uint8_t>& out) const;
    // EUCLEAN with what and which lvol is wrong.
    static Result<std::unique_ptr<PoolState>> decode_image(const Layout& layout,
                                                           std::span<const uint8_t> stream, uint64_t* seq);

    // ---- cluster reservations (run time only) ----
    // Data clusters neither owned by an lvol nor reserved.
    uint64_t free_clusters() const { return uint64_t{_layout.data_clusters} - _used - _reserved_count; }
    // `n` free clusters, marked reserved, as runs for logical clusters 0..n-1; ENOSPC if
    // fewer are free (and then none is reserved).
    Result<std::vector<Extent>> reserve(uint32_t n);
    void unreserve(const std::vector<Extent>& extents);
    void unreserve(uint32_t physical);

   private:
    Status validate_create(const Record& rec) const;
    Status validate_new_name(const Record& rec) const;
    Lvol& insert(std::unique_ptr<Lvol> lvol);
    void take(uint32_t physical);
    void release(uint32_t physical);
    void erase(Lvol* lvol);

    Layout _layout;
    uint32_t _next_id = 1;
    uint64_t _used = 0;
    uint64_t _reserved_count = 0;
    uint32_t _hint = 0;
    ClusterBitmap _owned;
    ClusterBitmap _reserved;
    std::map<uint32_t, std::unique_ptr<Lvol>> _lvols;
    std::unordered_map<std::string, Lvol*> _by_name;
};

}  // namespace ms::lvs
