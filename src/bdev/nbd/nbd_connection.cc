#include "bdev/nbd/nbd_connection.h"

#include <fcntl.h>
#include <libnbd.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/log.h"
#include "core/net.h"

namespace ms::nbd_host {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string last_nbd_error() {
    const char* e = nbd_get_error();
    return e != nullptr && *e != '\0' ? std::string(e) : std::string("unknown libnbd error");
}

// The errno a server's error reply becomes for our callers.
int map_server_errno(int e) {
    switch (e) {
        case ENOSPC:
        case EINVAL:
            return e;
        case EPERM:
        case EROFS:
            return EROFS;
        case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
        case EOPNOTSUPP:
#endif
            return EOPNOTSUPP;
        default:
            return EIO;
    }
}

}  // namespace

// ---- Poll -------------------------------------------------------------------------------------

void Connection::Poll::arm(int fd) {
    _reactor = Reactor::current();
    _keep = _conn.shared_from_this();
    _armed = true;
    _cancel_sent = false;
    _reactor->register_cancellable(this);
    io_uring_sqe* sqe = _reactor->prepare(this);
    io_uring_prep_poll_add(sqe, fd, _write ? POLLOUT : POLLIN);
}

void Connection::Poll::cancel() {
    if (_armed && !_cancel_sent) {
        _cancel_sent = true;
        _reactor->cancel(this);
    }
}

void Connection::Poll::complete(int res, uint32_t) {
    _armed = false;
    _reactor->unregister_cancellable(this);
    // The last reference may be this one: it is released when this function returns.
    std::shared_ptr<Connection> keep = std::move(_keep);
    Connection& c = _conn;
    if (c._h == nullptr || c._broken) {
        c._changed.wake_all();
        return;
    }
    if (res < 0) {
        if (res == -ECANCELED) {
            c.fail(Error{ECANCELED, "the reactor is stopping"});
        } else {
            c.fail(Error{-res, fmt::format("poll on the socket: {}", std::strerror(-res))});
        }
        return;
    }
    unsigned dir = nbd_aio_get_direction(c._h);
    if (_write) {
        if ((dir & LIBNBD_AIO_DIRECTION_WRITE) != 0) {
            (void)nbd_aio_notify_write(c._h);
        }
    } else if ((dir & LIBNBD_AIO_DIRECTION_READ) != 0) {
        (void)nbd_aio_notify_read(c._h);
    }
    c.after_libnbd(_write ? "sending to the server" : "receiving from the server");
}

// ---- Connection -------------------------------------------------------------------------------

Connection::Connection(nbd_handle* h, NbdServer server) : _h(h), _server(std::move(server)) {}

Connection::~Connection() {
    if (_h != nullptr) {
        nbd_close(_h);
    }
}

Task<Result<std::shared_ptr<Connection>>> Connection::connect(NbdServer server, std::string export_name,
                                                              milliseconds timeout) {
    const auto started = Clock::now();
    std::string where = server.describe();
    // The socket is connected through the ring; libnbd's connect_tcp would call a blocking
    // getaddrinfo on this reactor.
    // (No co_await inside ?: here: GCC miscompiles it, freeing the result twice.)
    Result<Socket> sock = make_error(EINVAL, "no address");
    if (server.unix_socket) {
        sock = co_await Socket::connect_unix(server.socket_path);
    } else {
        sock = co_await Socket::connect_tcp(server.host, server.port, timeout);
    }
    if (!sock) {
        co_return errorf(sock.error().code, "cannot connect to NBD server {}: {}", where,
                         sock.error().message);
    }
    nbd_handle* h = nbd_create();
    if (h == nullptr) {
        co_return errorf(ENOMEM, "nbd_create: {}", last_nbd_error());
    }
    std::shared_ptr<Connection> conn(new Connection(h, server));
    conn->_timeout = timeout;
    if (nbd_set_export_name(h, export_name.c_str()) < 0 || nbd_set_request_structured_replies(h, true) < 0 ||
        nbd_set_request_block_size(h, true) < 0) {
        co_return errorf(EINVAL, "NBD server {}: {}", where, last_nbd_error());
    }
    int fd = ::fcntl(sock->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        co_return errno_error(errno, "fcntl(F_DUPFD_CLOEXEC)");
    }
    sock->close();
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        ::close(fd);
        co_return errno_error(e, "fcntl(O_NONBLOCK)");
    }
    // libnbd owns the socket from here on (nbd_close closes it).
    conn->_connecting = true;
    conn->_setup_deadline = started + timeout;
    if (nbd_aio_connect_socket(h, fd) < 0) {
        int e = nbd_get_errno();
        std::string msg = last_nbd_error();
        conn->fail(Error{e != 0 ? e : EIO, msg});
        co_return errorf(e != 0 ? e : EIO, "NBD handshake with {}: {}", where, msg);
    }
    conn->ensure_watchdog();
    conn->after_libnbd("NBD handshake");
    while (conn->_connecting && !conn->_broken) {
        co_await conn->_changed.wait();
    }
    if (conn->_broken) {
        const Error& e = conn->_error;
        co_return errorf(e.code != 0 ? e.code : EIO, "NBD handshake with {} (export '{}'): {}", where,
                         export_name, e.message);
    }
    if (nbd_aio_is_ready(h) != 1) {
        conn->close("not ready after the handshake");
        co_return errorf(EPROTO, "NBD server {}: not ready after the handshake (state {})", where,
                         nbd_connection_state(h));
    }
    ExportInfo& i = conn->_info;
    int64_t size = nbd_get_size(h);
    if (size < 0) {
        std::string msg = last_nbd_error();
        conn->close("no export size");
        co_return errorf(EPROTO, "NBD server {}: no export size: {}", where, msg);
    }
    i.size = static_cast<uint64_t>(size);
    auto block = [h](int which) -> uint32_t {
        int64_t v = nbd_get_block_size(h, which);
        return v > 0 && v <= 0xffffffff ? static_cast<uint32_t>(v) : 0;
    };
    i.min_block = block(LIBNBD_SIZE_MINIMUM);
    i.preferred_block = block(LIBNBD_SIZE_PREFERRED);
    i.max_block = block(LIBNBD_SIZE_MAXIMUM);
    i.read_only = nbd_is_read_only(h) == 1;
    i.can_flush = nbd_can_flush(h) == 1;
    i.can_fua = nbd_can_fua(h) == 1;
    i.can_trim = nbd_can_trim(h) == 1;
    i.can_zero = nbd_can_zero(h) == 1;
    i.can_multi_conn = nbd_can_multi_conn(h) == 1;
    i.structured_replies = nbd_get_structured_replies_negotiated(h) == 1;
    co_return conn;
}

