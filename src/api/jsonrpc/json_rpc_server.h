// The daemon's JSON-RPC 2.0 server on a Unix socket (-r), served by one reactor with the
// reactor's sockets (core/net.h): an accept loop and one task per client. Requests of one client
// are answered in order; clients do not wait for each other except where a method awaits I/O on
// the same reactor. A client sending something that cannot be framed (not JSON, too large, too
// deep) gets a parse error and is disconnected; a well-framed but invalid message gets its
// error and the connection stays. Methods: json_rpc_methods.h, docs/json-rpc.md.
#pragma once

#include <coroutine>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/jsonrpc/json_rpc.h"
#include "api/jsonrpc/json_rpc_methods.h"
#include "core/net.h"
#include "core/reactor.h"

namespace ms::api {

class JsonRpcServer {
   public:
    static constexpr std::size_t kMaxClients = 256;

    explicit JsonRpcServer(jsonrpc::MethodContext ctx) : _ctx(std::move(ctx)) {}
    ~JsonRpcServer();
    JsonRpcServer(const JsonRpcServer&) = delete;
    JsonRpcServer& operator=(const JsonRpcServer&) = delete;

    // On a reactor: listens on `path` and serves on this reactor until stop(). A stale socket
    // file there is replaced; one another process still serves is EADDRINUSE.
    Status start(const std::string& path);
    // On the reactor that started it: stops accepting, disconnects every client, waits for the
    // tasks to finish and removes the socket file. Idempotent. The pending accept and receives
    // are woken with shutdown(2) on their sockets (net.h has no per-operation cancel; reactor
    // stop would cancel them, but the reactor lives on after the server).
    Task<void> stop();

    const std::string& path() const { return _path; }
    std::size_t clients() const { return _clients.size(); }

   private:
    // One message (an object or a batch array) in, the response to send out (nullopt: none,
    // all notifications).
    Task<std::optional<jsonrpc::json>> handle_message(const std::string& text);

    struct Client {
        Socket sock;
    };
    Task<void> accept_loop();
    Task<void> serve(std::unique_ptr<Client> client);
    Task<std::optional<jsonrpc::json>> handle_one(const jsonrpc::json& request);
    void task_finished();

    struct Drained {
        JsonRpcServer* server;
        bool await_ready() const noexcept { return server->_tasks == 0; }
        void await_suspend(std::coroutine_handle<> h) { server->_drain_waiters.push_back(h); }
        void await_resume() const noexcept {}
    };

    jsonrpc::MethodContext _ctx;
    std::string _path;
    Listener _listener;
    Reactor* _reactor = nullptr;
    bool _started = false;
    bool _stopping = false;
    std::size_t _tasks = 0;
    std::vector<std::coroutine_handle<>> _drain_waiters;
    std::set<Client*> _clients;
};

}  // namespace ms::api
