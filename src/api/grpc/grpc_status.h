// Errors as gRPC statuses: one table from error codes to status codes (status_code), and the
// per-RPC departures the fact sheet fixes given at the call (to_grpc's overrides). Helpers only
// build the status.
#pragma once

#include <grpcpp/support/status.h>

#include <initializer_list>
#include <string>

#include "core/status.h"

namespace ms::api {

// The table: EINVAL -> INVALID_ARGUMENT; ENOENT, ENODEV -> NOT_FOUND; EEXIST -> ALREADY_EXISTS;
// ENOSPC -> RESOURCE_EXHAUSTED; EBUSY -> FAILED_PRECONDITION (in use: a claimed or shared
// device); EPROTONOSUPPORT, ENOTSUP -> UNIMPLEMENTED (not on this node); ETIMEDOUT ->
// DEADLINE_EXCEEDED; anything else INTERNAL.
grpc::StatusCode status_code(int error_code);

struct CodeOverride {
    int error_code;
    grpc::StatusCode status;
};
// The error as a status: the overrides first, then the table (or, with `otherwise_internal`,
// INTERNAL for every code the overrides do not name: the sheet's "failure -> INTERNAL" RPCs).
grpc::Status to_grpc(const Error& e, std::initializer_list<CodeOverride> overrides = {},
                     bool otherwise_internal = false);
// The sheet's common rule: the listed codes, INTERNAL for the rest.
inline grpc::Status internal_unless(const Error& e, std::initializer_list<CodeOverride> overrides) {
    return to_grpc(e, overrides, true);
}

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
