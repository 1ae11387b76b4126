// `nexus list`, `nexus children`, `nexus ana_state` and `rebuild state|stats|progress` output
// (default format, and the lines of `rebuild progress --follow`), and the nexus words the
// commands take.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mayastor-client/style.h"
#include "mayastor.pb.h"

namespace ms::client {

std::string nexus_state_word(int state);  // unknown, online, degraded, faulted
std::string child_state_word(int state);  // unknown, online, degraded, faulted

// invalid, optimized, non_optimized, inaccessible, persistent_loss, change; "unknown" otherwise.
std::string ana_state_word(int state);
// The settable states: optimized, non_optimized, inaccessible.
std::optional<mayastor::NvmeAnaState> parse_ana_state(std::string_view word);

// `nexus publish -p`: nvmf, iscsi (no -p: NEXUS_NBD).
std::optional<mayastor::ShareProtocolNexus> parse_nexus_share(std::string_view word);

// `nexus add <uuid> <uri> [norebuild]`: "true" -> true, anything else false.
bool parse_norebuild(std::string_view word);

// Sheet table NAME >SIZE STATE >REBUILDS PATH [CHILDREN]; "No nexus found".
std::string render_nexus_list(const mayastor::ListNexusReply& reply, bool show_children, const Style& style);

// Sheet table NAME STATE (child uri, state word).
std::string render_nexus_children(const mayastor::Nexus& nexus, const Style& style);

std::string render_rebuild_state(const mayastor::RebuildStateReply& reply, const Style& style);
std::string render_rebuild_stats(const mayastor::RebuildStatsReply& reply, const Style& style);
std::string render_rebuild_progress(const mayastor::RebuildProgressReply& reply, const Style& style);

// `rebuild progress --follow` on a terminal: the bar that replaces the previous one on the same
// line ("\r[#####...   ]  50%", no newline; percent above 100 is shown as 100).
std::string rebuild_progress_bar(uint32_t percent);
// The same when stdout is not a terminal: "progress: 50%\n".
std::string rebuild_progress_line(uint32_t percent);

}  // namespace ms::client
