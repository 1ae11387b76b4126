#include "lvs/pool.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <ctime>

#include "bdev/device_registry.h"
#include "core/log.h"
#include "lvs/lvol_device.h"

namespace ms::lvs {
namespace {

uint64_t now_seconds() {
    return static_cast<uint64_t>(std::time(nullptr));
}

std::string_view kind_name(LvolKind k) {
    switch (k) {
        case LvolKind::Replica:
            return "replica";
        case LvolKind::Snapshot:
            return "snapshot";
        case LvolKind::Clone:
            return "clone";
    }
    return "lvol";
}

// Whether child `c` of snapshot `s` is on the snapshot's own line (the replica it was taken
// of, or a later snapshot of that replica) rather than a clone made from it.
bool in_line(const Lvol& s, const Lvol& c) {
    if (c.id == s.origin) {
        return true;
    }
    return c.kind == LvolKind::Snapshot && c.origin == s.origin && s.origin != 0;
}

// Reads `length` bytes at `offset` of `base` into `buf` in pieces of at most 8 MiB.
Task<Status> read_area(Descriptor& base, uint64_t offset, DmaBuf& buf) {
    constexpr std::size_t kPiece = 8 << 20;
    for (std::size_t at = 0; at < buf.size(); at += kPiece) {
        iovec v{buf.data() + at, std::min(kPiece, buf.size() - at)};
        if (Status s = co_await base.readv(offset + at, {&v, 1}); !s) {
            co_return s;
        }
    }
    co_return ok();
}

}  // namespace

// ---- open, format, close -------------------------------------------------------------------

Task<Result<SuperblockProbe>> Pool::probe(Descriptor& base) {
    if (base.size_bytes() < 2 * kPageSize) {
        co_return errorf(ENOMEDIUM, "device '{}' of {} bytes is too small to hold a pool",
                         base.device().name(), base.size_bytes());
    }
    auto buf = base.dma_malloc(2 * kPageSize);
    if (!buf) {
        co_return std::unexpected(buf.error());
    }
    if (Status s = co_await base.read_at(0, *buf); !s) {
        co_return std::unexpected(s.error());
    }
    co_return probe_superblocks(buf->span());
}

Pool::Pool(std::unique_ptr<Descriptor> base, LoadedPool loaded)
    : _reactor(Reactor::current()),
      _base(std::move(base)),
      _base_dev(_base->device_ptr()),
      _sb(loaded.sb),
      _state(std::move(loaded.state)) {
    _base_ch = _base_dev->channel();
    _log = std::make_unique<MetadataLog>(*_base, _sb, *_state, _mutex, loaded.image_area, loaded.next_seq,
                                         loaded.log_tail);
    _block_size = _sb.layout.block_size;
    _cluster_shift = static_cast<uint32_t>(std::countr_zero(_sb.layout.cluster_size / _block_size));
    _data_block = _sb.layout.data_offset() / _block_size;
}

Pool::~Pool() {
    auto& registry = DeviceRegistry::instance();
    for (const auto& [id, l] : _state->lvols()) {
        if (auto dev = l->io.device) {
            if (registry.lookup(dev->name()) == dev) {
                (void)registry.remove(dev->name());
            }
            dev->detach();
        }
    }
}

Task<Result<std::shared_ptr<Pool>>> Pool::format(std::string name, std::unique_ptr<Descriptor> base,
                                                 CreatePoolOptions options) {
    if (Status s = check_name(name, "pool name"); !s) {
        co_return std::unexpected(s.error());
    }
    LayoutRequest req;
    req.device_bytes = base->size_bytes();
    req.block_size = base->block_size();
    req.cluster_size = options.cluster_size;
    req.max_lvols = options.max_lvols;
    req.log_pages = options.log_pages;
    auto layout = compute_layout(req);
    if (!layout) {
        co_return errorf(layout.error().code, "cannot make pool '{}' on '{}': {}", name,
                         base->device().name(), layout.error().message);
    }
    LoadedPool lp;
    lp.sb.uuid = Uuid::generate();
    lp.sb.name = name;
    lp.sb.created = now_seconds();
    lp.sb.device_bytes = base->size_bytes();
    lp.sb.layout = *layout;
    lp.state = std::make_unique<PoolState>(*layout);
    lp.image_area = 1;  // so that the first image goes to area 0
    lp.next_seq = 1;
    lp.log_tail = 0;
    auto pool = std::make_shared<Pool>(std::move(base), std::move(lp));
    if (pool->_base_ch == nullptr) {
        co_return errorf(EIO, "no I/O channel for '{}'", pool->_base_dev->name());
    }
    // The empty image first, then the superblocks that make the disk a pool.
    if (Status s = co_await pool->_log->checkpoint(); !s) {
        co_return std::unexpected(s.error());
    }
    if (Status s = co_await pool->write_labels(); !s) {
        co_return std::unexpected(s.error());
    }
    log::info("pool '{}' ({}) created on '{}': {} data clusters of {} bytes, {} metadata cluster(s)", name,
              pool->uuid().to_string(), pool->_base_dev->name(), layout->data_clusters, layout->cluster_size,
              layout->metadata_clusters);
    co_return pool;
}

Task<Result<std::shared_ptr<Pool>>> Pool::open(std::unique_ptr<Descriptor> base, SuperblockProbe probe) {
    const Superblock& sb = probe.sb;
    if (Status s = check_device(sb, base->block_size(), base->size_bytes()); !s) {
        co_return std::unexpected(s.error());
    }
    auto area = base->dma_malloc(sb.layout.metadata_pages() * kPageSize);
    if (!area) {
        co_return std::unexpected(area.error());
    }
    if (Status s = co_await read_area(*base, 0, *area); !s) {
        co_return std::unexpected(s.error());
    }
    auto loaded = load_pool(probe, area->span());
    if (!loaded) {
        co_return std::unexpected(loaded.error());
    }
    for (const auto& w : loaded->warnings) {
        log::warn("pool '{}': {}", sb.name, w);
    }
    bool valid[2] = {loaded->sb_valid[0], loaded->sb_valid[1]};
    auto pool = std::make_shared<Pool>(std::move(base), std::move(*loaded));
    if (pool->_base_ch == nullptr) {
        co_return errorf(EIO, "no I/O channel for '{}'", pool->_base_dev->name());
    }
    // Rewrite a damaged superblock copy from the good one.
    for (uint32_t slot = 0; slot < 2; ++slot) {
        if (valid[slot]) {
            continue;
        }
        auto page = pool->_base->dma_malloc(kPageSize);
        if (!page) {
            break;
        }
        encode_superblock(pool->_sb, slot, page->span());
        Status s = co_await pool->_base->write_at(uint64_t{slot} * kPageSize, *page);
        if (s) {
            s = co_await pool->_base->flush();
        }
        if (s) {
            log::warn("pool '{}': superblock copy {} rewritten", sb.name, slot == 0 ? "A" : "B");
        } else {
            log::warn("pool '{}': cannot rewrite superblock copy {}: {}", sb.name, slot == 0 ? "A" : "B",
                      s.error().message);
        }
    }
    if (Status s = pool->register_devices(); !s) {
        co_return std::unexpected(s.error());
    }
    log::info("pool '{}' ({}) imported from '{}': {} lvols, {} of {} clusters used", pool->name(),
              pool->uuid().to_string(), pool->_base_dev->name(), pool->_state->lvol_count(),
              pool->_state->used_clusters(), pool->layout().data_clusters);
    co_return pool;
}

// The superblocks go down in two steps so that a crash leaves no half-written label: first
// both pages complete but without their magic (not a pool yet, whatever part of them lands),
// then the first block of each page, magic included, which a device writes whole.
Task<Status> Pool::write_labels() {
    auto buf = _base->dma_malloc(2 * kPageSize);
    if (!buf) {
        co_return std::unexpected(buf.error());
    }
    encode_superblock(_sb, 0, buf->span().first(kPageSize));
    encode_superblock(_sb, 1, buf->span().subspan(kPageSize, kPageSize));
    uint8_t magic[2][8];
    for (int i = 0; i < 2; ++i) {
        std::memcpy(magic[i], buf->data() + i * kPageSize, 8);
        std::memset(buf->data() + i * kPageSize, 0, 8);
    }
    if (Status s = co_await _base->write_at(0, *buf); !s) {
        co_return s;
    }
    if (Status s = co_await _base->flush(); !s) {
        co_return s;
    }
    for (int i = 0; i < 2; ++i) {
        std::memcpy(buf->data() + i * kPageSize, magic[i], 8);
        iovec v{buf->data() + i * kPageSize, _block_size};
        if (Status s = co_await _base->writev(uint64_t(i) * kPageSize, {&v, 1}); !s) {
            co_return s;
        }
    }
    co_return co_await _base->flush();
}

// Zeroes the first block of each superblock page: a device writes a block whole, so each copy
// is either intact or without its magic (no longer a label), never a damaged label.
Task<Status> Pool::erase_labels() {
    auto zeros = _base->dma_malloc(_block_size);
    if (!zeros) {
        co_return std::unexpected(zeros.error());
    }
    for (uint64_t page = 0; page < 2; ++page) {
        if (Status s = co_await _base->write_at(page * kPageSize, *zeros); !s) {
            co_return s;
        }
    }
    co_return co_await _base->flush();
}

void Pool::set_origin(std::string disk_uri, std::string claim_owner, bool owns_base) {
    _disk = std::move(disk_uri);
    _claim_owner = std::move(claim_owner);
    _owns_base = owns_base;
}

void Pool::make_device(Lvol& l) {
    Geometry g;
    g.block_size = _block_size;
    g.num_blocks = l.size / _block_size;
    g.buf_align = _base_dev->geometry().buf_align;
    auto dev = std::make_shared<LvolDevice>(*this, l, *_reactor, g);
    std::lock_guard lock(_mutex);
    l.io.device = std::move(dev);
}

Status Pool::register_devices() {
    auto& registry = DeviceRegistry::instance();
    std::vector<std::string> added;
    for (const auto& [id, l] : _state->lvols()) {
        make_device(*l);
        if (Status s = registry.add(l->io.device); !s) {
            for (const auto& n : added) {
                (void)registry.remove(n);
            }
            return errorf(EEXIST, "pool '{}' holds {} '{}', but a device of that name already exists", name(),
                          kind_name(l->kind), l->name);
        }
        added.push_back(l->name);
    }
    return ok();
}

Task<Status> Pool::close(bool wipe) {
    auto guard = co_await _mgmt.lock();
    if (_closed) {
        co_return ok();
    }
    auto& registry = DeviceRegistry::instance();
    std::vector<std::shared_ptr<LvolDevice>> removed;
    auto put_back = [&] {
        for (const auto& dev : removed) {
            (void)registry.add(dev);
        }
    };
    for (const auto& [id, l] : _state->lvols()) {
        if (!l->io.device) {
            continue;
        }
        auto r = registry.remove(l->name);
        if (!r && r.error().code != ENODEV) {
            put_back();
            co_return errorf(EBUSY, "pool '{}': {}", name(), r.error().message);
        }
        if (r) {
            removed.push_back(l->io.device);
        }
    }
    if (wipe) {
        if (Status s = co_await erase_labels(); !s) {
            put_back();
            co_return errorf(s.error().code, "pool '{}': cannot erase its labels: {}", name(),
                             s.error().message);
        }
    }
    for (const auto& [id, l] : _state->lvols()) {
        if (l->io.device) {
            l->io.device->detach();
        }
    }
    for (const auto& [id, l] : _state->lvols()) {
        co_await wait_idle(*l);
    }
    co_await _log->drain();
    {
        std::lock_guard g(_mutex);
        _closed = true;
    }
    _base_ch = nullptr;
    _base.reset();
    _base_dev->release_claim(_claim_owner);
    log::info("pool '{}' {}", name(), wipe ? "destroyed" : "exported");
    co_return ok();
}

// ---- catalog ---------------------------------------------------------------------------------

PoolInfo Pool::info() const {
    std::lock_guard g(_mutex);
    PoolInfo i;
    i.name = _sb.name;
    i.disk = _disk;
    i.uuid = _sb.uuid;
    i.capacity = uint64_t{_sb.layout.data_clusters} * _sb.layout.cluster_size;
    i.used = _state->used_clusters() * _sb.layout.cluster_size;
    i.cluster_size = _sb.layout.cluster_size;
    i.block_size = _sb.layout.block_size;
    return i;
}

bool Pool::has(std::string_view lvol) const {
    std::lock_guard g(_mutex);
    return !_closed && _state->find(lvol) != nullptr;
}

ReplicaInfo Pool::info_of(const Lvol& l) const {
    ReplicaInfo r;
    r.name = l.name;
    r.uuid = l.uuid;
    r.pool = _sb.name;
    r.kind = l.kind;
    r.thin = l.thin;
    r.size = l.size;
    r.allocated = uint64_t{l.map.allocated()} * _sb.layout.cluster_size;
    r.share = l.share;
    r.created = l.created;
    if (l.kind == LvolKind::Snapshot) {
        if (const Lvol* o = _state->find(l.origin)) {
            r.parent = o->name;
        }
        for (const Lvol* c : l.children) {
            if (in_line(l, *c)) {
                continue;
            }
            const Lvol* o = c->kind == LvolKind::Snapshot ? _state->find(c->origin) : nullptr;
            r.clones.push_back(o != nullptr ? o->name : c->name);
        }
        std::sort(r.clones.begin(), r.clones.end());
    } else if (l.parent != nullptr) {
        r.parent = l.parent->name;
    }
    if (l.io.device) {
        r.stats = l.io.device->stats();
    }
    return r;
}

Result<ReplicaInfo> Pool::lvol_info(std::string_view name) const {
    std::lock_guard g(_mutex);
    const Lvol* l = _closed ? nullptr : _state->find(name);
    if (l == nullptr) {
        return errorf(ENOENT, "no lvol '{}' in pool '{}'", name, _sb.name);
    }
    return info_of(*l);
}

void Pool::list(std::vector<ReplicaInfo>& out, bool snapshots) const {
    std::lock_guard g(_mutex);
    if (_closed) {
        return;
    }
    for (const auto& [id, l] : _state->lvols()) {
        if ((l->kind == LvolKind::Snapshot) == snapshots) {
            out.push_back(info_of(*l));
        }
    }
}

// ---- management ------------------------------------------------------------------------------

Status Pool::check_open() const {
    if (_closed) {
        return errorf(ENODEV, "pool '{}' is closed", name());
    }
    if (_log->failure()) {
        return std::unexpected(*_log->failure());
    }
    return ok();
}

Status Pool::check_new_name(std::string_view n) const {
    if (DeviceRegistry::instance().lookup(n)) {
        return errorf(EEXIST, "a device named '{}' already exists", n);
    }
    if (_state->lvol_count() >= _sb.layout.max_lvols) {
        return errorf(ENOSPC, "pool '{}' holds its maximum of {} lvols", name(), _sb.layout.max_lvols);
    }
    return ok();
}

Task<void> Pool::freeze(Lvol& l, bool reads_too) {
    l.io.frozen = reads_too ? LvolIo::kAll : LvolIo::kWrites;
    while (reads_too ? l.io.inflight > 0 : l.io.writes > 0) {
        co_await l.io.changed.wait();
    }
}

void Pool::thaw(Lvol& l) {
    l.io.frozen = LvolIo::kNone;
    l.io.thawed.wake_all();
}

Task<void> Pool::wait_idle(Lvol& l) {
    while (l.io.inflight > 0) {
        co_await l.io.changed.wait();
    }
}

Task<Result<ReplicaInfo>> Pool::create_replica(std::string name, uint64_t size, bool thin) {
    auto guard = co_await _mgmt.lock();
    if (Status s = check_open(); !s) {
        co_return std::unexpected(s.error());
    }
    if (Status s = check_name(name, "replica name"); !s) {
        co_return std::unexpected(s.error());
    }
    if (Lvol* l = _state->find(name)) {
        if (l->kind == LvolKind::Replica) {
            co_return info_of(*l);
        }
        co_return errorf(EEXIST, "'{}' is a {} in pool '{}'", name, kind_name(l->kind), this->name());
    }
    if (size == 0 || size % _block_size != 0) {
        co_return errorf(EINVAL, "replica size {} is not a positive multiple of the pool's {}-byte blocks",
                         size, _block_size);
    }
    const uint32_t clusters = _state->clusters_of(size);
    if (clusters == kNoCluster) {
        co_return errorf(EINVAL, "replica size {} is larger than a pool can address", size);
    }
    if (Status s = check_new_name(name); !s) {
        co_return std::unexpected(s.error());
    }
    Record rec;
    rec.type = RecordType::CreateLvol;
    rec.id = _state->next_id();
    rec.lvol.id = rec.id;
    rec.lvol.kind = LvolKind::Replica;
    rec.lvol.thin = thin;
    rec.lvol.uuid = Uuid::generate();
    rec.lvol.size = size;
    rec.lvol.created = now_seconds();
    rec.lvol.name = name;
    if (!thin) {
        auto extents = _state->reserve(clusters);
        if (!extents) {
            co_return errorf(ENOSPC,
                             "pool '{}' has {} free clusters, thick replica '{}' of {} bytes needs {}",
                             this->name(), _state->free_clusters(), name, size, clusters);
        }
        rec.lvol.extents = std::move(*extents);
    }
    if (Status v = _state->validate(rec); !v) {
        _state->unreserve(rec.lvol.extents);
        co_return std::unexpected(v.error());
    }
    // Zeroed before the record that publishes them: never another replica's old data.
    for (const Extent& x : rec.lvol.extents) {
        Status s = co_await _base->write_zeroes(cluster_block(x.physical) * _block_size,
                                                uint64_t{x.count} * _sb.layout.cluster_size);
        if (!s) {
            _state->unreserve(rec.lvol.extents);
            co_return std::unexpected(s.error());
        }
    }
    const std::vector<Extent> extents = rec.lvol.extents;
    if (Status s = co_await _log->commit(std::move(rec), !thin); !s) {
        if (!_log->failure()) {
            _state->unreserve(extents);
        }
        co_return std::unexpected(s.error());
    }
    Lvol* l = _state->find(name);
    make_device(*l);
    if (Status s = DeviceRegistry::instance().add(l->io.device); !s) {
        Error e = s.error();
        co_await destroy_lvol(*l);
        co_return std::unexpected(e);
    }
    co_return info_of(*l);
}

Task<Status> Pool::destroy(std::string name, bool snapshot) {
    auto guard = co_await _mgmt.lock();
    if (_closed) {
        co_return ok();
    }
    Lvol* l = _state->find(name);
    if (l == nullptr) {
        co_return ok();
    }
    if (Status s = check_open(); !s) {
        co_return s;
    }
    if (snapshot != (l->kind == LvolKind::Snapshot)) {
        co_return errorf(EINVAL, "'{}' is a {}, not a {}", name, kind_name(l->kind),
                         snapshot ? "snapshot" : "replica or clone");
    }
    if (l->kind == LvolKind::Snapshot) {
        std::vector<std::string> clones;
        for (const Lvol* c : l->children) {
            if (!in_line(*l, *c)) {
                clones.push_back(c->name);
            }
        }
        if (!clones.empty() || l->children.size() > 1) {
            co_return errorf(EBUSY, "snapshot '{}' has clones ({})", name, fmt::join(clones, ", "));
        }
        if (l->children.size() == 1) {
            co_return co_await merge(*l, *l->children.front());
        }
    }
    co_return co_await destroy_lvol(*l);
}

Task<Status> Pool::destroy_lvol(Lvol& l) {
    auto dev = l.io.device;
    if (dev) {
        auto r = DeviceRegistry::instance().remove(l.name);
        if (!r && r.error().code != ENODEV) {
            co_return std::unexpected(r.error());
        }
        dev->detach();
    }
    co_await wait_idle(l);
    Record rec;
    rec.type = RecordType::DestroyLvol;
    rec.id = l.id;
    if (Status v = _state->validate(rec); !v) {
        co_return v;
    }
    Status s = co_await _log->commit(rec, false);
    if (!s && dev) {
        dev->attach(l);
        (void)DeviceRegistry::instance().add(dev);
    }
    co_return s;  // on success `l` is gone
}

Task<Status> Pool::merge(Lvol& snapshot, Lvol& child) {
    auto dev = snapshot.io.device;
    if (dev) {
        auto r = DeviceRegistry::instance().remove(snapshot.name);
        if (!r && r.error().code != ENODEV) {
            co_return std::unexpected(r.error());
        }
        dev->detach();
    }
    co_await wait_idle(snapshot);
    Record rec;
    rec.type = RecordType::Merge;
    rec.id = snapshot.id;
    rec.ref = child.id;
    Status s = _state->validate(rec);
    if (s) {
        // No I/O on the child while clusters change hands: a read that found a cluster of the
        // snapshot must not see it freed and reused.
        co_await freeze(child, true);
        s = co_await _log->commit(rec, false);
        thaw(child);
    }
    if (!s && dev) {
        dev->attach(snapshot);
        (void)DeviceRegistry::instance().add(dev);
    }
    co_return s;
}

Task<Result<ReplicaInfo>> Pool::snapshot(std::string replica, std::string name) {
    auto guard = co_await _mgmt.lock();
    if (Status s = check_open(); !s) {
        co_return std::unexpected(s.error());
    }
    if (Status s = check_name(name, "snapshot name"); !s) {
        co_return std::unexpected(s.error());
    }
    Lvol* r = _state->find(replica);
    if (r == nullptr) {
        co_return errorf(ENOENT, "no replica '{}' in pool '{}'", replica, this->name());
    }
    if (r->kind == LvolKind::Snapshot) {
        co_return errorf(EINVAL, "'{}' is a snapshot: snapshots are taken of replicas and clones", replica);
    }
    if (Lvol* e = _state->find(name)) {
        if (e->kind == LvolKind::Snapshot && e->origin == r->id) {
            co_return info_of(*e);
        }
        co_return errorf(EEXIST, "'{}' is already a {} in pool '{}'", name, kind_name(e->kind), this->name());
    }
    if (Status s = check_new_name(name); !s) {
        co_return std::unexpected(s.error());
    }
    Record rec;
    rec.type = RecordType::Snapshot;
    rec.id = _state->next_id();
    rec.ref = r->id;
    rec.lvol.uuid = Uuid::generate();
    rec.lvol.created = now_seconds();
    rec.lvol.name = name;
    if (Status v = _state->validate(rec); !v) {
        co_return std::unexpected(v.error());
    }
    // Writes in flight finish first; new ones wait until the snapshot owns the clusters.
    co_await freeze(*r, false);
    Status s = co_await _log->commit(rec, false);
    thaw(*r);
    if (!s) {
        co_return std::unexpected(s.error());
    }
    Lvol* snap = _state->find(rec.id);
    make_device(*snap);
    if (Status a = DeviceRegistry::instance().add(snap->io.device); !a) {
        co_await merge(*snap, *r);
        co_return std::unexpected(a.error());
    }
    co_return info_of(*snap);
}

Task<Result<ReplicaInfo>> Pool::clone(std::string snapshot, std::string name) {
    auto guard = co_await _mgmt.lock();
    if (Status s = check_open(); !s) {
        co_return std::unexpected(s.error());
    }
    if (Status s = check_name(name, "clone name"); !s) {
        co_return std::unexpected(s.error());
    }
    Lvol* snap = _state->find(snapshot);
    if (snap == nullptr) {
        co_return errorf(ENOENT, "no snapshot '{}' in pool '{}'", snapshot, this->name());
    }
    if (snap->kind != LvolKind::Snapshot) {
        co_return errorf(EINVAL, "'{}' is a {}: clones are made of snapshots", snapshot,
                         kind_name(snap->kind));
    }
    if (Lvol* e = _state->find(name)) {
        if (e->kind == LvolKind::Clone && e->parent == snap) {
            co_return info_of(*e);
        }
        co_return errorf(EEXIST, "'{}' is already a {} in pool '{}'", name, kind_name(e->kind), this->name());
    }
    if (Status s = check_new_name(name); !s) {
        co_return std::unexpected(s.error());
    }
    Record rec;
    rec.type = RecordType::Clone;
    rec.id = _state->next_id();
    rec.ref = snap->id;
    rec.lvol.uuid = Uuid::generate();
    rec.lvol.created = now_seconds();
    rec.lvol.name = name;
    if (Status v = _state->validate(rec); !v) {
        co_return std::unexpected(v.error());
    }
    if (Status s = co_await _log->commit(rec, false); !s) {
        co_return std::unexpected(s.error());
    }
    Lvol* c = _state->find(rec.id);
    make_device(*c);
    if (Status a = DeviceRegistry::instance().add(c->io.device); !a) {
        co_await destroy_lvol(*c);
        co_return std::unexpected(a.error());
    }
    co_return info_of(*c);
}

Task<Status> Pool::set_share(std::string name, ShareProtocol share) {
    auto guard = co_await _mgmt.lock();
    if (Status s = check_open(); !s) {
        co_return s;
    }
    Lvol* l = _state->find(name);
    if (l == nullptr) {
        co_return errorf(ENOENT, "no replica '{}' in pool '{}'", name, this->name());
    }
    if (l->kind == LvolKind::Snapshot) {
        co_return errorf(EINVAL, "'{}' is a snapshot and cannot be shared", name);
    }
    if (l->share == share) {
        co_return ok();
    }
    Record rec;
    rec.type = RecordType::SetShare;
    rec.id = l->id;
    rec.share = share;
    co_return co_await _log->commit(rec, false);
}

}  // namespace ms::lvs
