#include "core/net.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "core/reactor.h"

namespace ms {

Socket::Socket(Socket&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}

Socket& Socket::operator=(Socket&& o) noexcept {
    if (this != &o) {
        close();
        _fd = std::exchange(o._fd, -1);
    }
    return *this;
}

Socket::~Socket() {
    close();
}

void Socket::close() {
    if (_fd >= 0) {
        ::close(_fd);
        _fd = -1;
    }
}

namespace {

void set_nodelay(int fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Connects a new socket to `addr`; a timeout > 0 bounds the attempt (a timeout linked to the
// connect on the ring), so that an unreachable host fails in time, not after the SYN retries.
Task<Result<Socket>> connect_addr(const sockaddr* addr, socklen_t len, int family,
                                  std::chrono::milliseconds timeout) {
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        co_return errno_error(errno, "socket");
    }
    Socket s(fd);
    __kernel_timespec ts{};
    ts.tv_sec = timeout.count() / 1000;
    ts.tv_nsec = (timeout.count() % 1000) * 1000000;
    const bool bounded = timeout.count() > 0;
    int res = co_await cancellable_uring_op([&](io_uring_sqe* sqe) {
        io_uring_prep_connect(sqe, fd, addr, len);
        if (bounded) {
            sqe->flags |= IOSQE_IO_LINK;
            io_uring_prep_link_timeout(Reactor::current()->prepare_untracked(), &ts, 0);
        }
    });
    if (bounded && res == -ECANCELED && !Reactor::current()->stopping()) {
        co_return errorf(ETIMEDOUT, "connect timed out after {} ms", timeout.count());
    }
    if (res < 0) {
        co_return errno_error(res, "connect");
    }
    if (family != AF_UNIX) {
        set_nodelay(fd);
    }
    co_return s;
}

}  // namespace

Task<Result<Socket>> Socket::connect_tcp(std::string host, uint16_t port, std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    std::string service = std::to_string(port);
    int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
    if (rc != 0) {
        co_return errorf(EHOSTUNREACH, "cannot resolve '{}': {}", host, gai_strerror(rc));
    }
    sockaddr_storage ss{};
    std::memcpy(&ss, res->ai_addr, res->ai_addrlen);
    socklen_t len = res->ai_addrlen;
    int family = res->ai_family;
    ::freeaddrinfo(res);
    co_return co_await connect_addr(reinterpret_cast<sockaddr*>(&ss), len, family, timeout);
}

Task<Result<Socket>> Socket::connect_unix(std::string path) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof sun.sun_path) {
        co_return errorf(ENAMETOOLONG, "socket path '{}' is too long", path);
    }
    std::memcpy(sun.sun_path, path.data(), path.size());
    co_return co_await connect_addr(reinterpret_cast<sockaddr*>(&sun), sizeof sun, AF_UNIX,
                                    std::chrono::milliseconds{0});
}

Task<Result<std::size_t>> Socket::recv_some(std::span<uint8_t> buf) {
    int fd = _fd;
    int res = co_await cancellable_uring_op(
        [&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, fd, buf.data(), buf.size(), 0); });
    if (res < 0) {
        co_return errno_error(res, "recv");
    }
    co_return static_cast<std::size_t>(res);
}

Task<Status> Socket::recv_exact(std::span<uint8_t> buf) {
    std::size_t done = 0;
    while (done < buf.size()) {
        auto n = co_await recv_some(buf.subspan(done));
        if (!n) {
            co_return std::unexpected(n.error());
        }
        if (*n == 0) {
            co_return make_error(ECONNRESET, "connection closed by peer");
        }
        done += *n;
    }
    co_return ok();
}

Task<Status> Socket::send_all(std::span<const uint8_t> buf) {
    int fd = _fd;
    std::size_t done = 0;
    while (done < buf.size()) {
        const uint8_t* p = buf.data() + done;
        std::size_t len = buf.size() - done;
        int res =
            co_await uring_op([&](io_uring_sqe* sqe) { io_uring_prep_send(sqe, fd, p, len, MSG_NOSIGNAL); });
        if (res < 0) {
            co_return errno_error(res, "send");
        }
        done += static_cast<std::size_t>(res);
    }
    co_return ok();
}

Task<Status> Socket::sendv_all(std::span<iovec> iov) {
    int fd = _fd;
    std::size_t first = 0;
    while (first < iov.size()) {
        msghdr msg{};
        msg.msg_iov = iov.data() + first;
        // sendmsg takes at most IOV_MAX entries (EMSGSIZE beyond): send the rest next round.
        msg.msg_iovlen = std::min<std::size_t>(iov.size() - first, IOV_MAX);
        int res =
            co_await uring_op([&](io_uring_sqe* sqe) { io_uring_prep_sendmsg(sqe, fd, &msg, MSG_NOSIGNAL); });
        if (res < 0) {
            co_return errno_error(res, "sendmsg");
        }
        auto left = static_cast<std::size_t>(res);
        while (first < iov.size() && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            ++first;
        }
        if (left > 0) {
            iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    co_return ok();
}

Result<Listener> Listener::listen_tcp(const std::string& host, uint16_t port, int backlog) {
    sockaddr_storage ss{};
    socklen_t len;
    int family;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof *v4;
        family = AF_INET;
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof *v6;
        family = AF_INET6;
    } else {
        return errorf(EINVAL, "'{}' is not a numeric IP address", host);
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno_error(errno, "socket");
    }
    Listener l;
    l._sock = Socket(fd);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
        return errno_error(errno, fmt::format("bind {}:{}", host, port));
    }
    if (::listen(fd, backlog) < 0) {
        return errno_error(errno, "listen");
    }
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        l._port = ntohs(family == AF_INET ? v4->sin_port : v6->sin6_port);
    }
    return l;
}

Result<Listener> Listener::listen_unix(const std::string& path, int backlog) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof sun.sun_path) {
        return errorf(ENAMETOOLONG, "socket path '{}' is too long", path);
    }
    std::memcpy(sun.sun_path, path.data(), path.size());
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno_error(errno, "socket");
    }
    Listener l;
    l._sock = Socket(fd);
    ::unlink(path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) < 0) {
        return errno_error(errno, fmt::format("bind {}", path));
    }
    if (::listen(fd, backlog) < 0) {
        return errno_error(errno, "listen");
    }
    return l;
}

Task<Result<Socket>> Listener::accept() {
    int fd = _sock.fd();
    int res = co_await cancellable_uring_op(
        [&](io_uring_sqe* sqe) { io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC); });
    if (res < 0) {
        co_return errno_error(res, "accept");
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(res, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && ss.ss_family != AF_UNIX) {
        set_nodelay(res);
    }
    co_return Socket(res);
}

std::string first_non_loopback_ipv4() {
    ifaddrs* list = nullptr;
    std::string found = "127.0.0.1";
    if (::getifaddrs(&list) != 0) {
        return found;
    }
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) {
            continue;
        }
        auto* v4 = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
        if ((ntohl(v4->sin_addr.s_addr) >> 24) == 127) {
            continue;
        }
        char buf[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
        found = buf;
        break;
    }
    ::freeifaddrs(list);
    return found;
}

}  // namespace ms
