// Small, exception-free helpers over yaml-cpp for the daemon's files: every error is an EINVAL
// that names the file, the key and the line.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ms::daemon {

// Parses one YAML document (an empty text is a null node).
Result<YAML::Node> load_yaml(std::string_view text, std::string_view where);
// "line L, column C" (1-based) of a node from the parser.
std::string yaml_position(const YAML::Node& node);
// EINVAL naming the first key of `map` that is not in `known`.
Status reject_unknown_keys(const YAML::Node& map, std::initializer_list<std::string_view> known,
                           std::string_view where, std::string_view what);
// A scalar as a string; nullopt if the node is absent or null.
Result<std::optional<std::string>> yaml_string(const YAML::Node& node, std::string_view key,
                                               std::string_view where);
// An unsigned integer; nullopt if absent or null.
Result<std::optional<uint64_t>> yaml_uint(const YAML::Node& node, std::string_view key,
                                          std::string_view where);
// A sequence of scalars (a single scalar is a list of one); nullopt if absent or null.
Result<std::optional<std::vector<std::string>>> yaml_string_list(const YAML::Node& node, std::string_view key,
                                                                 std::string_view where);

}  // namespace ms::daemon
