// The methods of the daemon's JSON-RPC server (docs/json-rpc.md). Each runs on the server's
// reactor and returns its result or an error value (EINVAL: invalid params).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "api/jsonrpc/json_rpc.h"
#include "core/task.h"
#include "target/share_registry.h"

namespace ms::api::jsonrpc {

struct MethodContext {
    std::string version;  // e.g. "0.1.0"
    // The shares, for the URIs of shared devices and replicas; null: nothing is shared.
    const target::ShareRegistry* shares = nullptr;
};

// `params` is null when the request had none.
using MethodFn = Task<Result<json>> (*)(const MethodContext& ctx, json params);

struct Method {
    std::string_view name;
    MethodFn fn;
};

std::span<const Method> methods();
const Method* find_method(std::string_view name);

}  // namespace ms::api::jsonrpc
