// gRPC service mayastor.BdevRpc: the process's block devices. Status codes: docs/api.md.
#pragma once

#include "api/grpc/api_context.h"
#include "mayastor.grpc.pb.h"

namespace ms::api {

class BdevService final : public mayastor::BdevRpc::Service {
   public:
    explicit BdevService(ApiContext& ctx) : _ctx(ctx) {}

    grpc::Status List(grpc::ServerContext*, const mayastor::Null*, mayastor::Bdevs*) override;
    grpc::Status Create(grpc::ServerContext*, const mayastor::BdevUri*, mayastor::CreateReply*) override;
    grpc::Status Destroy(grpc::ServerContext*, const mayastor::BdevUri*, mayastor::Null*) override;
    grpc::Status Share(grpc::ServerContext*, const mayastor::BdevShareRequest*,
                       mayastor::BdevShareReply*) override;
    grpc::Status Unshare(grpc::ServerContext*, const mayastor::CreateReply*, mayastor::Null*) override;

   private:
    ApiContext& _ctx;
};

}  // namespace ms::api
