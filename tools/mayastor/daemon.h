// The daemon's life: start the reactors, create the configured devices and pools, serve the
// JSON-RPC socket (on reactor 0) and the gRPC API (its own threads, handing work to reactor 0)
// until SIGTERM or SIGINT, then take everything down in reverse order: gRPC, JSON-RPC, pools
// (exported, not deleted), devices.
#pragma once

#include "options.h"

namespace ms::daemon {

// Runs the daemon with validated options; returns the process exit code (0 after a clean
// shutdown, 1 if start-up failed).
int run_daemon(const DaemonOptions& options);

}  // namespace ms::daemon
