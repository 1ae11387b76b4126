#include "nexus/health_record.h"

#include <nlohmann/json.hpp>

namespace ms::nexus {

bool HealthRecord::is_current(std::string_view uri) const {
    for (const auto& c : children) {
        if (c.uri == uri) {
            return c.current;
        }
    }
    return false;
}

std::string health_record_key(const Uuid& nexus_uuid) {
    return "/mayastor/nexus/" + nexus_uuid.to_string();
}

std::string encode_health_record(const HealthRecord& record) {
    nlohmann::json children = nlohmann::json::array();
    for (const auto& c : record.children) {
        children.push_back({{"uri", c.uri}, {"current", c.current}});
    }
    nlohmann::json j = {{"name", record.name}, {"size", record.size}, {"children", std::move(children)}};
    return j.dump();
}

Result<HealthRecord> decode_health_record(std::string_view text) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return make_error(EINVAL, "nexus health record is not a JSON object");
    }
    HealthRecord r;
    if (!j.contains("name") || !j["name"].is_string()) {
        return make_error(EINVAL, "nexus health record has no string 'name'");
    }
    r.name = j["name"].get<std::string>();
    if (!j.contains("size") || !j["size"].is_number_unsigned()) {
        return make_error(EINVAL, "nexus health record has no unsigned 'size'");
    }
    r.size = j["size"].get<uint64_t>();
    if (!j.contains("children") || !j["children"].is_array()) {
        return make_error(EINVAL, "nexus health record has no 'children' array");
    }
    for (const auto& c : j["children"]) {
        if (!c.is_object() || !c.contains("uri") || !c["uri"].is_string() || !c.contains("current") ||
            !c["current"].is_boolean()) {
            return make_error(EINVAL,
                              "nexus health record has a child without string 'uri' and bool 'current'");
        }
        r.children.push_back({c["uri"].get<std::string>(), c["current"].get<bool>()});
    }
    return r;
}

}  // namespace ms::nexus
