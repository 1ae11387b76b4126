#include "api/grpc/grpc_status.h"

#include <cerrno>

namespace ms::api {

using grpc::StatusCode;

grpc::StatusCode status_code(int error_code) {
    switch (error_code) {
        case EINVAL:
            return StatusCode::INVALID_ARGUMENT;
        case ENOENT:
        case ENODEV:
            return StatusCode::NOT_FOUND;
        case EEXIST:
            return StatusCode::ALREADY_EXISTS;
        case ENOSPC:
            return StatusCode::RESOURCE_EXHAUSTED;
        case EBUSY:
            return StatusCode::FAILED_PRECONDITION;
        case EPROTONOSUPPORT:
        case ENOTSUP:
            return StatusCode::UNIMPLEMENTED;
        case ETIMEDOUT:
            return StatusCode::DEADLINE_EXCEEDED;
        default:
            return StatusCode::INTERNAL;
    }
}

grpc::Status to_grpc(const Error& e, std::initializer_list<CodeOverride> overrides, bool otherwise_internal) {
    for (const auto& o : overrides) {
        if (o.error_code == e.code) {
            return grpc::Status(o.status, e.message);
        }
    }
    return grpc::Status(otherwise_internal ? StatusCode::INTERNAL : status_code(e.code), e.message);
}

}  // namespace ms::api
