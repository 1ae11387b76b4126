// `pool list` output (default format).
#pragma once

#include <string>
#include <string_view>

#include "mayastor-client/style.h"
#include "mayastor.pb.h"

namespace ms::client {

std::string pool_state_word(int state);  // online, degraded, faulted, unknown

// A pool disk URI as people write it: the `uuid` query parameter removed, and `aio://` dropped
// when no other parameter remains (`aio:///dev/loop8?uuid=..` -> `/dev/loop8`,
// `malloc:///m0?size_mb=100&uuid=..` -> `malloc:///m0?size_mb=100`).
std::string pool_disk_text(std::string_view uri);

// Columns NAME (min 20) STATE (min 8) >CAPACITY (min 12) >USED (min 12), three spaces, DISKS;
// sizes human unless -u; "No pools found" for none (nothing at -q).
std::string render_pools(const mayastor::ListPoolsReply& reply, const Style& style);

}  // namespace ms::client
