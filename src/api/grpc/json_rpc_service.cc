#include "api/grpc/json_rpc_service.h"

#include "api/grpc/grpc_status.h"
#include "api/jsonrpc/json_rpc_client.h"

namespace ms::api {

using grpc::StatusCode;

grpc::Status JsonRpcService::JsonRpcCall(grpc::ServerContext*, const mayastor::JsonRpcRequest* req,
                                         mayastor::JsonRpcReply* rep) {
    jsonrpc::json params = nullptr;
    if (!req->params().empty()) {
        params = jsonrpc::json::parse(req->params(), nullptr, false);
        if (params.is_discarded()) {
            return grpc_error(StatusCode::INTERNAL,
                              fmt::format("params of '{}' are not valid JSON", req->method()));
        }
    }
    auto r = jsonrpc::call(_ctx.options().json_rpc_socket, req->method(), params);
    if (!r) {
        return grpc_error(StatusCode::INTERNAL,
                          fmt::format("JSON-RPC call '{}' on '{}' failed: {}", req->method(),
                                      _ctx.options().json_rpc_socket, r.error().message));
    }
    if (!*r) {
        const auto& e = r->error();
        StatusCode code = StatusCode::INTERNAL;
        if (e.code == jsonrpc::kInvalidParams) {
            code = StatusCode::INVALID_ARGUMENT;
        } else if (e.code == -ENOENT) {
            code = StatusCode::NOT_FOUND;
        } else if (e.code == -EEXIST) {
            code = StatusCode::ALREADY_EXISTS;
        }
        return grpc_error(code, e.message);
    }
    rep->set_result((*r)->dump(2, ' ', false, jsonrpc::json::error_handler_t::replace));
    return grpc::Status::OK;
}

}  // namespace ms::api
