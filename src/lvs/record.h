// The log records of a pool and the lvol entries of its checkpoint image, and their byte
// encoding (docs/lvs-format.md). A record describes one change of the pool's state; replaying
// the records after the image rebuilds the state (PoolState::apply).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/uuid.h"
#include "lvs/bytes.h"
#include "lvs/lvs.h"

namespace ms::lvs {

enum class RecordType : uint16_t {
    CreateLvol = 1,   // a replica with its clusters (thick) or none (thin)
    DestroyLvol = 2,  // an lvol no other lvol depends on; its clusters become free
    MapCluster = 3,   // a cluster allocated to an lvol (thin first write, copy-on-write)
    Snapshot = 4,     // snapshot `id` of replica `ref`: it takes over the replica's clusters
    Clone = 5,        // clone `id` of snapshot `ref`: empty, thin, reads fall through to `ref`
    SetShare = 6,     // share protocol of `id`
    Merge = 7,        // snapshot `id` folded into its only child `ref`, then gone
};
std::string_view to_string(RecordType t);

// A run of clusters of an lvol: logical clusters [logical, logical + count) live in physical
// data clusters [physical, physical + count).
struct Extent {
    uint32_t logical = 0;
    uint32_t physical = 0;
    uint32_t count = 0;
    friend bool operator==(const Extent&, const Extent&) = default;
};

// An lvol as the image stores it (and as CreateLvol carries it).
struct LvolEntry {
    uint32_t id = 0;
    uint32_t parent = 0;  // 0: none
    uint32_t origin = 0;  // snapshot: the lvol it was taken of (may no longer exist)
    LvolKind kind = LvolKind::Replica;
    bool thin = false;
    ShareProtocol share = ShareProtocol::None;
    Uuid uuid;
    uint64_t size = 0;
    uint64_t created = 0;
    std::string name;
    std::vector<Extent> extents;
};

struct Record {
    RecordType type = RecordType::CreateLvol;
    // The lvol the record is about: the new one for CreateLvol, Snapshot and Clone.
    uint32_t id = 0;
    // Snapshot: the replica; Clone: the snapshot; Merge: the child.
    uint32_t ref = 0;
    uint32_t logical = 0;                       // MapCluster
    uint32_t physical = 0;                      // MapCluster
    ShareProtocol share = ShareProtocol::None;  // SetShare
    // CreateLvol: all of it. Snapshot and Clone: name, uuid, created.
    LvolEntry lvol;
};

void encode_lvol(ByteWriter& w, const LvolEntry& e);
// Decodes and checks the fields that need no context (lengths, enum values, flags); the
// state checks the rest. EUCLEAN with what is wrong.
Result<LvolEntry> decode_lvol(ByteReader& r);

void encode_record(ByteWriter& w, const Record& rec);
Result<Record> decode_record(ByteReader& r);
// Bytes encode_record writes for `rec`.
std::size_t record_size(const Record& rec);

// A valid lvol or pool name: 1..255 bytes, no NUL.
Status check_name(std::string_view name, std::string_view what);

}  // namespace ms::lvs
