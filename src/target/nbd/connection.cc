// One NBD connection of the server: the receive buffer, request slots, the transmission phase
// (requests parsed from one receive run at once; their replies leave in one sendmsg) and the
// connection's life and teardown. The handshake is in handshake.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "core/log.h"
#include "target/nbd/server_internal.h"

namespace ms::nbd::detail {

namespace {

constexpr std::size_t kRxBufferSize = 256 * 1024;
// A slot keeps its data buffer for the next request up to this size; larger ones are freed
// once their reply has been sent.
constexpr std::size_t kKeepBuffer = 1024 * 1024;

std::string peer_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
        return "?";
    }
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
        return fmt::format("{}:{}", buf, ntohs(v4->sin_port));
    }
    if (ss.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
        return fmt::format("[{}]:{}", buf, ntohs(v6->sin6_port));
    }
    return fmt::format("unix:{}", fd);
}

Started start_now(Task<void> t) {
    co_await std::move(t);
}

// A receive that starts `delay` after its submission: a timeout linked to a non-blocking recv,
// one submission and one wake-up; when the timer fires, the recv takes whatever arrived
// meanwhile. The timeout posts no completion (it succeeds on expiry), and the recv does not wait
// for data (MSG_DONTWAIT: -EAGAIN if nothing came), so that the pair always completes within
// `delay` and needs no cancelling when the reactor stops. -EAGAIN or -ECANCELED (a timeout that
// failed, which fails its link): the caller receives again the ordinary way.
class DelayedRecv final : public Completion {
   public:
    DelayedRecv(int fd, uint8_t* buf, std::size_t len, std::chrono::microseconds delay)
        : _fd(fd), _buf(buf), _len(len) {
        _ts.tv_sec = 0;
        _ts.tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(delay).count();
    }
    bool await_ready() noexcept {
        if (Reactor::current()->stopping()) {
            _res = -EAGAIN;
            return true;
        }
        return false;
    }
    void await_suspend(std::coroutine_handle<> h) {
        _h = h;
        Reactor* r = Reactor::current();
        // The two SQEs must leave in one submission: a link cut by a full ring would run the
        // timeout alone.
        if (io_uring_sq_space_left(&r->ring()) < 2) {
            io_uring_submit(&r->ring());
        }
        io_uring_sqe* t = r->prepare_untracked();
        io_uring_prep_timeout(t, &_ts, 0, IORING_TIMEOUT_ETIME_SUCCESS);
        t->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
        io_uring_prep_recv(r->prepare(this), _fd, _buf, _len, MSG_DONTWAIT);
    }
    int await_resume() noexcept { return _res; }
    void complete(int res, uint32_t) override {
        _res = res;
        _h.resume();
    }

   private:
    int _fd;
    uint8_t* _buf;
    std::size_t _len;
    __kernel_timespec _ts{};
    std::coroutine_handle<> _h;
    int _res = 0;
};

}  // namespace

Connection::Connection(ServerCore& core, Socket sock, std::shared_ptr<Export> preset)
    : _core(core), _sock(std::move(sock)), _home(Reactor::current()), _export(std::move(preset)) {
    _preset = _export != nullptr;
    _rx = std::make_unique<RxBuffer>(kRxBufferSize);
    _peer = peer_of(_sock.fd());
    std::lock_guard lk(_core.mu);
    _core.conns.insert(this);
}

Connection::~Connection() {
    std::lock_guard lk(_core.mu);
    _core.conns.erase(this);
}

void Connection::shutdown() {
    _closing.store(true);
    if (_sock.valid()) {
        ::shutdown(_sock.fd(), SHUT_RDWR);
    }
}

Task<void> Connection::serve(std::shared_ptr<Connection> self) {
    co_await self->run();
}

// ---- receiving -----------------------------------------------------------------------------

void Connection::rx_make_room(std::size_t n) {
    if (_rx->users == 0) {
        if (_rx_head == _rx_tail) {
            _rx_head = _rx_tail = 0;
        } else if (_rx->size - _rx_head < n) {
            std::memmove(rx_data(), rx_data() + _rx_head, _rx_tail - _rx_head);
            _rx_tail -= _rx_head;
            _rx_head = 0;
        }
        return;
    }
    // Running writes use the bytes before _rx_head: receive after _rx_tail while that leaves a
    // quarter of the buffer, else into another buffer, with the bytes not yet parsed.
    if (_rx->size - _rx_tail >= std::max(n, _rx->size / 4)) {
        return;
    }
    std::unique_ptr<RxBuffer> next;
    if (_rx_spare.empty()) {
        next = std::make_unique<RxBuffer>(kRxBufferSize);
    } else {
        next = std::move(_rx_spare.back());
        _rx_spare.pop_back();
    }
    std::memcpy(next->bytes.get(), rx_data() + _rx_head, _rx_tail - _rx_head);
    _rx_tail -= _rx_head;
    _rx_head = 0;
    _rx_held.push_back(std::move(_rx));
    _rx = std::move(next);
}

