// mayastor: the storage data plane daemon. Options are parsed in options.cc; the daemon's
// start-up and shutdown live in daemon.cc.
#include <cstdlib>
#include <optional>
#include <string>

#include "core/log.h"
#include "daemon.h"
#include "options.h"

int main(int argc, char** argv) {
    std::optional<std::string> pod_ip;
    if (const char* v = std::getenv("MY_POD_IP"); v != nullptr && *v != '\0') {
        pod_ip = v;
    }
    auto cmd = ms::daemon::parse_command_line(argc, argv, pod_ip);
    if (!cmd.options) {
        return cmd.exit_code;
    }
    ms::log::init(cmd.options->log_level);
    return ms::daemon::run_daemon(*cmd.options);
}
