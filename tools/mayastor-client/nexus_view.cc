#include "mayastor-client/nexus_view.h"

#include <fmt/format.h>

#include <algorithm>

#include "mayastor-client/table.h"

namespace ms::client {
namespace {

std::string health_word(int state) {
    // NexusState and ChildState share their numbering: unknown, online, degraded, faulted.
    switch (state) {
        case 1:
            return "online";
        case 2:
            return "degraded";
        case 3:
            return "faulted";
        default:
            return "unknown";
    }
}

}  // namespace

std::string nexus_state_word(int state) {
    return health_word(state);
}
std::string child_state_word(int state) {
    return health_word(state);
}

std::string ana_state_word(int state) {
    switch (state) {
        case mayastor::NVME_ANA_INVALID_STATE:
            return "invalid";
        case mayastor::NVME_ANA_OPTIMIZED_STATE:
            return "optimized";
        case mayastor::NVME_ANA_NON_OPTIMIZED_STATE:
            return "non_optimized";
        case mayastor::NVME_ANA_INACCESSIBLE_STATE:
            return "inaccessible";
        case mayastor::NVME_ANA_PERSISTENT_LOSS_STATE:
            return "persistent_loss";
        case mayastor::NVME_ANA_CHANGE_STATE:
            return "change";
        default:
            return "unknown";
    }
}

std::optional<mayastor::NvmeAnaState> parse_ana_state(std::string_view word) {
    if (word == "optimized") {
        return mayastor::NVME_ANA_OPTIMIZED_STATE;
    }
    if (word == "non_optimized") {
        return mayastor::NVME_ANA_NON_OPTIMIZED_STATE;
    }
    if (word == "inaccessible") {
        return mayastor::NVME_ANA_INACCESSIBLE_STATE;
    }
    return std::nullopt;
}

std::optional<mayastor::ShareProtocolNexus> parse_nexus_share(std::string_view word) {
    if (word == "nvmf") {
        return mayastor::NEXUS_NVMF;
    }
    if (word == "iscsi") {
        return mayastor::NEXUS_ISCSI;
    }
    return std::nullopt;
}

bool parse_norebuild(std::string_view word) {
    return word == "true";
}

std::string render_nexus_list(const mayastor::ListNexusReply& reply, bool show_children, const Style& style) {
    if (reply.nexus_list().empty()) {
        return style.verbosity > 0 ? "No nexus found\n" : "";
    }
    Table table;
    table.columns = show_children ? sheet_columns({"NAME", ">SIZE", "STATE", ">REBUILDS", "PATH", "CHILDREN"})
                                  : sheet_columns({"NAME", ">SIZE", "STATE", ">REBUILDS", "PATH"});
    for (const auto& n : reply.nexus_list()) {
        std::vector<std::string> row = {n.uuid(), format_size(n.size(), style.units),
                                        nexus_state_word(n.state()), std::to_string(n.rebuilds()),
                                        n.device_uri()};
        if (show_children) {
            std::string children;
            for (const auto& c : n.children()) {
                children += children.empty() ? "" : ",";
                children += c.uri();
            }
            row.push_back(std::move(children));
        }
        table.rows.push_back(std::move(row));
    }
    return render_table(table, style.verbosity);
}

std::string render_nexus_children(const mayastor::Nexus& nexus, const Style& style) {
    Table table;
    table.columns = sheet_columns({"NAME", "STATE"});
    for (const auto& c : nexus.children()) {
        table.rows.push_back({c.uri(), child_state_word(c.state())});
    }
    return render_table(table, style.verbosity);
}

std::string render_rebuild_state(const mayastor::RebuildStateReply& reply, const Style& style) {
    Table table;
    table.columns = sheet_columns({"state"});
    table.rows.push_back({reply.state()});
    return render_table(table, style.verbosity);
}

std::string render_rebuild_stats(const mayastor::RebuildStatsReply& reply, const Style& style) {
    Table table;
    table.columns = sheet_columns({"blocks_total", "blocks_recovered", "progress (%)", "segment_size_blks",
                                   "block_size", "tasks_total", "tasks_active"});
    table.rows.push_back({std::to_string(reply.blocks_total()), std::to_string(reply.blocks_recovered()),
                          std::to_string(reply.progress()), std::to_string(reply.segment_size_blks()),
                          std::to_string(reply.block_size()), std::to_string(reply.tasks_total()),
                          std::to_string(reply.tasks_active())});
    return render_table(table, style.verbosity);
}

std::string render_rebuild_progress(const mayastor::RebuildProgressReply& reply, const Style& style) {
    Table table;
    table.columns = sheet_columns({"progress (%)"});
    table.rows.push_back({std::to_string(reply.progress())});
    return render_table(table, style.verbosity);
}

std::string rebuild_progress_bar(uint32_t percent) {
    constexpr uint32_t kWidth = 40;
    uint32_t p = std::min<uint32_t>(percent, 100);
    uint32_t filled = p * kWidth / 100;
    return fmt::format("\r[{}{}] {:>3}%", std::string(filled, '#'), std::string(kWidth - filled, ' '), p);
}

std::string rebuild_progress_line(uint32_t percent) {
    return fmt::format("progress: {}%\n", std::min<uint32_t>(percent, 100));
}

}  // namespace ms::client
