#include "lvs/pool_state.h"

#include <algorithm>
#include <bit>

namespace ms::lvs {
namespace {

constexpr uint32_t kImageVersion = 1;

std::string describe(const Lvol& l) {
    return fmt::format("lvol {} ('{}')", l.id, l.name);
}

void replace_child(Lvol* parent, Lvol* from, Lvol* to) {
    if (parent == nullptr) {
        return;
    }
    for (Lvol*& c : parent->children) {
        if (c == from) {
            c = to;
        }
    }
}

}  // namespace

PoolState::PoolState(const Layout& layout)
    : _layout(layout), _owned(layout.data_clusters), _reserved(layout.data_clusters) {}

Lvol* PoolState::find(uint32_t id) const {
    auto it = _lvols.find(id);
    return it == _lvols.end() ? nullptr : it->second.get();
}

Lvol* PoolState::find(std::string_view name) const {
    auto it = _by_name.find(std::string(name));
    return it == _by_name.end() ? nullptr : it->second;
}

uint32_t PoolState::clusters_of(uint64_t size) const {
    if (size == 0) {
        return 0;
    }
    uint64_t n = (size - 1) / _layout.cluster_size + 1;
    return n > kMaxClusters ? kNoCluster : static_cast<uint32_t>(n);
}

// ---- validation ------------------------------------------------------------------------------

Status PoolState::validate_new_name(const Record& rec) const {
    if (rec.id != _next_id || _next_id == kNoCluster) {
        return errorf(EINVAL, "new lvol id {} (expected {})", rec.id, _next_id);
    }
    if (_lvols.size() >= _layout.max_lvols) {
        return errorf(ENOSPC, "the pool holds its maximum of {} lvols", _layout.max_lvols);
    }
    if (Status s = check_name(rec.lvol.name, "lvol name"); !s) {
        return s;
    }
    if (Lvol* other = find(rec.lvol.name)) {
        return errorf(EEXIST, "the name '{}' is taken by lvol {}", rec.lvol.name, other->id);
    }
    return ok();
}

Status PoolState::validate_create(const Record& rec) const {
    if (Status s = validate_new_name(rec); !s) {
        return s;
    }
    const LvolEntry& e = rec.lvol;
    if (e.kind != LvolKind::Replica || e.parent != 0 || e.origin != 0) {
        return errorf(EINVAL, "created lvol '{}' must be a replica without parent", e.name);
    }
    if (e.size == 0 || e.size % _layout.block_size != 0) {
        return errorf(EINVAL, "size {} of '{}' is not a positive multiple of {}", e.size, e.name,
                      _layout.block_size);
    }
    const uint32_t clusters = clusters_of(e.size);
    if (clusters == kNoCluster) {
        return errorf(EINVAL, "size {} of '{}' exceeds {} clusters", e.size, e.name, kMaxClusters);
    }
    uint64_t total = 0;
    std::vector<std::pair<uint32_t, uint32_t>> logical, physical;
    for (const Extent& x : e.extents) {
        if (x.count == 0 || uint64_t{x.logical} + x.count > clusters ||
            uint64_t{x.physical} + x.count > _layout.data_clusters) {
            return errorf(EINVAL, "extent {}+{} -> {} of '{}' is out of range", x.logical, x.count,
                          x.physical, e.name);
        }
        for (uint32_t i = 0; i < x.count; ++i) {
            if (_owned.test(x.physical + i)) {
                return errorf(EINVAL, "cluster {} given to '{}' is in use", x.physical + i, e.name);
            }
        }
        total += x.count;
        logical.emplace_back(x.logical, x.count);
        physical.emplace_back(x.physical, x.count);
    }
    for (auto* v : {&logical, &physical}) {
        std::sort(v->begin(), v->end());
        for (std::size_t i = 1; i < v->size(); ++i) {
            if (uint64_t{(*v)[i - 1].first} + (*v)[i - 1].second > (*v)[i].first) {
                return errorf(EINVAL, "extents of '{}' overlap", e.name);
            }
        }
    }
    if (e.thin ? total != 0 : total != clusters) {
        return errorf(EINVAL, "{} lvol '{}' of {} clusters comes with {} clusters", e.thin ? "thin" : "thick",
                      e.name, clusters, total);
    }
    return ok();
}

Status PoolState::validate(const Record& rec) const {
    switch (rec.type) {
        case RecordType::CreateLvol:
            return validate_create(rec);
        case RecordType::DestroyLvol: {
            Lvol* l = find(rec.id);
            if (l == nullptr) {
                return errorf(ENOENT, "no lvol {}", rec.id);
            }
            if (!l->children.empty()) {
                return errorf(EBUSY, "{} has {} dependent lvol(s)", describe(*l), l->children.size());
            }
            return ok();
        }
        case RecordType::MapCluster: {
            Lvol* l = find(rec.id);
            if (l == nullptr) {
                return errorf(ENOENT, "no lvol {}", rec.id);
            }
            if (l->kind == LvolKind::Snapshot) {
                return errorf(EINVAL, "{} is a read-only snapshot", describe(*l));
            }
            if (rec.logical >= l->map.clusters()) {
                return errorf(EINVAL, "cluster {} is beyond the {} clusters of {}", rec.logical,
                              l->map.clusters(), describe(*l));
            }
            if (l->map.get(rec.logical) != kNoCluster) {
                return errorf(EEXIST, "cluster {} of {} is already mapped", rec.logical, describe(*l));
            }
            if (rec.physical >= _layout.data_clusters || _owned.test(rec.physical)) {
                return errorf(EINVAL, "data cluster {} for {} is out of range or in use", rec.physical,
                              describe(*l));
            }
            return ok();
        }
        case RecordType::Snapshot: {
            Lvol* r = find(rec.ref);
            if (r == nullptr) {
                return errorf(ENOENT, "no lvol {}", rec.ref);
            }
            if (r->kind == LvolKind::Snapshot) {
                return errorf(EINVAL, "{} is a snapshot: snapshots are taken of replicas and clones",
                              describe(*r));
            }
            return validate_new_name(rec);
        }
        case RecordType::Clone: {
            Lvol* s = find(rec.ref);
            if (s == nullptr) {
                return errorf(ENOENT, "no lvol {}", rec.ref);
            }
            if (s->kind != LvolKind::Snapshot) {
                return errorf(EINVAL, "{} is not a snapshot: clones are made of snapshots", describe(*s));
            }
            return validate_new_name(rec);
        }
        case RecordType::SetShare: {
            Lvol* l = find(rec.id);
            if (l == nullptr) {
                return errorf(ENOENT, "no lvol {}", rec.id);
            }
            if (l->kind == LvolKind::Snapshot) {
                return errorf(EINVAL, "{} is a snapshot and cannot be shared", describe(*l));
            }
            return ok();
        }
        case RecordType::Merge: {
            Lvol* s = find(rec.id);
            Lvol* c = find(rec.ref);
            if (s == nullptr || c == nullptr) {
                return errorf(ENOENT, "no lvol {}", s == nullptr ? rec.id : rec.ref);
            }
            if (s->kind != LvolKind::Snapshot || c->parent != s || s->children.size() != 1) {
                return errorf(EINVAL, "{} cannot be merged into {}: not its snapshot's only child",
                              describe(*s), describe(*c));
            }
            return ok();
        }
    }
    return errorf(EINVAL, "unknown record type {}", static_cast<unsigned>(rec.type));
}

// ---- apply -----------------------------------------------------------------------------------

void PoolState::take(uint32_t p) {
    _owned.set(p);
    ++_used;
    if (_reserved.test(p)) {
        _reserved.clear(p);
        --_reserved_count;
    }
}

void PoolState::release(uint32_t p) {
    _owned.clear(p);
    --_used;
}

Lvol& PoolState::insert(std::unique_ptr<Lvol> lvol) {
    Lvol& l = *lvol;
    _by_name[l.name] = &l;
    _lvols[l.id] = std::move(lvol);
    if (l.id >= _next_id) {
        _next_id = l.id + 1;
    }
    return l;
}

void PoolState::erase(Lvol* l) {
    l->map.for_each([&](uint32_t, uint32_t p) { release(p); });
    if (l->parent != nullptr) {
        auto& siblings = l->parent->children;
        siblings.erase(std::remove(siblings.begin(), siblings.end(), l), siblings.end());
    }
    for (Lvol* c : l->children) {
        c->parent = nullptr;
    }
    _by_name.erase(l->name);
    _lvols.erase(l->id);
}

void PoolState::apply(const Record& rec) {
    switch (rec.type) {
        case RecordType::CreateLvol: {
            auto l = std::make_unique<Lvol>();
            const LvolEntry& e = rec.lvol;
            l->id = e.id;
            l->name = e.name;
            l->uuid = e.uuid;
            l->kind = LvolKind::Replica;
            l->thin = e.thin;
            l->share = e.share;
            l->size = e.size;
            l->created = e.created;
            l->map = ClusterMap(clusters_of(e.size));
            for (const Extent& x : e.extents) {
                for (uint32_t i = 0; i < x.count; ++i) {
                    l->map.set(x.logical + i, x.physical + i);
                    take(x.physical + i);
                }
            }
            insert(std::move(l));
            break;
        }
        case RecordType::DestroyLvol:
            erase(find(rec.id));
            break;
        case RecordType::MapCluster:
            find(rec.id)->map.set(rec.logical, rec.physical);
            take(rec.physical);
            break;
        case RecordType::Snapshot: {
            Lvol* r = find(rec.ref);
            auto s = std::make_unique<Lvol>();
            s->id = rec.id;
            s->name = rec.lvol.name;
            s->uuid = rec.lvol.uuid;
            s->kind = LvolKind::Snapshot;
            s->size = r->size;
            s->created = rec.lvol.created;
            s->origin = r->id;
            s->map = std::move(r->map);
            r->map = ClusterMap(clusters_of(r->size));
            s->parent = r->parent;
            replace_child(r->parent, r, s.get());
            s->children = {r};
            r->parent = s.get();
            r->thin = true;  // its clusters now belong to the snapshot; it allocates on write
            insert(std::move(s));
            break;
        }
        case RecordType::Clone: {
            Lvol* s = find(rec.ref);
            auto c = std::make_unique<Lvol>();
            c->id = rec.id;
            c->name = rec.lvol.name;
            c->uuid = rec.lvol.uuid;
            c->kind = LvolKind::Clone;
            c->thin = true;
            c->size = s->size;
            c->created = rec.lvol.created;
            c->origin = s->id;
            c->map = ClusterMap(clusters_of(s->size));
            c->parent = s;
            s->children.push_back(c.get());
            insert(std::move(c));
            break;
        }
        case RecordType::SetShare:
            find(rec.id)->share = rec.share;
            break;
        case RecordType::Merge: {
            Lvol* s = find(rec.id);
            Lvol* c = find(rec.ref);
            s->map.for_each([&](uint32_t k, uint32_t p) {
                if (c->map.get(k) == kNoCluster) {
                    c->map.set(k, p);
                } else {
                    release(p);  // the child has its own copy
                }
            });
            s->map = ClusterMap();
            c->parent = s->parent;
            replace_child(s->parent, s, c);
            s->parent = nullptr;
            s->children.clear();
            erase(s);
            break;
        }
    }
}

// ---- images ----------------------------------------------------------------------------------

void PoolState::encode_image(uint64_t seq, std::vector<uint8_t>& out) const {
    ByteWriter w(out);
    w.u32(kImageVersion);
    w.u32(static_cast<uint32_t>(_lvols.size()));
    w.u32(_next_id);
    w.u32(0);
    w.u64(seq);
    for (const auto& [id, l] : _lvols) {
        LvolEntry e;
        e.id = l->id;
        e.parent = l->parent != nullptr ? l->parent->id : 0;
        e.origin = l->origin;
        e.kind = l->kind;
        e.thin = l->thin;
        e.share = l->share;
        e.uuid = l->uuid;
        e.size = l->size;
        e.created = l->created;
        e.name = l->name;
        e.extents = l->map.extents();
        encode_lvol(w, e);
    }
}

Result<std::unique_ptr<PoolState>> PoolState::decode_image(const Layout& layout,
                                                           std::span<const uint8_t> stream, uint64_t* seq) {
    ByteReader r(stream);
    uint32_t version = r.u32();
    uint32_t count = r.u32();
    uint32_t next_id = r.u32();
    uint32_t reserved = r.u32();
    *seq = r.u64();
    if (!r.ok()) {
        return make_error(EUCLEAN, "truncated image header");
    }
    if (version != kImageVersion || reserved != 0) {
        return errorf(EUCLEAN, "image version {} (expected {}) or reserved field {:#x}", version,
                      kImageVersion, reserved);
    }
    if (count > layout.max_lvols) {
        return errorf(EUCLEAN, "{} lvols, more than the pool's maximum of {}", count, layout.max_lvols);
    }
    if (next_id == 0) {
        return make_error(EUCLEAN, "next lvol id 0");
    }
    auto state = std::make_unique<PoolState>(layout);
    std::vector<std::pair<Lvol*, uint32_t>> parents;
    for (uint32_t i = 0; i < count; ++i) {
        auto e = decode_lvol(r);
        if (!e) {
            return errorf(EUCLEAN, "lvol entry {} of {}: {}", i, count, e.error().message);
        }
        std::string what = fmt::format("lvol entry {} (id {}, '{}')", i, e->id, e->name);
        if (e->id == 0 || e->id >= next_id || state->find(e->id) != nullptr) {
            return errorf(EUCLEAN, "{}: id out of range (next id {}) or repeated", what, next_id);
        }
        if (e->origin >= next_id) {
            return errorf(EUCLEAN, "{}: origin {} out of range", what, e->origin);
        }
        if (state->find(e->name) != nullptr) {
            return errorf(EUCLEAN, "{}: name repeated", what);
        }
        if (e->size == 0 || e->size % layout.block_size != 0 || state->clusters_of(e->size) == kNoCluster) {
            return errorf(EUCLEAN, "{}: bad size {}", what, e->size);
        }
        auto l = std::make_unique<Lvol>();
        l->id = e->id;
        l->name = e->name;
        l->uuid = e->uuid;
        l->kind = e->kind;
        l->thin = e->thin;
        l->share = e->share;
        l->size = e->size;
        l->created = e->created;
        l->origin = e->origin;
        l->map = ClusterMap(state->clusters_of(e->size));
        for (const Extent& x : e->extents) {
            if (x.count == 0 || uint64_t{x.logical} + x.count > l->map.clusters() ||
                uint64_t{x.physical} + x.count > layout.data_clusters) {
                return errorf(EUCLEAN, "{}: extent {}+{} -> {} out of range", what, x.logical, x.count,
                              x.physical);
            }
            for (uint32_t k = 0; k < x.count; ++k) {
                if (l->map.get(x.logical + k) != kNoCluster) {
                    return errorf(EUCLEAN, "{}: logical cluster {} mapped twice", what, x.logical + k);
                }
                if (state->_owned.test(x.physical + k)) {
                    return errorf(EUCLEAN, "{}: data cluster {} is owned twice", what, x.physical + k);
                }
                l->map.set(x.logical + k, x.physical + k);
                state->take(x.physical + k);
            }
        }
        if (l->kind != LvolKind::Snapshot && !l->thin && l->map.allocated() != l->map.clusters()) {
            return errorf(EUCLEAN, "{}: thick with {} of {} clusters", what, l->map.allocated(),
                          l->map.clusters());
        }
        if (e->parent != 0) {
            parents.emplace_back(l.get(), e->parent);
        }
        state->insert(std::move(l));
    }
    if (!r.at_end()) {
        return errorf(EUCLEAN, "{} bytes after the last lvol entry", r.remaining());
    }
    state->_next_id = next_id;
    for (auto [l, pid] : parents) {
        Lvol* p = state->find(pid);
        if (p == nullptr || p == l || p->kind != LvolKind::Snapshot || p->size != l->size) {
            return errorf(EUCLEAN, "{}: parent {} is missing, not a snapshot, itself or of another size",
                          describe(*l), pid);
        }
        l->parent = p;
        p->children.push_back(l);
    }
    // No cycles: walk up from each lvol, marking the path; meeting the path again is a cycle.
    std::unordered_map<Lvol*, int> mark;  // 1 on the current path, 2 done
    for (const auto& [id, l] : state->_lvols) {
        std::vector<Lvol*> path;
        for (Lvol* x = l.get(); x != nullptr && mark[x] != 2; x = x->parent) {
            if (mark[x] == 1) {
                return errorf(EUCLEAN, "{} is its own ancestor", describe(*x));
            }
            mark[x] = 1;
            path.push_back(x);
        }
        for (Lvol* x : path) {
            mark[x] = 2;
        }
    }
    return state;
}

// ---- reservations ----------------------------------------------------------------------------

Result<std::vector<Extent>> PoolState::reserve(uint32_t n) {
    if (free_clusters() < n) {
        return errorf(ENOSPC, "{} clusters needed, {} free", n, free_clusters());
    }
    std::vector<Extent> out;
    const uint32_t total = _layout.data_clusters;
    uint32_t found = 0;
    uint32_t at = _hint < total ? _hint : 0;
    for (uint64_t scanned = 0; found < n && scanned < total; ++scanned) {
        // Skip whole words that are full.
        if ((at & 63) == 0 && at + 64 <= total &&
            (_owned.words()[at >> 6] | _reserved.words()[at >> 6]) == ~uint64_t{0}) {
            scanned += 63;
            at = at + 64 == total ? 0 : at + 64;
            continue;
        }
        if (!_owned.test(at) && !_reserved.test(at)) {
            _reserved.set(at);
            ++_reserved_count;
            if (!out.empty() && out.back().physical + out.back().count == at) {
                ++out.back().count;
            } else {
                out.push_back({found, at, 1});
            }
            ++found;
        }
        at = at + 1 == total ? 0 : at + 1;
    }
    _hint = at;
    return out;
}

void PoolState::unreserve(uint32_t p) {
    if (_reserved.test(p)) {
        _reserved.clear(p);
        --_reserved_count;
    }
}

void PoolState::unreserve(const std::vector<Extent>& extents) {
    for (const Extent& x : extents) {
        for (uint32_t i = 0; i < x.count; ++i) {
            unreserve(x.physical + i);
        }
    }
}

}  // namespace ms::lvs
