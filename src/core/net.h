// TCP and Unix stream sockets whose accept/connect/receive/send complete through the reactor's
// ring. Receives and accepts are cancelled when the reactor stops; sends are not.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/task.h"

namespace ms {

// The first IPv4 address of this machine that is not a loopback one, or "127.0.0.1": what a
// server advertises in its URIs when it is not told an address.
std::string first_non_loopback_ipv4();

class Socket {
   public:
    Socket() = default;
    explicit Socket(int fd) : _fd(fd) {}
    Socket(Socket&& o) noexcept;
    Socket& operator=(Socket&& o) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket();

    int fd() const { return _fd; }
    bool valid() const { return _fd >= 0; }
    void close();

    // Connects to host:port (numeric IPv4/IPv6 or a name resolved with getaddrinfo). A timeout
    // > 0 bounds the attempt (ETIMEDOUT); 0 leaves it to the kernel.
    static Task<Result<Socket>> connect_tcp(std::string host, uint16_t port,
                                            std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
    static Task<Result<Socket>> connect_unix(std::string path);

    // Up to buf.size() bytes; 0 means the peer closed. Cancelled on shutdown (ECANCELED).
    Task<Result<std::size_t>> recv_some(std::span<uint8_t> buf);
    // Exactly buf.size() bytes, or an error (a peer closing early is ECONNRESET).
    Task<Status> recv_exact(std::span<uint8_t> buf);
    Task<Status> send_all(std::span<const uint8_t> buf);
    Task<Status> sendv_all(std::span<iovec> iov);

   private:
    int _fd = -1;
};

class Listener {
   public:
    Listener() = default;
    // Binds and listens on host:port; port 0 picks a free port (see port()).
    static Result<Listener> listen_tcp(const std::string& host, uint16_t port, int backlog = 128);
    static Result<Listener> listen_unix(const std::string& path, int backlog = 128);

    uint16_t port() const { return _port; }
    int fd() const { return _sock.fd(); }
    // Cancelled when the reactor stops (ECANCELED).
    Task<Result<Socket>> accept();
    void close() { _sock.close(); }

   private:
    Socket _sock;
    uint16_t _port = 0;
};

}  // namespace ms