void Connection::release_payload(Slot* s) {
    RxBuffer* b = s->payload_rx;
    s->payload = nullptr;
    s->payload_rx = nullptr;
    if (b == nullptr || --b->users > 0 || b == _rx.get()) {
        return;
    }
    auto it = std::find_if(_rx_held.begin(), _rx_held.end(), [b](const auto& p) { return p.get() == b; });
    if (it == _rx_held.end()) {
        return;
    }
    if (_rx_spare.size() < 2) {
        _rx_spare.push_back(std::move(*it));
    }
    _rx_held.erase(it);
}

Task<bool> Connection::fill(std::size_t n) {
    while (_rx_tail - _rx_head < n) {
        rx_make_room(n);
        // About to wait for the peer: the replies to what was parsed so far go out first.
        _rx_busy = false;
        flush();
        // A client that pipelines (the last receive brought several requests) gets a moment to
        // send more before the next receive: see NbdServerOptions::coalesce_us. Only while that
        // pays: a delayed receive that gathered fewer than kCoalesceGain requests (a client
        // with few in flight, for whom the wait is pure latency) turns it off for the next
        // kCoalesceBackoff receives.
        if (_last_delayed && _parsed < kCoalesceGain) {
            _coalesce_backoff = kCoalesceBackoff;
        }
        bool delay =
            _rx_head == _rx_tail && _parsed >= 2 && _core.options.coalesce_us > 0 && _coalesce_backoff == 0;
        if (_coalesce_backoff > 0) {
            --_coalesce_backoff;
        }
        _last_delayed = delay;
        _parsed = 0;
        uint8_t* at = rx_data() + _rx_tail;
        const std::size_t room = _rx->size - _rx_tail;
        const int fd = _sock.fd();
        int res = -EAGAIN;
        if (delay) {
            res = co_await DelayedRecv(fd, at, room, std::chrono::microseconds(_core.options.coalesce_us));
        }
        if (res == -EAGAIN || res == -ECANCELED) {
            res = co_await cancellable_uring_op(
                [&](io_uring_sqe* sqe) { io_uring_prep_recv(sqe, fd, at, room, 0); });
        }
        _rx_busy = true;
        if (res <= 0) {
            co_return false;
        }
        _rx_tail += static_cast<std::size_t>(res);
    }
    co_return true;
}

