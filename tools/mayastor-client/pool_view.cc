#include "mayastor-client/pool_view.h"

#include <vector>

#include "mayastor-client/table.h"

namespace ms::client {

std::string pool_state_word(int state) {
    switch (state) {
        case mayastor::POOL_ONLINE:
            return "online";
        case mayastor::POOL_DEGRADED:
            return "degraded";
        case mayastor::POOL_FAULTED:
            return "faulted";
        default:
            return "unknown";
    }
}

std::string pool_disk_text(std::string_view uri) {
    auto fragment_at = uri.find('#');
    std::string_view fragment = fragment_at == std::string_view::npos ? "" : uri.substr(fragment_at);
    uri = uri.substr(0, fragment_at);
    auto query_at = uri.find('?');
    std::string_view base = uri.substr(0, query_at);
    std::string query;
    if (query_at != std::string_view::npos) {
        std::string_view rest = uri.substr(query_at + 1);
        while (true) {
            auto amp = rest.find('&');
            std::string_view param = rest.substr(0, amp);
            std::string_view key = param.substr(0, param.find('='));
            if (!param.empty() && key != "uuid") {
                query += query.empty() ? "" : "&";
                query += param;
            }
            if (amp == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(amp + 1);
        }
    }
    constexpr std::string_view kAio = "aio://";
    if (query.empty() && base.starts_with(kAio) && base.size() > kAio.size() && base[kAio.size()] == '/') {
        base.remove_prefix(kAio.size());
    }
    std::string out(base);
    if (!query.empty()) {
        out += "?" + query;
    }
    out += fragment;
    return out;
}

std::string render_pools(const mayastor::ListPoolsReply& reply, const Style& style) {
    if (reply.pools().empty()) {
        return style.verbosity > 0 ? "No pools found\n" : "";
    }
    Table table;
    table.trim_trailing = true;
    table.columns = {
        {.header = "NAME", .min_width = 20},
        {.header = "STATE", .min_width = 8},
        {.header = "CAPACITY", .right = true, .min_width = 12},
        {.header = "USED", .right = true, .min_width = 12},
        {.header = "DISKS", .gap = "   "},
    };
    for (const auto& pool : reply.pools()) {
        std::string disks;
        for (const auto& disk : pool.disks()) {
            disks += disks.empty() ? "" : " ";
            disks += pool_disk_text(disk);
        }
        table.rows.push_back({pool.name(), pool_state_word(pool.state()),
                              format_size_human(pool.capacity(), style.units),
                              format_size_human(pool.used(), style.units), disks});
    }
    return render_table(table, style.verbosity);
}

}  // namespace ms::client
