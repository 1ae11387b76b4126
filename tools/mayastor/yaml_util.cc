#include "yaml_util.h"

#include <charconv>
#include <exception>

namespace ms::daemon {

Result<YAML::Node> load_yaml(std::string_view text, std::string_view where) {
    try {
        return YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        return errorf(EINVAL, "{}: invalid YAML at line {}, column {}: {}", where, e.mark.line + 1,
                      e.mark.column + 1, e.msg);
    } catch (const std::exception& e) {
        return errorf(EINVAL, "{}: invalid YAML: {}", where, e.what());
    }
}

std::string yaml_position(const YAML::Node& node) {
    const YAML::Mark m = node.Mark();
    if (m.is_null()) {
        return "position unknown";
    }
    return fmt::format("line {}, column {}", m.line + 1, m.column + 1);
}

Status reject_unknown_keys(const YAML::Node& map, std::initializer_list<std::string_view> known,
                           std::string_view where, std::string_view what) {
    for (const auto& kv : map) {
        const YAML::Node key = kv.first;
        std::string name = key.IsScalar() ? key.Scalar() : std::string("<non-scalar key>");
        bool found = false;
        for (auto k : known) {
            found |= name == k;
        }
        if (!found) {
            std::string list;
            for (auto k : known) {
                list += (list.empty() ? "" : ", ") + std::string(k);
            }
            return errorf(EINVAL, "{}: unknown key '{}' in {} ({}); known keys: {}", where, name, what,
                          yaml_position(key), list);
        }
    }
    return ok();
}

Result<std::optional<std::string>> yaml_string(const YAML::Node& node, std::string_view key,
                                               std::string_view where) {
    if (!node.IsDefined() || node.IsNull()) {
        return std::optional<std::string>();
    }
    if (!node.IsScalar()) {
        return errorf(EINVAL, "{}: '{}' must be a string ({})", where, key, yaml_position(node));
    }
    return std::optional<std::string>(node.Scalar());
}

Result<std::optional<uint64_t>> yaml_uint(const YAML::Node& node, std::string_view key,
                                          std::string_view where) {
    auto text = yaml_string(node, key, where);
    if (!text) {
        return std::unexpected(text.error());
    }
    if (!*text) {
        return std::optional<uint64_t>();
    }
    const std::string& s = **text;
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
        return errorf(EINVAL, "{}: '{}' must be a non-negative integer, not '{}' ({})", where, key, s,
                      yaml_position(node));
    }
    return std::optional<uint64_t>(v);
}

Result<std::optional<std::vector<std::string>>> yaml_string_list(const YAML::Node& node, std::string_view key,
                                                                 std::string_view where) {
    using Out = std::optional<std::vector<std::string>>;
    if (!node.IsDefined() || node.IsNull()) {
        return Out();
    }
    if (node.IsScalar()) {
        return Out(std::vector<std::string>{node.Scalar()});
    }
    if (!node.IsSequence()) {
        return errorf(EINVAL, "{}: '{}' must be a list of strings ({})", where, key, yaml_position(node));
    }
    std::vector<std::string> out;
    for (const auto& item : node) {
        if (!item.IsScalar()) {
            return errorf(EINVAL, "{}: every item of '{}' must be a string ({})", where, key,
                          yaml_position(item));
        }
        out.push_back(item.Scalar());
    }
    return Out(std::move(out));
}

}  // namespace ms::daemon
