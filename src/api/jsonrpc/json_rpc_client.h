// A blocking JSON-RPC 2.0 client for one call on a Unix socket: used by the gRPC JsonRpc
// service (on its own thread, never a reactor) and by the `jsonrpc` tool.
#pragma once

#include <chrono>
#include <expected>
#include <string>

#include "api/jsonrpc/json_rpc.h"

namespace ms::api::jsonrpc {

struct RemoteError {
    int code = kInternalError;
    std::string message;
};

// The server's answer: its result, or the error it returned.
using CallResult = std::expected<json, RemoteError>;

// Connects to `socket_path`, sends one request (`params` null = none) and waits for its
// response, `timeout` at most in all. Transport failures (no server, timeout, a response that is
// not JSON-RPC) are the outer error.
Result<CallResult> call(const std::string& socket_path, const std::string& method, const json& params,
                        std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace ms::api::jsonrpc
