// An lvol (replica, snapshot or clone) as a BlockDevice in the DeviceRegistry, named by the
// lvol's name. I/O submitted on another reactor hops to the pool's reactor, runs there (the
// pool's maps are single-threaded) and hops back, so that the caller's channel counters stay
// single-writer. Snapshots are read-only: writes are not supported.
#pragma once

#include "bdev/block_device.h"
#include "core/reactor.h"

namespace ms::lvs {

class Pool;
struct Lvol;

class LvolDevice final : public BlockDevice {
   public:
    LvolDevice(Pool& pool, Lvol& lvol, Reactor& home, Geometry geometry);

    bool io_type_supported(IoType t) const override;
    Task<Status> submit(IoChannel& ch, IoRequest req) override;

    // Pool's reactor only: the lvol is going away (or coming back after a failed destroy).
    // A detached device fails every I/O with ENODEV and never touches the pool again.
    void detach() { _lvol = nullptr; }
    void attach(Lvol& lvol) { _lvol = &lvol; }

   private:
    Task<Status> submit_here(IoRequest req);
    Task<Status> submit_remote(IoRequest req);

    Pool& _pool;
    Lvol* _lvol;
    Reactor& _home;
    bool _read_only;
};

}  // namespace ms::lvs