void Connection::link(Command& c) {
    c.conn = this;
    c.linked = true;
    c.prev = _tail;
    c.next = nullptr;
    if (_tail != nullptr) {
        _tail->next = &c;
    } else {
        _head = &c;
    }
    _tail = &c;
    ++_in_flight;
}

void Connection::unlink(Command& c) {
    if (!c.linked) {
        return;
    }
    c.linked = false;
    if (c.prev != nullptr) {
        c.prev->next = c.next;
    } else {
        _head = c.next;
    }
    if (c.next != nullptr) {
        c.next->prev = c.prev;
    } else {
        _tail = c.prev;
    }
    c.prev = c.next = nullptr;
    --_in_flight;
}

// libnbd's completion callback, called from inside nbd_aio_notify_* (or from the DEAD state's
// abort of every command). Never resumes the waiter here: that coroutine may call libnbd, and
// libnbd holds the handle's lock while it runs callbacks.
int Connection::on_complete(void* user_data, int* error) {
    auto* c = static_cast<Command*>(user_data);
    if (c->done) {
        return 1;
    }
    c->error = *error;
    c->done = true;
    c->conn->unlink(*c);
    if (c->waiter) {
        Reactor::current()->schedule(std::exchange(c->waiter, {}));
    }
    return 1;  // retire the command: nothing asks libnbd about it later
}

template <typename Issue>
Task<Status> Connection::run(Issue issue, const char* what, uint64_t offset, uint64_t length) {
    if (_broken || _h == nullptr) {
        co_return errorf(EIO, "NBD connection to {} is down: {}", _server.describe(), _error.message);
    }
    Command c;
    c.deadline = Clock::now() + _timeout;
    link(c);
    nbd_completion_callback cb{};
    cb.callback = &Connection::on_complete;
    cb.user_data = &c;
    int64_t cookie = issue(_h, cb);
    if (cookie < 0 && !c.done) {
        // Refused before it was queued (libnbd calls no callback then), or the handle died.
        int e = nbd_get_errno();
        std::string msg = last_nbd_error();
        unlink(c);
        after_libnbd(what);
        if (_broken) {
            co_return errorf(EIO, "NBD {} on {} failed: {}", what, _server.describe(), _error.message);
        }
        co_return errorf(e != 0 ? e : EIO, "NBD {} of {} bytes at {} on {}: {}", what, length, offset,
                         _server.describe(), msg);
    }
    ensure_watchdog();
    after_libnbd(what);
    co_await CommandAwaiter{c};
    if (c.error == 0) {
        co_return ok();
    }
    co_return command_error(c, what, offset, length);
}

Status Connection::command_error(const Command& c, const char* what, uint64_t offset, uint64_t length) const {
    if (_broken) {
        return errorf(EIO, "NBD {} of {} bytes at {} on {} failed: {}", what, length, offset,
                      _server.describe(), _error.message);
    }
    return errorf(map_server_errno(c.error), "NBD {} of {} bytes at {} on {}: the server answered {}", what,
                  length, offset, _server.describe(), std::strerror(c.error));
}

Task<Status> Connection::pread(void* buf, std::size_t length, uint64_t offset) {
    return run([=](nbd_handle* h,
                   nbd_completion_callback cb) { return nbd_aio_pread(h, buf, length, offset, cb, 0); },
               "read", offset, length);
}

Task<Status> Connection::pwrite(const void* buf, std::size_t length, uint64_t offset) {
    return run([=](nbd_handle* h,
                   nbd_completion_callback cb) { return nbd_aio_pwrite(h, buf, length, offset, cb, 0); },
               "write", offset, length);
}

