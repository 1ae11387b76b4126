#include "lvs/record.h"

#include <cstring>

#include "lvs/format.h"

namespace ms::lvs {
namespace {

constexpr uint8_t kFlagThin = 1;

void put_uuid(ByteWriter& w, const Uuid& u) {
    w.bytes(std::span<const uint8_t>(u.bytes()));
}

Uuid get_uuid(ByteReader& r) {
    std::array<uint8_t, 16> u{};
    auto b = r.bytes(16);
    if (b.size() == 16) {
        std::memcpy(u.data(), b.data(), 16);
    }
    return Uuid(u);
}

bool valid_kind(uint8_t k) {
    return k <= static_cast<uint8_t>(LvolKind::Clone);
}

bool valid_share(uint8_t s) {
    return s <= static_cast<uint8_t>(ShareProtocol::Nbd);
}

// Snapshot and Clone bodies: the new lvol's identity.
void encode_named(ByteWriter& w, const Record& rec) {
    w.u32(rec.id);
    w.u32(rec.ref);
    put_uuid(w, rec.lvol.uuid);
    w.u64(rec.lvol.created);
    w.u8(static_cast<uint8_t>(rec.lvol.name.size()));
    w.bytes(rec.lvol.name);
}

Status decode_named(ByteReader& r, Record& rec) {
    rec.id = r.u32();
    rec.ref = r.u32();
    rec.lvol.uuid = get_uuid(r);
    rec.lvol.created = r.u64();
    uint8_t len = r.u8();
    rec.lvol.name = r.string(len);
    if (!r.ok()) {
        return make_error(EUCLEAN, "truncated");
    }
    return check_name(rec.lvol.name, "lvol name");
}

}  // namespace

std::string_view to_string(RecordType t) {
    switch (t) {
        case RecordType::CreateLvol:
            return "create";
        case RecordType::DestroyLvol:
            return "destroy";
        case RecordType::MapCluster:
            return "map-cluster";
        case RecordType::Snapshot:
            return "snapshot";
        case RecordType::Clone:
            return "clone";
        case RecordType::SetShare:
            return "set-share";
        case RecordType::Merge:
            return "merge";
    }
    return "unknown";
}

Status check_name(std::string_view name, std::string_view what) {
    if (name.empty()) {
        return errorf(EINVAL, "empty {}", what);
    }
    if (name.size() > kMaxNameLength) {
        return errorf(EINVAL, "{} of {} bytes is longer than {}", what, name.size(), kMaxNameLength);
    }
    if (name.find('\0') != std::string_view::npos) {
        return errorf(EINVAL, "{} contains a NUL byte", what);
    }
    return ok();
}

void encode_lvol(ByteWriter& w, const LvolEntry& e) {
    w.u32(e.id);
    w.u32(e.parent);
    w.u32(e.origin);
    w.u8(static_cast<uint8_t>(e.kind));
    w.u8(e.thin ? kFlagThin : 0);
    w.u8(static_cast<uint8_t>(e.share));
    w.u8(static_cast<uint8_t>(e.name.size()));
    put_uuid(w, e.uuid);
    w.u64(e.size);
    w.u64(e.created);
    w.u32(static_cast<uint32_t>(e.extents.size()));
    w.u32(0);
    w.bytes(e.name);
    for (const Extent& x : e.extents) {
        w.u32(x.logical);
        w.u32(x.physical);
        w.u32(x.count);
    }
}

Result<LvolEntry> decode_lvol(ByteReader& r) {
    LvolEntry e;
    e.id = r.u32();
    e.parent = r.u32();
    e.origin = r.u32();
    uint8_t kind = r.u8();
    uint8_t flags = r.u8();
    uint8_t share = r.u8();
    uint8_t name_len = r.u8();
    e.uuid = get_uuid(r);
    e.size = r.u64();
    e.created = r.u64();
    uint32_t extents = r.u32();
    uint32_t reserved = r.u32();
    e.name = r.string(name_len);
    if (!r.ok()) {
        return make_error(EUCLEAN, "truncated lvol entry");
    }
    if (Status s = check_name(e.name, "lvol name"); !s) {
        return errorf(EUCLEAN, "lvol {}: {}", e.id, s.error().message);
    }
    if (!valid_kind(kind) || !valid_share(share) || (flags & ~kFlagThin) != 0 || reserved != 0) {
        return errorf(EUCLEAN, "lvol {} ('{}'): bad kind {}, share {}, flags {:#x} or reserved {:#x}", e.id,
                      e.name, kind, share, flags, reserved);
    }
    e.kind = static_cast<LvolKind>(kind);
    e.share = static_cast<ShareProtocol>(share);
    e.thin = (flags & kFlagThin) != 0;
    // Bounded by the bytes left, so a corrupt count cannot make us allocate gigabytes.
    if (uint64_t{extents} * kExtentBytes > r.remaining()) {
        return errorf(EUCLEAN, "lvol {} ('{}'): {} extents do not fit in the {} bytes left", e.id, e.name,
                      extents, r.remaining());
    }
    e.extents.resize(extents);
    for (Extent& x : e.extents) {
        x.logical = r.u32();
        x.physical = r.u32();
        x.count = r.u32();
    }
    if (!r.ok()) {
        return errorf(EUCLEAN, "lvol {}: truncated extents", e.id);
    }
    return e;
}

void encode_record(ByteWriter& w, const Record& rec) {
    w.u16(static_cast<uint16_t>(rec.type));
    w.u16(0);
    std::size_t len_at = w.size();
    w.u32(0);
    std::size_t body = w.size();
    switch (rec.type) {
        case RecordType::CreateLvol:
            encode_lvol(w, rec.lvol);
            break;
        case RecordType::DestroyLvol:
            w.u32(rec.id);
            break;
        case RecordType::MapCluster:
            w.u32(rec.id);
            w.u32(rec.logical);
            w.u32(rec.physical);
            break;
        case RecordType::Snapshot:
        case RecordType::Clone:
            encode_named(w, rec);
            break;
        case RecordType::SetShare:
            w.u32(rec.id);
            w.u8(static_cast<uint8_t>(rec.share));
            break;
        case RecordType::Merge:
            w.u32(rec.id);
            w.u32(rec.ref);
            break;
    }
    w.patch_u32(len_at, static_cast<uint32_t>(w.size() - body));
}

std::size_t record_size(const Record& rec) {
    switch (rec.type) {
        case RecordType::CreateLvol:
            return kRecordHeaderBytes + kLvolFixedBytes + rec.lvol.name.size() +
                   rec.lvol.extents.size() * kExtentBytes;
        case RecordType::DestroyLvol:
            return kRecordHeaderBytes + 4;
        case RecordType::MapCluster:
            return kRecordHeaderBytes + 12;
        case RecordType::Snapshot:
        case RecordType::Clone:
            return kRecordHeaderBytes + 33 + rec.lvol.name.size();
        case RecordType::SetShare:
            return kRecordHeaderBytes + 5;
        case RecordType::Merge:
            return kRecordHeaderBytes + 8;
    }
    return kRecordHeaderBytes;
}

Result<Record> decode_record(ByteReader& r) {
    uint16_t type = r.u16();
    uint16_t reserved = r.u16();
    uint32_t len = r.u32();
    if (!r.ok()) {
        return make_error(EUCLEAN, "truncated record header");
    }
    if (reserved != 0) {
        return errorf(EUCLEAN, "record header reserved field is {:#x}", reserved);
    }
    if (len > r.remaining()) {
        return errorf(EUCLEAN, "record of {} bytes with only {} left", len, r.remaining());
    }
    ByteReader body(r.bytes(len));
    Record rec;
    rec.type = static_cast<RecordType>(type);
    switch (rec.type) {
        case RecordType::CreateLvol: {
            auto e = decode_lvol(body);
            if (!e) {
                return std::unexpected(e.error());
            }
            rec.lvol = std::move(*e);
            rec.id = rec.lvol.id;
            break;
        }
        case RecordType::DestroyLvol:
            rec.id = body.u32();
            break;
        case RecordType::MapCluster:
            rec.id = body.u32();
            rec.logical = body.u32();
            rec.physical = body.u32();
            break;
        case RecordType::Snapshot:
        case RecordType::Clone:
            if (Status s = decode_named(body, rec); !s) {
                return errorf(EUCLEAN, "{} record: {}", to_string(rec.type), s.error().message);
            }
            break;
        case RecordType::SetShare: {
            rec.id = body.u32();
            uint8_t share = body.u8();
            if (!valid_share(share)) {
                return errorf(EUCLEAN, "set-share record: bad protocol {}", share);
            }
            rec.share = static_cast<ShareProtocol>(share);
            break;
        }
        case RecordType::Merge:
            rec.id = body.u32();
            rec.ref = body.u32();
            break;
        default:
            return errorf(EUCLEAN, "unknown record type {}", type);
    }
    if (!body.ok()) {
        return errorf(EUCLEAN, "{} record of {} bytes is truncated", to_string(rec.type), len);
    }
    if (!body.at_end()) {
        return errorf(EUCLEAN, "{} record has {} bytes too many", to_string(rec.type), body.remaining());
    }
    return rec;
}

}  // namespace ms::lvs