Task<bool> Connection::read_into(uint8_t* dst, std::size_t n) {
    std::size_t have = std::min(n, _rx_tail - _rx_head);
    if (have > 0) {
        std::memcpy(dst, rx_data() + _rx_head, have);
        _rx_head += have;
        dst += have;
        n -= have;
    }
    if (n == 0) {
        co_return true;
    }
    // The receive buffer is empty now: one recvmsg puts the rest of the payload where it
    // belongs and whatever the peer sent after it (the next requests) into the buffer.
    rx_make_room(_rx->size / 2);
    _rx_busy = false;
    flush();
    int fd = _sock.fd();
    while (n > 0) {
        iovec iov[2] = {{dst, n}, {rx_data() + _rx_tail, _rx->size - _rx_tail}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        int res = co_await cancellable_uring_op(
            [&](io_uring_sqe* sqe) { io_uring_prep_recvmsg(sqe, fd, &msg, 0); });
        if (res <= 0) {
            _rx_busy = true;
            co_return false;
        }
        auto got = static_cast<std::size_t>(res);
        if (got <= n) {
            dst += got;
            n -= got;
        } else {
            _rx_tail += got - n;
            n = 0;
        }
    }
    _rx_busy = true;
    co_return true;
}

Task<bool> Connection::skip(std::size_t n) {
    while (n > 0) {
        std::size_t have = std::min(n, _rx_tail - _rx_head);
        if (have == 0) {
            if (!co_await fill(std::min(n, _rx->size / 2))) {
                co_return false;
            }
            continue;
        }
        _rx_head += have;
        n -= have;
    }
    co_return true;
}

// ---- slots ---------------------------------------------------------------------------------

Slot* Connection::alloc_slot() {
    if (_free.empty()) {
        if (_slots.size() >= _core.options.max_inflight) {
            return nullptr;
        }
        _slots.push_back(std::make_unique<Slot>());
        _free.push_back(_slots.back().get());
    }
    Slot* s = _free.back();
    _free.pop_back();
    s->data_len = 0;
    return s;
}

void Connection::release_slot(Slot* s) {
    if (s->buf.size() > kKeepBuffer) {
        s->buf = DmaBuf();
    }
    _free.push_back(s);
    _slot_freed.wake_all();
}

bool Connection::ensure_buf(Slot* s, std::size_t len) {
    if (s->buf.size() >= len) {
        return true;
    }
    std::size_t want = (std::max<std::size_t>(len, 4096) + 4095) & ~std::size_t{4095};
    auto b = _desc->dma_malloc(want);
    if (!b) {
        return false;
    }
    s->buf = std::move(*b);
    return true;
}

// ---- sending -------------------------------------------------------------------------------

// Sends are serialised and coalesced: one send_loop at a time sends everything queued (_batch)
// in one sendmsg, then releases the slots whose replies went out. Requests run from the receive
// loop only queue: the loop flushes before it waits for more data, so the replies to all the
// requests of one receive leave together. Replies completed later (a device that completes
// asynchronously) start the loop on the next loop turn, so that everything completing in this
// turn joins them.
void Connection::queue(Slot* s, const iovec* iov, int n) {
    if (_send_failed) {
        release_slot(s);
        return;
    }
    _batch.insert(_batch.end(), iov, iov + n);
    _batch_slots.push_back(s);
    if (!_rx_busy && !_sending) {
        _sending = true;
        Reactor::current()->spawn(send_loop(shared_from_this()));
    }
}

void Connection::flush() {
    if (!_sending && !_batch.empty()) {
        _sending = true;
        start_now(send_loop(shared_from_this()));
    }
}

Task<void> Connection::send_loop(std::shared_ptr<Connection> self) {
    Connection& c = *self;
    while (!c._batch.empty() && !c._send_failed) {
        c._out.swap(c._batch);
        c._out_slots.swap(c._batch_slots);
        auto st = co_await c._sock.sendv_all(std::span<iovec>(c._out));
        if (!st) {
            c._send_failed = true;
            c.shutdown();
        }
        for (Slot* s : c._out_slots) {
            c.release_slot(s);
        }
        c._out.clear();
        c._out_slots.clear();
    }
    for (Slot* s : c._batch_slots) {
        c.release_slot(s);
    }
    c._batch.clear();
    c._batch_slots.clear();
    c._sending = false;
    c._send_idle.wake_all();
}

void Connection::reply(Slot* s, uint32_t error, const char* why) {
    const Request& r = s->req;
    iovec iov[2];
    int n = 0;
    bool read = r.command() == Command::Read;
    if (_structured && read) {
        if (error != 0) {
            std::size_t len = encode_error_chunk(std::span<uint8_t>(s->hdr), r.handle, error, why);
            iov[n++] = {s->hdr, len};
        } else if (s->data_len == 0) {
            std::size_t len = encode_none_chunk(
                std::span<uint8_t, kStructuredReplySize>(s->hdr, kStructuredReplySize), r.handle);
            iov[n++] = {s->hdr, len};
        } else {
            std::size_t len = encode_offset_data_header(
                std::span<uint8_t, kOffsetDataHeaderSize>(s->hdr, kOffsetDataHeaderSize), r.handle, r.offset,
                s->data_len, true);
            iov[n++] = {s->hdr, len};
            iov[n++] = {s->buf.data(), s->data_len};
        }
    } else {
        std::size_t len = encode_simple_reply(std::span<uint8_t, kSimpleReplySize>(s->hdr, kSimpleReplySize),
                                              error, r.handle);
        iov[n++] = {s->hdr, len};
        if (read && error == 0 && s->data_len > 0) {
            iov[n++] = {s->buf.data(), s->data_len};
        }
    }
    queue(s, iov, n);
}

// ---- requests ------------------------------------------------------------------------------

Started Connection::execute(Slot* s) {
    const Request& r = s->req;
    const bool fua = (r.flags & kCmdFlagFua) != 0;
    Status st = ok();
    switch (r.command()) {
        case Command::Read:
            if (r.length > 0) {
                iovec iov{s->buf.data(), r.length};
                st = co_await _desc->readv(r.offset, std::span<const iovec>(&iov, 1));
                if (st) {
                    s->data_len = r.length;
                }
            }
            break;
        case Command::Write:
            if (r.length > 0) {
                iovec iov{s->payload != nullptr ? s->payload : s->buf.data(), r.length};
                st = co_await _desc->writev(r.offset, std::span<const iovec>(&iov, 1));
                release_payload(s);
            }
            break;
        case Command::Flush:
            st = co_await _desc->flush();
            break;
        case Command::Trim:
            if (r.length > 0) {
                st = co_await _desc->unmap(r.offset, r.length);
            }
            break;
        case Command::WriteZeroes:
            // Write-zeroes reads back zeros on every device kind (unmap need not), with or
            // without NO_HOLE; devices keep the blocks allocated as their write_zeroes does.
            if (r.length > 0) {
                st = co_await _desc->write_zeroes(r.offset, r.length);
            }
            break;
        default:
            st = make_error(EINVAL, "unsupported command");
            break;
    }
    if (st && fua && r.command() != Command::Read && r.command() != Command::Flush &&
        _desc->device().io_type_supported(IoType::Flush)) {
        st = co_await _desc->flush();
    }
    if (!st) {
        log::warn("nbd: {} ({}): command {} at {} length {}: {}", _peer, _export->name, r.type, r.offset,
                  r.length, st.error().to_string());
        reply(s, to_nbd_error(st.error().code), "I/O error");
    } else {
        reply(s, 0, "");
    }
    if (--_inflight == 0) {
        _drained.wake_all();
    }
}

Task<void> Connection::transmission() {
    while (!_closing.load(std::memory_order_relaxed)) {
        if (!co_await fill(kRequestSize)) {
            break;
        }
        auto req = decode_request(std::span<const uint8_t>(rx_data() + _rx_head, kRequestSize));
        if (!req) {
            log::warn("nbd: {} ({}): {}; closing", _peer, _export->name, req.error().message);
            break;
        }
        _rx_head += kRequestSize;
        ++_parsed;
        const Request& r = *req;
        if (r.command() == Command::Disc) {
            break;
        }
        Verdict v = check_request(r, _limits);
        if (v.close) {
            log::warn("nbd: {} ({}): {} ({} bytes); closing", _peer, _export->name, v.reason, r.length);
            break;
        }
        Slot* s = nullptr;
        while ((s = alloc_slot()) == nullptr && !_closing.load(std::memory_order_relaxed)) {
            _rx_busy = false;
            flush();
            co_await _slot_freed.wait();
            _rx_busy = true;
        }
        if (s == nullptr) {
            break;
        }
        s->req = r;
        const bool write = r.command() == Command::Write;
        const bool data = write || r.command() == Command::Read;
        // A write whose whole payload is in the receive buffer runs from there when the device
        // takes any buffer (no copy); otherwise the payload goes to the slot's buffer.
        const bool direct =
            write && v.error == 0 && _direct_writes && r.length > 0 && _rx_tail - _rx_head >= r.length;
        if (v.error == 0 && data && !direct && !ensure_buf(s, r.length)) {
            v = Verdict{kEnomem, false, "no memory for the request's buffer"};
        }
        if (v.error != 0) {
            // A write's payload follows its header whatever the verdict.
            if (write && !co_await skip(r.length)) {
                release_slot(s);
                break;
            }
            reply(s, v.error, v.reason);
            continue;
        }
        if (direct) {
            s->payload = rx_data() + _rx_head;
            s->payload_rx = _rx.get();
            ++_rx->users;
            _rx_head += r.length;
        } else if (write && r.length > 0 && !co_await read_into(s->buf.data(), r.length)) {
            release_slot(s);
            break;
        }
        ++_inflight;
        execute(s);  // runs now, until it first waits (a device that completes later)
    }
}

// ---- the connection's life -----------------------------------------------------------------

bool Connection::attach(std::shared_ptr<Export> e) {
    std::lock_guard lk(e->mu);
    if (e->removed || !e->desc) {
        return false;
    }
    e->conns.insert(this);
    e->active.fetch_add(1);
    _desc = e->desc.get();
    _limits = _core.limits_of(*e);
    _direct_writes = e->device->geometry().buf_align <= 1;
    _export = std::move(e);
    return true;
}

void Connection::detach() {
    if (_desc == nullptr) {
        return;
    }
    {
        std::lock_guard lk(_export->mu);
        _export->conns.erase(this);
        _desc = nullptr;
        _export->active.fetch_sub(1);
    }
    _core.live.notify();
}

Task<void> Connection::run() {
    bool ok = false;
    if (_preset) {
        auto e = std::move(_export);
        ok = attach(std::move(e));
        _structured = false;
    } else {
        ok = co_await handshake();
    }
    if (ok && !_closing.load()) {
        log::info("nbd: {} uses export {}{}", _peer, _export->name,
                  _structured ? " (structured replies)" : "");
        _rx_busy = true;
        co_await transmission();
    }
    // Tear down: no more requests; those running finish and their replies go out (a client
    // that sent NBD_CMD_DISC still gets them), then the socket closes.
    while (_inflight > 0) {
        co_await _drained.wait();
    }
    _rx_busy = false;
    flush();
    while (_sending) {
        co_await _send_idle.wait();
    }
    _closing.store(true);
    if (_sock.valid()) {
        ::shutdown(_sock.fd(), SHUT_RDWR);
    }
    std::string name = _export ? _export->name : "-";
    detach();
    log::info("nbd: connection {} closed (export {})", _peer, name);
}

}  // namespace ms::nbd::detail