Task<Status> Connection::flush() {
    return run([](nbd_handle* h, nbd_completion_callback cb) { return nbd_aio_flush(h, cb, 0); }, "flush", 0,
               0);
}

Task<Status> Connection::trim(uint64_t length, uint64_t offset) {
    return run(
        [=](nbd_handle* h, nbd_completion_callback cb) { return nbd_aio_trim(h, length, offset, cb, 0); },
        "trim", offset, length);
}

Task<Status> Connection::zero(uint64_t length, uint64_t offset) {
    return run(
        [=](nbd_handle* h, nbd_completion_callback cb) { return nbd_aio_zero(h, length, offset, cb, 0); },
        "write zeroes", offset, length);
}

void Connection::after_libnbd(const char* what) {
    if (_h == nullptr || _broken) {
        return;
    }
    if (nbd_aio_is_dead(_h) == 1 || nbd_aio_is_closed(_h) == 1) {
        int e = nbd_get_errno();
        fail(Error{e != 0 ? e : ECONNRESET, fmt::format("{}: {}", what, last_nbd_error())});
        return;
    }
    if (_connecting && nbd_aio_is_connecting(_h) != 1) {
        _connecting = false;
        _changed.wake_all();
    }
    update_polls();
}

void Connection::update_polls() {
    if (_h == nullptr || _broken) {
        return;
    }
    if (Reactor::current()->stopping()) {
        // Nothing armed now would be cancelled by the stopping reactor.
        fail(Error{ECANCELED, "the reactor is stopping"});
        return;
    }
    int fd = nbd_aio_get_fd(_h);
    if (fd < 0) {
        return;
    }
    unsigned dir = nbd_aio_get_direction(_h);
    if ((dir & LIBNBD_AIO_DIRECTION_READ) != 0 && !_read_poll.armed()) {
        _read_poll.arm(fd);
    }
    if ((dir & LIBNBD_AIO_DIRECTION_WRITE) != 0 && !_write_poll.armed()) {
        _write_poll.arm(fd);
    }
}

void Connection::fail(Error e) {
    if (_broken) {
        return;
    }
    _broken = true;
    _error = e;
    if (!_closing && e.code == ECANCELED) {
        log::debug("NBD connection to {} closed: {}", _server.describe(), e.message);
    } else if (!_closing) {
        log::warn("NBD connection to {} failed: {}", _server.describe(), e.message);
    }
    if (_h != nullptr) {
        // Shut the socket down at once (the polls on the ring hold a reference to it, so
        // closing the descriptor alone would not end the TCP connection until they are gone).
        int fd = nbd_aio_get_fd(_h);
        if (fd >= 0) {
            ::shutdown(fd, SHUT_RDWR);
        }
        // After nbd_close libnbd uses no buffer and calls no completion callback.
        nbd_close(std::exchange(_h, nullptr));
    }
    _read_poll.cancel();
    _write_poll.cancel();
    while (_head != nullptr) {
        Command& c = *_head;
        unlink(c);
        c.error = EIO;
        c.done = true;
        if (c.waiter) {
            Reactor::current()->schedule(std::exchange(c.waiter, {}));
        }
    }
    _connecting = false;
    _changed.wake_all();
    if (!_closing && _on_broken) {
        _on_broken(e);
    }
}

void Connection::close(std::string reason) {
    if (_broken) {
        return;
    }
    _closing = true;
    if (_h != nullptr && _in_flight == 0 && nbd_aio_is_ready(_h) == 1) {
        // NBD_CMD_DISC, sent now if the socket takes it; the server owes no reply.
        (void)nbd_aio_disconnect(_h, 0);
    }
    fail(Error{ECONNABORTED, std::move(reason)});
}

Task<void> Connection::wait_closed() {
    while (_read_poll.armed() || _write_poll.armed()) {
        co_await _changed.wait();
    }
}

void Connection::ensure_watchdog() {
    if (!_watchdog_running) {
        _watchdog_running = true;
        Reactor::current()->spawn(watchdog(shared_from_this()));
    }
}

// Runs while a handshake or commands are outstanding, so an idle connection costs no wake-ups.
// Commands are linked in issue order and share one timeout: the oldest expires first.
Task<void> Connection::watchdog(std::shared_ptr<Connection> self) {
    auto tick = std::clamp<milliseconds>(self->_timeout / 4, milliseconds(5), milliseconds(100));
    while (!self->_broken && (self->_head != nullptr || self->_connecting)) {
        if (!co_await sleep_for(tick)) {
            self->fail(Error{ECANCELED, "the reactor is stopping"});
            break;
        }
        auto now = Clock::now();
        if (self->_connecting && now > self->_setup_deadline) {
            self->fail(Error{ETIMEDOUT, fmt::format("no answer within {} ms", self->_timeout.count())});
            break;
        }
        if (self->_head != nullptr && now > self->_head->deadline) {
            self->fail(
                Error{ETIMEDOUT, fmt::format("a command timed out after {} ms", self->_timeout.count())});
            break;
        }
    }
    self->_watchdog_running = false;
}

}  // namespace ms::nbd_host
