// Parsing of core selections: a hex mask ("0x3", as -m takes) or a list ("0,2-3", as -l takes).
#pragma once

#include <string_view>
#include <vector>

#include "core/status.h"

namespace ms {

Result<std::vector<int>> parse_core_mask(std::string_view mask);
Result<std::vector<int>> parse_core_list(std::string_view list);

}  // namespace ms
