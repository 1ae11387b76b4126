// Size arguments of mayastor-client (`replica create --size`, `nexus create <size>`): a number,
// optionally with a decimal fraction, then optional spaces and a case-insensitive unit.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ms::client {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;

// Units: `B`; `K M G T P E Z` alone or followed by `B` are powers of 1000; the same letters
// followed by `i` or `iB` are powers of 1024 (`TiB` is 2^40, unlike the v0.8 client's parser,
// which multiplied it by 2^30). A number without a unit is multiplied by `bare_unit` (1 for
// `nexus create`, kMiB for `replica create`). The result is truncated to whole bytes. Returns
// nullopt for anything else, including a result above 2^64 - 1.
std::optional<uint64_t> parse_size(std::string_view text, uint64_t bare_unit = 1);

}  // namespace ms::client
