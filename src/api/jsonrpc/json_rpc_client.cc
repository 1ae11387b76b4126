#include "api/jsonrpc/json_rpc_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace ms::api::jsonrpc {

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
   public:
    explicit Fd(int fd) : _fd(fd) {}
    ~Fd() {
        if (_fd >= 0) {
            ::close(_fd);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return _fd; }

   private:
    int _fd;
};

// Waits until `fd` is ready for `events` or the deadline passes (ETIMEDOUT).
Status wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            return make_error(ETIMEDOUT, "timed out waiting for the JSON-RPC server");
        }
        pollfd p{fd, events, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
        if (n > 0) {
            return ok();
        }
        if (n < 0 && errno != EINTR) {
            return errno_error(errno, "poll");
        }
    }
}

}  // namespace

Result<CallResult> call(const std::string& socket_path, const std::string& method, const json& params,
                        std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof sun.sun_path) {
        return errorf(ENAMETOOLONG, "socket path '{}' is too long", socket_path);
    }
    std::memcpy(sun.sun_path, socket_path.data(), socket_path.size());
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) {
        return errno_error(errno, "socket");
    }
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            return errno_error(errno, fmt::format("cannot connect to '{}'", socket_path));
        }
        if (Status s = wait_fd(fd.get(), POLLOUT, deadline); !s) {
            return std::unexpected(s.error());
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            return errno_error(err, fmt::format("cannot connect to '{}'", socket_path));
        }
    }

    const json id = 1;
    std::string out = make_request(id, method, params.is_null() ? nullptr : &params).dump();
    std::size_t sent = 0;
    while (sent < out.size()) {
        ssize_t n = ::send(fd.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return errno_error(errno, "send");
        }
        if (Status s = wait_fd(fd.get(), POLLOUT, deadline); !s) {
            return std::unexpected(s.error());
        }
    }

    JsonStream stream;
    char buf[64 * 1024];
    for (;;) {
        std::string text;
        std::string why;
        auto next = stream.next(text, why);
        if (next == JsonStream::Next::Broken) {
            return errorf(EPROTO, "bad response from the JSON-RPC server: {}", why);
        }
        if (next == JsonStream::Next::Message) {
            json resp = json::parse(text, nullptr, false);
            if (resp.is_discarded() || !resp.is_object()) {
                return make_error(EPROTO, "bad response from the JSON-RPC server: not a JSON object");
            }
            if (resp.contains("error")) {
                const json& e = resp["error"];
                RemoteError re;
                if (e.is_object() && e.contains("code") && e["code"].is_number_integer()) {
                    re.code = e["code"].get<int>();
                }
                if (e.is_object() && e.contains("message") && e["message"].is_string()) {
                    re.message = e["message"].get<std::string>();
                }
                return CallResult(std::unexpected(std::move(re)));
            }
            if (!resp.contains("result")) {
                return make_error(EPROTO, "bad response from the JSON-RPC server: no result and no error");
            }
            return CallResult(std::move(resp["result"]));
        }
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n > 0) {
            stream.append(std::string_view(buf, static_cast<std::size_t>(n)));
            continue;
        }
        if (n == 0) {
            return make_error(ECONNRESET, "the JSON-RPC server closed the connection without a response");
        }
        if (errno != EAGAIN && errno != EINTR) {
            return errno_error(errno, "recv");
        }
        if (Status s = wait_fd(fd.get(), POLLIN, deadline); !s) {
            return std::unexpected(s.error());
        }
    }
}

}  // namespace ms::api::jsonrpc
