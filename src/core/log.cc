#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace ms::log {

Status set_level(std::string_view level) {
    auto lvl = spdlog::level::from_str(std::string(level));
    // from_str maps anything unknown to "off": only accept "off" when it was asked for.
    if (lvl == spdlog::level::off && level != "off") {
        return errorf(EINVAL, "unknown log level '{}'", level);
    }
    spdlog::set_level(lvl);
    return ok();
}

void init(std::string_view level) {
    auto logger = spdlog::stderr_color_mt("mayastor");
    logger->set_pattern("[%Y-%m-%dT%H:%M:%S.%fZ %^%-5l%$ %t] %v", spdlog::pattern_time_type::utc);
    spdlog::set_default_logger(logger);
    (void)set_level(level);
}

}  // namespace ms::log
