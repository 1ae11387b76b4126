// One connection to an NBD server: a libnbd handle whose socket is polled through the calling
// reactor's io_uring (IORING_OP_POLL_ADD in the direction nbd_aio_get_direction asks for, then
// nbd_aio_notify_read/write), so a reactor never blocks in libnbd. Used on one reactor only
// (the one that connected it).
//
// The TCP or Unix connect itself goes through the ring (core/net.h, bounded by the timeout);
// libnbd gets the connected socket (nbd_aio_connect_socket) and does the handshake, which is
// driven from the poll loop until nbd_aio_is_connecting is false. libnbd's own connect_tcp
// would resolve the host name with a blocking getaddrinfo on the reactor.
//
// Commands (pread, pwrite, flush, trim, zero) are issued at once, many in flight; libnbd's
// completion callback marks the command done and schedules the waiting coroutine (never
// resumes it inside libnbd). Each command has a deadline; a watchdog runs while commands are
// outstanding.
//
// Failure rule: when the server closes the connection, the socket fails, libnbd declares the
// handle dead, or a command outlives its deadline, the connection is "broken": the libnbd
// handle is closed at once (after which libnbd touches no buffer and calls no callback), every
// outstanding command completes with EIO, and later commands fail with EIO. Its owner decides
// whether to connect a new one.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "bdev/nbd/nbd_uri.h"
#include "core/async.h"
#include "core/reactor.h"
#include "core/status.h"
#include "core/task.h"

struct nbd_handle;

namespace ms::nbd_host {

// What the server said about the export in the handshake.
struct ExportInfo {
    uint64_t size = 0;
    // NBD_INFO_BLOCK_SIZE; 0 when the server sent none.
    uint32_t min_block = 0;
    uint32_t preferred_block = 0;
    uint32_t max_block = 0;
    bool read_only = false;
    bool can_flush = false;
    bool can_fua = false;
    bool can_trim = false;
    bool can_zero = false;
    bool can_multi_conn = false;
    bool structured_replies = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
   public:
    // Connects (socket through the ring, then the NBD handshake from the poll loop). The whole
    // setup is bounded by `timeout` (ETIMEDOUT). Errors keep the socket's or libnbd's errno
    // (ECONNREFUSED, ENOENT for a missing socket or an unknown export, ...).
    static Task<Result<std::shared_ptr<Connection>>> connect(NbdServer server, std::string export_name,
                                                             std::chrono::milliseconds timeout);

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    const ExportInfo& info() const { return _info; }

    // One command each; `buf` must stay valid until the task completes. Errors: EIO when the
    // connection is or becomes broken (the message says why); the server's error otherwise
    // (ENOSPC, EROFS for EPERM, EINVAL; anything else EIO).
    Task<Status> pread(void* buf, std::size_t length, uint64_t offset);
    Task<Status> pwrite(const void* buf, std::size_t length, uint64_t offset);
    Task<Status> flush();
    Task<Status> trim(uint64_t length, uint64_t offset);
    // Zeroes; the server may punch a hole (reads return zeros either way).
    Task<Status> zero(uint64_t length, uint64_t offset);

    // Fails outstanding commands (EIO) and closes the handle; a clean disconnect
    // (NBD_CMD_DISC) is sent first when nothing is in flight. wait_closed() waits until the
    // ring holds no poll on the socket any more. Idempotent.
    void close(std::string reason = "connection closed");
    Task<void> wait_closed();

    bool broken() const { return _broken; }
    const Error& error() const { return _error; }
    std::size_t in_flight() const { return _in_flight; }
    // Called once when the connection breaks (not when closed on purpose).
    void on_broken(std::function<void(const Error&)> fn) { _on_broken = std::move(fn); }

   private:
    struct Command {
        Connection* conn = nullptr;
        Command* prev = nullptr;
        Command* next = nullptr;
        std::chrono::steady_clock::time_point deadline;
        std::coroutine_handle<> waiter;
        int error = 0;
        bool done = false;
        bool linked = false;
    };
    struct CommandAwaiter {
        Command& c;
        bool await_ready() noexcept { return c.done; }
        void await_suspend(std::coroutine_handle<> h) { c.waiter = h; }
        void await_resume() noexcept {}
    };
    // A one-shot POLL_ADD on the socket for one direction. While armed it keeps the connection
    // alive (the CQE points at it).
    class Poll final : public CancellableOp {
       public:
        Poll(Connection& c, bool write) : _conn(c), _write(write) {}
        bool armed() const { return _armed; }
        void arm(int fd);
        void cancel();
        void complete(int res, uint32_t flags) override;

       private:
        Connection& _conn;
        bool _write;
        bool _armed = false;
        bool _cancel_sent = false;
        Reactor* _reactor = nullptr;
        std::shared_ptr<Connection> _keep;
    };

    Connection(nbd_handle* h, NbdServer server);
    template <typename Issue>
    Task<Status> run(Issue issue, const char* what, uint64_t offset, uint64_t length);
    static int on_complete(void* user_data, int* error);
    void link(Command& c);
    void unlink(Command& c);
    // After any call into libnbd: notices a dead handle, ends the handshake, re-arms polls.
    void after_libnbd(const char* what);
    void update_polls();
    void fail(Error e);
    void ensure_watchdog();
    static Task<void> watchdog(std::shared_ptr<Connection> self);
    Status command_error(const Command& c, const char* what, uint64_t offset, uint64_t length) const;

    nbd_handle* _h = nullptr;
    int _fd = -1;
    NbdServer _server;
    ExportInfo _info;
    Poll _read_poll{*this, false};
    Poll _write_poll{*this, true};
    Command* _head = nullptr;  // outstanding commands, oldest first (all have the same timeout)
    Command* _tail = nullptr;
    std::size_t _in_flight = 0;
    std::chrono::milliseconds _timeout{5000};
    bool _connecting = false;
    std::chrono::steady_clock::time_point _setup_deadline;
    bool _watchdog_running = false;
    bool _broken = false;
    bool _closing = false;
    Error _error;
    WaitQueue _changed;  // handshake finished or failed; a poll disarmed
    std::function<void(const Error&)> _on_broken;
};

}  // namespace ms::nbd_host
