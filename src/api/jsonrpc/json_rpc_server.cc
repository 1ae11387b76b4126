#include "api/jsonrpc/json_rpc_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cassert>
#include <cstring>

#include "core/log.h"

namespace ms::api {

using jsonrpc::json;

JsonRpcServer::~JsonRpcServer() {
    assert(!_started || _tasks == 0);
}

namespace {

// True if a server accepts connections on the Unix socket `path` (then it must not be replaced;
// a socket file nobody listens on is stale and may be).
bool socket_in_use(const std::string& path) {
    sockaddr_un sun{};
    if (path.size() >= sizeof sun.sun_path) {
        return false;
    }
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return false;
    }
    // A Unix-socket connect completes or fails at once (EAGAIN only with a full backlog: busy).
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    bool in_use = rc == 0 || errno == EAGAIN;
    ::close(fd);
    return in_use;
}

}  // namespace

Status JsonRpcServer::start(const std::string& path) {
    if (_started) {
        return make_error(EALREADY, "the JSON-RPC server is already started");
    }
    if (socket_in_use(path)) {
        return errorf(EADDRINUSE, "JSON-RPC socket '{}' is in use by another process", path);
    }
    auto l = Listener::listen_unix(path);
    if (!l) {
        return errorf(l.error().code, "JSON-RPC socket '{}': {}", path, l.error().message);
    }
    _listener = std::move(*l);
    _path = path;
    _reactor = Reactor::current();
    _started = true;
    ++_tasks;
    _reactor->spawn(accept_loop());
    return ok();
}

Task<void> JsonRpcServer::stop() {
    if (!_started || _stopping) {
        co_await Drained{this};
        co_return;
    }
    _stopping = true;
    // shutdown() wakes the pending accept and every pending receive (they see EOF or an
    // error), so each task notices _stopping and ends.
    ::shutdown(_listener.fd(), SHUT_RDWR);
    for (Client* c : _clients) {
        ::shutdown(c->sock.fd(), SHUT_RDWR);
    }
    co_await Drained{this};
    _listener.close();
    ::unlink(_path.c_str());
    log::debug("JSON-RPC server on '{}' stopped", _path);
}

void JsonRpcServer::task_finished() {
    if (--_tasks == 0) {
        // Resumed from the loop, not from inside the finishing task's frame.
        for (auto h : std::exchange(_drain_waiters, {})) {
            _reactor->schedule(h);
        }
    }
}

Task<void> JsonRpcServer::accept_loop() {
    while (!_stopping) {
        auto sock = co_await _listener.accept();
        if (_stopping) {
            break;
        }
        if (!sock) {
            if (sock.error().code == ECANCELED) {
                break;  // the reactor is stopping
            }
            log::warn("JSON-RPC server: accept: {}", sock.error().message);
            // Out of descriptors or memory: give clients a moment to go away.
            co_await sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        if (_clients.size() >= kMaxClients) {
            log::warn("JSON-RPC server: more than {} clients, refusing one", kMaxClients);
            continue;  // the socket closes here
        }
        auto client = std::make_unique<Client>();
        client->sock = std::move(*sock);
        ++_tasks;
        _reactor->spawn(serve(std::move(client)));
    }
    task_finished();
}

Task<void> JsonRpcServer::serve(std::unique_ptr<Client> client) {
    _clients.insert(client.get());
    jsonrpc::JsonStream stream;
    std::vector<uint8_t> buf(64 * 1024);
    bool open = true;
    while (open && !_stopping) {
        auto n = co_await client->sock.recv_some(buf);
        if (!n || *n == 0 || _stopping) {
            break;
        }
        stream.append(std::string_view(reinterpret_cast<const char*>(buf.data()), *n));
        for (;;) {
            std::string text;
            std::string why;
            auto next = stream.next(text, why);
            if (next == jsonrpc::JsonStream::Next::NeedMore) {
                break;
            }
            std::optional<json> response;
            if (next == jsonrpc::JsonStream::Next::Broken) {
                log::debug("JSON-RPC client sent an unusable stream ({}): disconnecting it", why);
                response = jsonrpc::make_error_response(nullptr, jsonrpc::kParseError, "Parse error: " + why);
                open = false;
            } else {
                response = co_await handle_message(text);
            }
            if (response) {
                std::string out = response->dump(-1, ' ', false, json::error_handler_t::replace);
                out += '\n';
                Status s = co_await client->sock.send_all(
                    std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
                if (!s) {
                    open = false;
                }
            }
            if (!open || _stopping) {
                break;
            }
        }
    }
    _clients.erase(client.get());
    client.reset();
    task_finished();
}

Task<std::optional<json>> JsonRpcServer::handle_message(const std::string& text) {
    json msg = json::parse(text, nullptr, false);
    if (msg.is_discarded()) {
        co_return jsonrpc::make_error_response(nullptr, jsonrpc::kParseError, "Parse error: invalid JSON");
    }
    if (!msg.is_array()) {
        co_return co_await handle_one(msg);
    }
    if (msg.empty()) {
        co_return jsonrpc::make_error_response(nullptr, jsonrpc::kInvalidRequest,
                                               "Invalid request: empty batch");
    }
    json responses = json::array();
    for (const auto& request : msg) {
        if (auto r = co_await handle_one(request)) {
            responses.push_back(std::move(*r));
        }
    }
    if (responses.empty()) {
        co_return std::nullopt;
    }
    co_return responses;
}

Task<std::optional<json>> JsonRpcServer::handle_one(const json& req) {
    auto invalid = [](const json& id, std::string_view why) {
        return jsonrpc::make_error_response(id, jsonrpc::kInvalidRequest,
                                            fmt::format("Invalid request: {}", why));
    };
    if (!req.is_object()) {
        co_return invalid(nullptr, "not an object");
    }
    json id = nullptr;
    bool notification = !req.contains("id");
    if (!notification) {
        id = req["id"];
        if (!id.is_null() && !id.is_string() && !id.is_number()) {
            co_return invalid(nullptr, "'id' must be a string, a number or null");
        }
    }
    if (!req.contains("jsonrpc") || req["jsonrpc"] != "2.0") {
        co_return invalid(id, "'jsonrpc' must be \"2.0\"");
    }
    if (!req.contains("method") || !req["method"].is_string()) {
        co_return invalid(id, "'method' must be a string");
    }
    json params = nullptr;
    if (req.contains("params")) {
        params = req["params"];
        if (!params.is_object() && !params.is_array()) {
            co_return invalid(id, "'params' must be an object or an array");
        }
    }
    std::string method = req["method"].get<std::string>();
    const jsonrpc::Method* m = jsonrpc::find_method(method);
    if (m == nullptr) {
        if (notification) {
            co_return std::nullopt;
        }
        co_return jsonrpc::make_error_response(id, jsonrpc::kMethodNotFound,
                                               fmt::format("Method not found: '{}'", method));
    }
    log::debug("JSON-RPC call {} {}", method, params.is_null() ? std::string() : params.dump());
    auto result = co_await m->fn(_ctx, std::move(params));
    if (notification) {
        co_return std::nullopt;
    }
    if (!result) {
        co_return jsonrpc::make_error_response(id, jsonrpc::error_code(result.error()),
                                               result.error().message);
    }
    co_return jsonrpc::make_response(id, std::move(*result));
}

}  // namespace ms::api
