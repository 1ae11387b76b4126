// Logging to stderr with levels (spdlog). One place that sets the level for the process.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

#include "core/status.h"

namespace ms::log {

using spdlog::critical;
using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::trace;
using spdlog::warn;

// "trace", "debug", "info", "warn", "error", "critical", "off".
Status set_level(std::string_view level);
void init(std::string_view level = "info");

}  // namespace ms::log
