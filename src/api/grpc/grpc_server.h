// The gRPC endpoint serving Mayastor, BdevRpc and JsonRpc (grpc++ synchronous server: its own
// thread pool, each handler handing its work to the management reactor).
#pragma once

#include <grpcpp/server.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/grpc/api_context.h"
#include "api/grpc/bdev_service.h"
#include "api/grpc/json_rpc_service.h"
#include "api/grpc/mayastor_service.h"

namespace ms::api {

class GrpcServer {
   public:
    explicit GrpcServer(ApiContext& ctx) : _mayastor(ctx), _bdev(ctx), _json_rpc(ctx) {}
    ~GrpcServer() { stop(); }
    GrpcServer(const GrpcServer&) = delete;
    GrpcServer& operator=(const GrpcServer&) = delete;

    // Listens on `address` ("ip:port", "[ipv6]:port"; port 0 picks a free one) and serves.
    // Returns the bound port. EADDRINUSE-like failures are an error naming the address.
    Result<uint16_t> start(const std::string& address);
    // Stops accepting calls, gives calls in flight `grace` to finish (then cancels them) and
    // waits for the handlers. Idempotent. Not on the management reactor: handlers wait for it.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

   private:
    MayastorService _mayastor;
    BdevService _bdev;
    JsonRpcService _json_rpc;
    std::unique_ptr<grpc::Server> _server;
};

}  // namespace ms::api
