// The durable record of which children of a nexus hold current data, kept in the KvStore under
// `/mayastor/nexus/<uuid>` as JSON:
//   {"name": "nexus-...", "size": 67108864,
//    "children": [{"uri": "bdev:///r1", "current": true}, {"uri": "...", "current": false}]}
// A pure codec: the nexus decides what is current and when the record is written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/uuid.h"

namespace ms::nexus {

struct HealthRecord {
    struct Child {
        std::string uri;
        bool current = false;
    };
    std::string name;
    uint64_t size = 0;
    std::vector<Child> children;

    // Whether the record lists `uri` as current (false if it is not listed).
    bool is_current(std::string_view uri) const;
};

std::string health_record_key(const Uuid& nexus_uuid);
std::string encode_health_record(const HealthRecord& record);
// EINVAL (naming what is wrong) for anything that is not a record of this format.
Result<HealthRecord> decode_health_record(std::string_view text);

}  // namespace ms::nexus
