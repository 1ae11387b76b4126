#include "mayastor-client/replica_view.h"

#include <fmt/format.h>

#include <ctime>

#include "mayastor-client/table.h"

namespace ms::client {

std::string replica_share_word(int share) {
    switch (share) {
        case mayastor::REPLICA_NONE:
            return "none";
        case mayastor::REPLICA_NVMF:
            return "nvmf";
        case mayastor::REPLICA_ISCSI:
            return "iscsi";
        default:
            return "unknown";
    }
}

std::optional<mayastor::ShareProtocolReplica> parse_replica_share(std::string_view word) {
    if (word == "none") {
        return mayastor::REPLICA_NONE;
    }
    if (word == "nvmf") {
        return mayastor::REPLICA_NVMF;
    }
    if (word == "iscsi") {
        return mayastor::REPLICA_ISCSI;
    }
    return std::nullopt;
}

std::string render_replicas(const mayastor::ListReplicasReply& reply, const Style& style) {
    if (reply.replicas().empty()) {
        return style.verbosity > 0 ? "No replicas have been created\n" : "";
    }
    bool shared = false;
    for (const auto& r : reply.replicas()) {
        shared = shared || r.share() != mayastor::REPLICA_NONE;
    }
    Table table;
    table.trim_trailing = true;
    table.columns = {
        {.header = "POOL", .min_width = 20},
        {.header = "NAME", .min_width = 20},
        {.header = "THIN", .min_width = 8},
        {.header = "SIZE", .right = true, .min_width = 11, .header_inset = 1},
    };
    if (shared) {
        table.columns.push_back({.header = "SHARE", .min_width = 8});
        table.columns.push_back({.header = "URI"});
    }
    for (const auto& r : reply.replicas()) {
        std::vector<std::string> row = {r.pool(), r.uuid(), r.thin() ? "true" : "false",
                                        format_size_human(r.size(), style.units)};
        if (shared) {
            row.push_back(replica_share_word(r.share()));
            row.push_back(r.uri());
        }
        table.rows.push_back(std::move(row));
    }
    return render_table(table, style.verbosity);
}

std::string render_replica_stats(const mayastor::StatReplicasReply& reply, const Style& style) {
    if (reply.replicas().empty()) {
        return style.verbosity > 0 ? "No replicas have been created\n" : "";
    }
    Table table;
    table.columns = sheet_columns({"POOL", "NAME", "RDCNT", "WRCNT", "RDBYTES", "WRBYTES"});
    for (const auto& r : reply.replicas()) {
        const auto& s = r.stats();
        table.rows.push_back({r.pool(), r.uuid(), std::to_string(s.num_read_ops()),
                              std::to_string(s.num_write_ops()), format_size(s.bytes_read(), style.units),
                              format_size(s.bytes_written(), style.units)});
    }
    return render_table(table, style.verbosity);
}

std::string utc_timestamp(uint64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    if (gmtime_r(&t, &tm) == nullptr) {
        return std::to_string(unix_seconds);
    }
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string render_snapshots(const mayastor::ListReplicaSnapshotsReply& reply, const Style& style) {
    if (reply.snapshots().empty()) {
        return style.verbosity > 0 ? "No snapshots found\n" : "";
    }
    Table table;
    table.columns = sheet_columns({"POOL", "NAME", "REPLICA", ">SIZE", ">ALLOCATED", "CREATED", "CLONES"});
    for (const auto& s : reply.snapshots()) {
        std::string clones;
        for (const auto& c : s.clones()) {
            clones += clones.empty() ? "" : ",";
            clones += c;
        }
        table.rows.push_back({s.pool(), s.name(), s.replica(), format_size(s.size(), style.units),
                              format_size(s.allocated(), style.units), utc_timestamp(s.timestamp()), clones});
    }
    return render_table(table, style.verbosity);
}

}  // namespace ms::client
