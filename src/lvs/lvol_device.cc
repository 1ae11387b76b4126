#include "lvs/lvol_device.h"

#include "lvs/pool.h"

namespace ms::lvs {

LvolDevice::LvolDevice(Pool& pool, Lvol& lvol, Reactor& home, Geometry geometry)
    : BlockDevice(lvol.name, "Logical volume", geometry, lvol.uuid),
      _pool(pool),
      _lvol(&lvol),
      _home(home),
      _read_only(lvol.kind == LvolKind::Snapshot) {
    set_uri(fmt::format("bdev:///{}?uuid={}", lvol.name, lvol.uuid.to_string()));
}

bool LvolDevice::io_type_supported(IoType t) const {
    switch (t) {
        case IoType::Read:
        case IoType::Flush:
        case IoType::Reset:
            return true;
        case IoType::Write:
        case IoType::Unmap:
        case IoType::WriteZeroes:
            return !_read_only;
    }
    return false;
}

Task<Status> LvolDevice::submit(IoChannel&, IoRequest req) {
    if (Reactor::current() == &_home) {
        return submit_here(req);
    }
    return submit_remote(req);
}

Task<Status> LvolDevice::submit_here(IoRequest req) {
    if (_lvol == nullptr) {
        return ready(Status(errorf(ENODEV, "lvol '{}' is closed", name())));
    }
    return _pool.io(*_lvol, req);
}

Task<Status> LvolDevice::submit_remote(IoRequest req) {
    Reactor* back = Reactor::current();
    co_await switch_to(_home);
    Status s = co_await submit_here(req);
    co_await switch_to(*back);
    co_return s;
}

}  // namespace ms::lvs
