// Errors as gRPC statuses. Which code an error becomes is decided per RPC (the fact sheet fixes
// them); these helpers only build the status.
#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "core/status.h"

namespace ms::api {

inline grpc::Status grpc_error(grpc::StatusCode code, std::string message) {
    return grpc::Status(code, std::move(message));
}

inline grpc::Status grpc_error(grpc::StatusCode code, const Error& e) {
    return grpc::Status(code, e.message);
}

// The status of a capability this version does not have yet; `what` names it.
inline grpc::Status unimplemented(std::string_view rpc, std::string_view what) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        fmt::format("{}: {} is not implemented yet", rpc, what));
}

}  // namespace ms::api
