// gRPC service mayastor.JsonRpc: forwards one call to the daemon's own JSON-RPC socket (-r), over
// the real socket, from the gRPC thread (it touches no data-path state itself).
#pragma once

#include "api/grpc/api_context.h"
#include "mayastor.grpc.pb.h"

namespace ms::api {

class JsonRpcService final : public mayastor::JsonRpc::Service {
   public:
    explicit JsonRpcService(const ApiContext& ctx) : _ctx(ctx) {}

    // params "" = no params. params not JSON -> INTERNAL. JSON-RPC error -32602 ->
    // INVALID_ARGUMENT, -2 -> NOT_FOUND, -17 -> ALREADY_EXISTS, anything else (and socket
    // errors) -> INTERNAL. The result is pretty-printed JSON.
    grpc::Status JsonRpcCall(grpc::ServerContext*, const mayastor::JsonRpcRequest*,
                             mayastor::JsonRpcReply*) override;

   private:
    const ApiContext& _ctx;
};

}  // namespace ms::api
