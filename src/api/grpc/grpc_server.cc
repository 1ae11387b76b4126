#include "api/grpc/grpc_server.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "core/log.h"

namespace ms::api {

Result<uint16_t> GrpcServer::start(const std::string& address) {
    if (_server) {
        return make_error(EALREADY, "the gRPC server is already started");
    }
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    // One server per port: a second daemon must fail to bind, not share the port silently.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.RegisterService(&_mayastor);
    builder.RegisterService(&_bdev);
    builder.RegisterService(&_json_rpc);
    _server = builder.BuildAndStart();
    if (!_server || port == 0) {
        _server.reset();
        return errorf(EADDRNOTAVAIL, "cannot serve gRPC on {} (address in use or not available)", address);
    }
    log::debug("gRPC server listening on {} (port {})", address, port);
    return static_cast<uint16_t>(port);
}

void GrpcServer::stop(std::chrono::milliseconds grace) {
    if (!_server) {
        return;
    }
    _server->Shutdown(std::chrono::system_clock::now() + grace);
    _server->Wait();
    _server.reset();
}

}  // namespace ms::api
