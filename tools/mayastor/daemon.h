// The daemon's life: start the reactors, create the configured devices, serve until SIGTERM or
// SIGINT, then take everything down in reverse order. Later versions add the gRPC API, pools
// and nexuses here, each started after the devices and stopped before them.
#pragma once

#include "options.h"

namespace ms::daemon {

// Runs the daemon with validated options; returns the process exit code (0 after a clean
// shutdown, 1 if start-up failed).
int run_daemon(const DaemonOptions& options);

}  // namespace ms::daemon
