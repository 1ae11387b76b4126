// Words for the nexus's enums (logs, the CLI, the API's rebuild state).
#include "nexus/nexus.h"

namespace ms::nexus {

std::string_view to_string(ChildState s) {
    switch (s) {
        case ChildState::Init:
            return "init";
        case ChildState::ConfigInvalid:
            return "config_invalid";
        case ChildState::Open:
            return "open";
        case ChildState::Destroying:
            return "destroying";
        case ChildState::Closed:
            return "closed";
        case ChildState::Faulted:
            return "faulted";
    }
    return "unknown";
}

std::string_view to_string(FaultReason r) {
    switch (r) {
        case FaultReason::None:
            return "none";
        case FaultReason::OutOfSync:
            return "out_of_sync";
        case FaultReason::IoError:
            return "io_error";
        case FaultReason::AdminCommand:
            return "admin_command";
        case FaultReason::CantOpen:
            return "cant_open";
        case FaultReason::RebuildFailed:
            return "rebuild_failed";
    }
    return "unknown";
}

std::string_view to_string(NexusState s) {
    switch (s) {
        case NexusState::Online:
            return "online";
        case NexusState::Degraded:
            return "degraded";
        case NexusState::Faulted:
            return "faulted";
    }
    return "unknown";
}

std::string_view to_string(RebuildState s) {
    switch (s) {
        case RebuildState::Init:
            return "init";
        case RebuildState::Running:
            return "running";
        case RebuildState::Stopped:
            return "stopped";
        case RebuildState::Paused:
            return "paused";
        case RebuildState::Failed:
            return "failed";
        case RebuildState::Completed:
            return "completed";
    }
    return "unknown";
}

}  // namespace ms::nexus
