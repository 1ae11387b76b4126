// The API served in-process for tests: one reactor, the JSON-RPC server on a socket in a
// temporary folder, the gRPC server on 127.0.0.1 (a free port), the NVMe-oF target on 127.0.0.1
// (free ports, advertised as the pod IP 10.1.2.3), the NBD server on 127.0.0.1 (a free port, the
// same advertised IP), and stubs of the real gRPC C++ client. Teardown destroys
// every nexus, pool and device the test left, so tests stay independent (the nexus, device and pool
// registries are process-wide).
#pragma once

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "api/grpc/api_context.h"
#include "api/grpc/grpc_server.h"
#include "api/jsonrpc/json_rpc_client.h"
#include "api/jsonrpc/json_rpc_server.h"
#include "bdev/all_devices.h"
#include "bdev/device_factory.h"
#include "bdev/device_registry.h"
#include "bdev/nvmf/nvmf_device.h"
#include "core/runtime.h"
#include "lvs/lvs.h"
#include "mayastor.grpc.pb.h"
#include "nexus/nexus.h"
#include "target/nbd/nbd_server.h"
#include "target/nvmf/nvmf_target.h"
#include "target/share_registry.h"

namespace ms::api::test {

// A fresh temporary folder, removed with its contents.
class TempDir {
   public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ms-api-test.XXXXXX").string();
        _path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    const std::string& path() const { return _path; }
    std::string file(const std::string& name) const { return _path + "/" + name; }

   private:
    std::string _path;
};

class ApiFixture : public ::testing::Test {
   protected:
    void SetUp() override { start(); }
    void TearDown() override { stop(); }

    void start(PoolHooks pool_hooks = {}, bool with_target = true) {
        _runtime.emplace(RuntimeOptions{});
        register_all_device_factories();
        if (with_target) {
            nvmf::TargetOptions to;
            to.listen_address = "127.0.0.1";
            to.advertised_address = "10.1.2.3";
            to.replica_port = 0;
            to.nexus_port = 0;
            auto t = nvmf::NvmfTarget::start(*_runtime, to);
            ASSERT_TRUE(t) << t.error().message;
            _target = std::move(*t);
            ASSERT_TRUE(_shares.add_server(*_target));
            nbd::NbdServerOptions no;
            no.listen_address = "127.0.0.1";
            no.advertised_address = "10.1.2.3";
            no.port = 0;
            auto n = nbd::NbdServer::start(*_runtime, no);
            ASSERT_TRUE(n) << n.error().message;
            _nbd = std::move(*n);
            ASSERT_TRUE(_shares.add_server(*_nbd));
        }
        _socket = _dir.file("json.sock");
        _json_rpc = std::make_unique<JsonRpcServer>(jsonrpc::MethodContext{"1.2.3-test", &_shares});
        Status s = run_on(reactor(), [this]() -> Task<Status> { co_return _json_rpc->start(_socket); });
        ASSERT_TRUE(s) << s.error().message;
        ApiOptions o;
        o.node_name = "test-node";
        o.pod_ip = "10.1.2.3";
        o.json_rpc_socket = _socket;
        _ctx = std::make_unique<ApiContext>(reactor(), o, _shares, std::move(pool_hooks));
        _grpc = std::make_unique<GrpcServer>(*_ctx);
        auto port = _grpc->start("127.0.0.1:0");
        ASSERT_TRUE(port) << port.error().message;
        _port = *port;
        auto channel =
            grpc::CreateChannel(fmt::format("127.0.0.1:{}", _port), grpc::InsecureChannelCredentials());
        _mayastor = mayastor::Mayastor::NewStub(channel);
        _bdev = mayastor::BdevRpc::NewStub(channel);
        _json = mayastor::JsonRpc::NewStub(channel);
    }

    void stop() {
        if (!_runtime) {
            return;
        }
        _mayastor.reset();
        _bdev.reset();
        _json.reset();
        if (_grpc) {
            _grpc->stop();
        }
        _grpc.reset();
        _ctx.reset();
        // The shares hold replicas and nexuses open (and claimed).
        _shares.unshare_all();
        _shares.remove_server(target::kNvmf);
        _shares.remove_server(target::kNbd);
        _nbd.reset();
        _target.reset();
        run_on(reactor(), [this]() -> Task<void> {
            if (_json_rpc) {
                co_await _json_rpc->stop();
            }
            // Nexuses first: they hold replicas and devices open.
            auto& nexuses = nexus::NexusRegistry::instance();
            for (const auto& n : nexuses.list()) {
                (void)co_await nexuses.destroy(n.uuid);
            }
            auto& pools = lvs::PoolRegistry::instance();
            for (const auto& p : pools.list()) {
                (void)co_await pools.destroy(p.name);
            }
            for (int round = 0; round < 4; ++round) {
                for (const auto& d : DeviceRegistry::instance().list()) {
                    (void)co_await destroy_device(d->name());
                }
            }
        });
        _json_rpc.reset();
        _runtime->stop();
        _runtime.reset();
    }

    Reactor& reactor() { return _runtime->reactor(0); }

    // A JSON-RPC call on the server's socket.
    Result<jsonrpc::CallResult> json_call(const std::string& method, const jsonrpc::json& params = nullptr) {
        return jsonrpc::call(_socket, method, params, std::chrono::seconds(10));
    }

    static std::unique_ptr<grpc::ClientContext> client_context() {
        auto c = std::make_unique<grpc::ClientContext>();
        c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        return c;
    }

    TempDir _dir;
    std::optional<Runtime> _runtime;
    std::string _socket;
    std::unique_ptr<JsonRpcServer> _json_rpc;
    std::unique_ptr<nvmf::NvmfTarget> _target;
    std::unique_ptr<nbd::NbdServer> _nbd;
    target::ShareRegistry _shares;
    std::unique_ptr<ApiContext> _ctx;
    std::unique_ptr<GrpcServer> _grpc;
    uint16_t _port = 0;
    std::unique_ptr<mayastor::Mayastor::Stub> _mayastor;
    std::unique_ptr<mayastor::BdevRpc::Stub> _bdev;
    std::unique_ptr<mayastor::JsonRpc::Stub> _json;
};

// Unary call helper: `auto [status, reply] = call(&Stub::CreatePool, stub, request);`
template <typename Stub, typename Req, typename Rep>
std::pair<grpc::Status, Rep> call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Rep*),
                                  Stub& stub, const Req& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    Rep rep;
    grpc::Status s = (stub.*method)(&ctx, req, &rep);
    return {s, rep};
}

}  // namespace ms::api::test
