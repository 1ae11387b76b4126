// One NVMe/TCP connection (= one queue) of the target: the ICReq/ICResp exchange, the PDU
// receive loop (several PDUs parsed from one receive buffer), command slots, sending, and the
// fabrics commands (Connect, Property Get/Set). Admin commands are in admin.cc, NVM commands
// in io.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "core/log.h"
#include "target/nvmf/target_internal.h"

namespace ms::nvmf::detail {

using namespace ms::nvme;
using namespace ms::nvme::tcp;

namespace {

constexpr std::size_t kRxBufferSize = 64 * 1024;
// Data larger than this is received straight into the command's buffer.
constexpr std::size_t kDirectReceive = 16 * 1024;
const uint8_t kZeros[256] = {};

std::string address_of(const sockaddr_storage& ss, uint16_t* port) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
        *port = ntohs(v4->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
        *port = ntohs(v6->sin6_port);
    }
    return buf;
}

struct H2CWait {
    Command* c;
    bool await_ready() noexcept { return c->h2c_received >= c->h2c_total || c->h2c_failed; }
    void await_suspend(std::coroutine_handle<> h) noexcept { c->waiter = h; }
    void await_resume() noexcept {}
};

std::string fixed_string(const char* p, std::size_t max) {
    std::size_t n = 0;
    while (n < max && p[n] != '\0') {
        ++n;
    }
    return std::string(p, n);
}

}  // namespace

Connection::Connection(TargetCore& core, Socket sock)
    : _core(core), _sock(std::move(sock)), _home(Reactor::current()) {
    _rx.resize(kRxBufferSize);
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    uint16_t port = 0;
    if (::getpeername(_sock.fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        _peer = fmt::format("{}:{}", address_of(ss, &port), port);
    }
    len = sizeof ss;
    if (::getsockname(_sock.fd(), reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
        _local_addr = address_of(ss, &_local_port);
    }
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

// ---- receive helpers -----------------------------------------------------------------------

Task<bool> Connection::fill(std::size_t n) {
    while (_rx_tail - _rx_head < n) {
        if (_rx_head == _rx_tail) {
            _rx_head = _rx_tail = 0;
        } else if (_rx.size() - _rx_head < n) {
            std::memmove(_rx.data(), _rx.data() + _rx_head, _rx_tail - _rx_head);
            _rx_tail -= _rx_head;
            _rx_head = 0;
        }
        // About to wait for the peer: what the PDUs parsed so far produced goes out first.
        _rx_busy = false;
        flush();
        auto got = co_await _sock.recv_some(std::span<uint8_t>(_rx.data() + _rx_tail, _rx.size() - _rx_tail));
        _rx_busy = true;
        if (!got || *got == 0) {
            co_return false;
        }
        _rx_tail += *got;
    }
    co_return true;
}

Task<bool> Connection::read_into(uint8_t* dst, std::size_t n) {
    std::size_t have = std::min(n, _rx_tail - _rx_head);
    if (have > 0) {
        std::memcpy(dst, _rx.data() + _rx_head, have);
        _rx_head += have;
        dst += have;
        n -= have;
    }
    if (n == 0) {
        co_return true;
    }
    if (n >= kDirectReceive) {
        _rx_busy = false;
        flush();
        auto st = co_await _sock.recv_exact(std::span<uint8_t>(dst, n));
        _rx_busy = true;
        co_return st.has_value();
    }
    if (!co_await fill(n)) {
        co_return false;
    }
    std::memcpy(dst, _rx.data() + _rx_head, n);
    _rx_head += n;
    co_return true;
}

Task<bool> Connection::skip(std::size_t n) {
    while (n > 0) {
        std::size_t chunk = std::min(n, _rx.size() / 2);
        if (!co_await fill(chunk)) {
            co_return false;
        }
        _rx_head += chunk;
        n -= chunk;
    }
    co_return true;
}

// ---- sending -------------------------------------------------------------------------------

// Sends are serialised and coalesced: one send_loop at a time sends whatever has been queued
// (_batch) in one sendmsg, and resumes the commands whose PDUs went out once it completes.
// Commands run from the receive loop only queue: the loop flushes before it waits for more
// data, so the responses to all the PDUs of one receive leave together. Other sends (after a
// device completion, an H2CData transfer, an event) start the loop on the next loop turn, so
// that everything completing in this turn joins them.
// (Not a coroutine: one frame less per command.)
Connection::SendWait Connection::send(std::span<iovec> iov) {
    if (_send_failed) {
        return SendWait{nullptr};
    }
    _batch.insert(_batch.end(), iov.begin(), iov.end());
    if (!_rx_busy && !_sending) {
        _sending = true;
        Reactor::current()->spawn(send_loop(shared_from_this()));
    }
    return SendWait{&_batch_waiters};
}

namespace {
Started start_now(Task<void> t) {
    co_await std::move(t);
}
}  // namespace

void Connection::flush() {
    if (!_sending && (!_batch.empty() || !_batch_waiters.empty())) {
        _sending = true;
        start_now(send_loop(shared_from_this()));
    }
}

Task<void> Connection::send_loop(std::shared_ptr<Connection> self) {
    Connection& c = *self;
    while (!c._batch.empty() && !c._send_failed) {
        c._out.swap(c._batch);
        c._batch.clear();
        c._out_waiters.swap(c._batch_waiters);
        c._batch_waiters.clear();
        auto st = co_await c._sock.sendv_all(std::span<iovec>(c._out));
        if (!st) {
            c._send_failed = true;
            c.shutdown();
        }
        for (auto h : c._out_waiters) {
            Reactor::current()->schedule(h);
        }
        c._out_waiters.clear();
        c._out.clear();
    }
    for (auto h : c._batch_waiters) {
        Reactor::current()->schedule(h);
    }
    c._batch_waiters.clear();
    c._batch.clear();
    c._sending = false;
}

Task<void> Connection::terminate(const PduError& e, std::span<const uint8_t> header) {
    log::warn("nvmf: connection {} ({}): {} (fes {}, fei {}); closing", _peer, _sub ? _sub->nqn : "-",
              e.message, static_cast<int>(e.fes), e.fei);
    // The encoder writes the whole PDU: its header and the echoed bytes of the offending header.
    uint8_t out[kTermReqHlen + kTermReqMaxData];
    std::size_t n = encode_term_req(std::span<uint8_t>(out), PduType::C2HTermReq, e.fes, e.fei, header);
    iovec iov{out, n};
    _rx_busy = false;  // the receive loop waits for this send: nobody else would flush it
    co_await send(std::span<iovec>(&iov, 1));
}

Task<void> Connection::respond(Command* c, const Response& r) {
    if (r.no_response) {
        co_return;
    }
    iovec iov[5];
    int n = 0;
    bool need_resp = true;
    // Never more than the host's buffer (the command's SGL length) holds.
    uint32_t data_len = std::min(r.data_len, c->sqe.dptr.length);
    if (data_len > 0 && r.status.ok()) {
        DataHeader h;
        h.cccid = c->sqe.cid;
        h.datao = 0;
        h.datal = data_len;
        h.last = true;
        h.success = r.dw0 == 0 && r.dw1 == 0;
        need_resp = !h.success;
        std::size_t hl = encode_data(std::span<uint8_t>(c->hdr), PduType::C2HData, _params, h);
        iov[n++] = {c->hdr, hl};
        uint32_t pad = header_padding(_params, Receiver::Host, static_cast<uint32_t>(hl));
        if (pad > 0) {
            iov[n++] = {const_cast<uint8_t*>(kZeros), pad};
        }
        iov[n++] = {c->buf.data(), data_len};
        if (_params.ddgst) {
            iovec d{c->buf.data(), data_len};
            uint32_t dg = data_digest(std::span<const iovec>(&d, 1));
            std::memcpy(c->ddgst, &dg, 4);
            iov[n++] = {c->ddgst, 4};
        }
    }
    uint8_t resp[kCapsuleRespHlen + kDigestSize];
    if (need_resp) {
        Cqe cqe{};
        cqe.dw0 = r.dw0;
        cqe.dw1 = r.dw1;
        cqe.sqhd = static_cast<uint16_t>(_sqhd);
        cqe.sqid = _qid == 0xFFFF ? 0 : _qid;
        cqe.cid = c->sqe.cid;
        cqe.status = r.status.encode();
        uint8_t tmp[kMaxHeaderSize];
        std::size_t hl = encode_capsule_resp(std::span<uint8_t>(tmp), _params, cqe);
        std::memcpy(resp, tmp, hl);
        iov[n++] = {resp, hl};
    }
    co_await send(std::span<iovec>(iov, n));
}

// ---- command slots -------------------------------------------------------------------------

Command* Connection::alloc_command() {
    if (_free.empty()) {
        // A slot is free again only once its response has been sent, and the host may send
        // the next command as soon as it sees the response: twice the queue size leaves slack.
        uint32_t limit = _qid == 0xFFFF ? 1 : 2 * _sqsize + (is_admin() ? kAerLimit : 0);
        if (_cmds.size() >= limit) {
            return nullptr;
        }
        auto c = std::make_unique<Command>();
        c->index = static_cast<uint16_t>(_cmds.size());
        _free.push_back(c.get());
        _cmds.push_back(std::move(c));
    }
    Command* c = _free.back();
    _free.pop_back();
    c->in_use = true;
    c->incapsule = 0;
    c->digest_error = false;
    c->awaiting_h2c = false;
    c->h2c_total = c->h2c_received = 0;
    c->h2c_failed = false;
    c->waiter = {};
    return c;
}

void Connection::release_command(Command* c) {
    c->in_use = false;
    _free.push_back(c);
}

bool Connection::ensure_buf(Command* c, std::size_t len) {
    if (c->buf.size() >= len) {
        return true;
    }
    std::size_t want = std::max<std::size_t>(len, 4096);
    auto b = DmaBuf::allocate((want + 4095) & ~std::size_t{4095}, DmaBuf::kDefaultAlign, false);
    if (!b) {
        return false;
    }
    c->buf = std::move(*b);
    return true;
}

// ---- the connection's life -----------------------------------------------------------------

Task<bool> Connection::handshake() {
    if (!co_await fill(kCommonHeaderSize)) {
        co_return false;
    }
    auto span = std::span<const uint8_t>(_rx.data() + _rx_head, _rx_tail - _rx_head);
    auto lay = check_common_header(span.subspan(0, kCommonHeaderSize), Receiver::Target, _params);
    if (!lay) {
        co_await terminate(lay.error(), span.subspan(0, kCommonHeaderSize));
        co_return false;
    }
    if (!co_await fill(lay->header_size)) {
        co_return false;
    }
    span = std::span<const uint8_t>(_rx.data() + _rx_head, lay->header_size);
    auto pdu = decode_header(span, *lay, Receiver::Target, _params);
    if (!pdu) {
        co_await terminate(pdu.error(), span);
        co_return false;
    }
    const auto* req = std::get_if<ICReq>(&pdu->body);
    if (req == nullptr) {
        PduError err{Fes::PduSequenceError, 0, "expected ICReq"};
        co_await terminate(err, span);
        co_return false;
    }
    _rx_head += lay->header_size;
    ICResp resp;
    resp.pfv = 0;
    resp.cpda = 0;
    resp.hdgst = req->hdgst;
    resp.ddgst = req->ddgst;
    resp.maxh2cdata = _core.options.max_h2c_data;
    uint8_t out[kMaxHeaderSize];
    std::size_t n = encode_icresp(std::span<uint8_t>(out), resp);
    iovec iov{out, n};
    _rx_busy = false;  // the receive loop waits for this send: nobody else would flush it
    co_await send(std::span<iovec>(&iov, 1));
    _params.established = true;
    _params.hdgst = req->hdgst;
    _params.ddgst = req->ddgst;
    _params.hpda = req->hpda;
    _params.cpda = 0;
    _params.max_data = std::max(_core.options.in_capsule_data_size, _core.options.max_h2c_data);
    co_return !_send_failed;
}

void Connection::post_refresh_namespaces() {
    if (_home == nullptr) {
        return;
    }
    _home->post([self = shared_from_this()] {
        if (self->_sub && self->_ns) {
            self->_ns = self->_sub->ns_snapshot();
            self->_ns_version = self->_sub->ns_version.load(std::memory_order_acquire);
        }
    });
}

Task<void> Connection::run() {
    log::info("nvmf: connection from {} on port {}", _peer, _local_port);
    bool ok = co_await handshake();
    while (ok && !_closing.load(std::memory_order_relaxed)) {
        if (!co_await fill(kCommonHeaderSize)) {
            break;
        }
        auto head = std::span<const uint8_t>(_rx.data() + _rx_head, _rx_tail - _rx_head);
        auto lay = check_common_header(head.subspan(0, kCommonHeaderSize), Receiver::Target, _params);
        if (!lay) {
            co_await terminate(lay.error(),
                               head.subspan(0, std::min<std::size_t>(head.size(), kTermReqMaxData)));
            break;
        }
        if (!co_await fill(lay->header_size)) {
            break;
        }
        uint8_t header[kMaxHeaderSize];
        std::memcpy(header, _rx.data() + _rx_head, lay->header_size);
        auto hspan = std::span<const uint8_t>(header, lay->header_size);
        auto pdu = decode_header(hspan, *lay, Receiver::Target, _params);
        if (!pdu) {
            co_await terminate(pdu.error(), hspan);
            break;
        }
        _rx_head += lay->header_size;
        if (lay->has_data() && lay->data_offset > lay->header_size) {
            if (!co_await skip(lay->data_offset - lay->header_size)) {
                break;
            }
        }
        if (std::holds_alternative<CapsuleCmd>(pdu->body)) {
            ok = co_await on_capsule(*pdu);
        } else if (std::holds_alternative<DataHeader>(pdu->body)) {
            ok = co_await on_h2c_data(*pdu, hspan);
        } else if (const auto* t = std::get_if<TermReq>(&pdu->body)) {
            log::warn("nvmf: connection {}: host terminated the connection (fes {})", _peer,
                      static_cast<int>(t->fes));
            break;
        } else {
            PduError err{Fes::PduSequenceError, 0, "unexpected PDU type"};
            co_await terminate(err, hspan);
            break;
        }
    }
    // Tear down: stop receiving, fail commands waiting for data, let the others finish.
    _rx_busy = false;
    flush();
    _closing.store(true);
    if (_sock.valid()) {
        ::shutdown(_sock.fd(), SHUT_RDWR);
    }
    for (auto& c : _cmds) {
        if (c->in_use && c->awaiting_h2c) {
            c->h2c_failed = true;
            if (c->waiter) {
                Reactor::current()->schedule(std::exchange(c->waiter, {}));
            }
        }
    }
    while (_inflight > 0) {
        co_await _drained.wait();
    }
    std::string nqn = _sub ? _sub->nqn : "-";
    detach();
    log::info("nvmf: connection {} closed ({} qid {})", _peer, nqn, _qid == 0xFFFF ? -1 : int{_qid});
}

void Connection::detach() {
    if (_ctrl) {
        if (is_admin()) {
            _ctrl->shutdown_all();
            std::lock_guard lk(_ctrl->sub->mu);
            auto it = _ctrl->sub->controllers.find(_ctrl->cntlid);
            if (it != _ctrl->sub->controllers.end() && it->second == _ctrl) {
                _ctrl->sub->controllers.erase(it);
            }
        } else {
            std::lock_guard lk(_ctrl->mu);
            _ctrl->qids.erase(_qid);
            std::erase_if(_ctrl->io_conns,
                          [this](const std::shared_ptr<Connection>& c) { return c.get() == this; });
        }
        _ctrl.reset();
    }
    _ns.reset();
    if (_sub) {
        _sub->connections.fetch_sub(1);
        _sub.reset();
        _core.live.notify();
    }
}

// ---- PDUs ------------------------------------------------------------------------------------

Task<bool> Connection::on_capsule(const Pdu& pdu) {
    const Sqe& sqe = std::get<CapsuleCmd>(pdu.body).sqe;
    Command* c = alloc_command();
    if (c == nullptr) {
        PduError err{Fes::PduSequenceError, 0, "more commands than the queue holds"};
        co_await terminate(err, std::span<const uint8_t>());
        co_return false;
    }
    c->sqe = sqe;
    uint32_t dlen = pdu.layout.data_size;
    uint32_t limit = (_qid == 0xFFFF || is_admin()) ? 8192 : _core.options.in_capsule_data_size;
    if (dlen > limit) {
        release_command(c);
        PduError err{Fes::DataTransferLimitExceeded, 0, "in-capsule data too large"};
        co_await terminate(err, std::span<const uint8_t>());
        co_return false;
    }
    if (dlen > 0) {
        if (!ensure_buf(c, dlen)) {
            release_command(c);
            co_return false;
        }
        if (!co_await read_into(c->buf.data(), dlen)) {
            release_command(c);
            co_return false;
        }
        c->incapsule = dlen;
        if (pdu.layout.data_digest_size > 0) {
            uint8_t dg[4];
            if (!co_await read_into(dg, 4)) {
                release_command(c);
                co_return false;
            }
            iovec d{c->buf.data(), dlen};
            c->digest_error =
                !data_digest_ok(std::span<const iovec>(&d, 1), std::span<const uint8_t, 4>(dg, 4));
        }
    }
    _sqhd = (_sqhd + 1) % std::max<uint32_t>(_sqsize, 1);
    ++_inflight;
    execute(c);  // runs now, until it first waits (see send())
    co_return true;
}

Task<bool> Connection::on_h2c_data(const Pdu& pdu, std::span<const uint8_t> header) {
    const auto& h = std::get<DataHeader>(pdu.body);
    Command* c = h.ttag < _cmds.size() ? _cmds[h.ttag].get() : nullptr;
    if (c == nullptr || !c->in_use || !c->awaiting_h2c || c->sqe.cid != h.cccid) {
        PduError err{Fes::InvalidHeaderField, 10, "H2CData with an unknown transfer tag"};
        co_await terminate(err, header);
        co_return false;
    }
    if (h.datao != c->h2c_received || uint64_t{h.datao} + h.datal > c->h2c_total) {
        PduError err{Fes::DataTransferOutOfRange, 0, "H2CData outside the requested range"};
        co_await terminate(err, header);
        co_return false;
    }
    if (!co_await read_into(c->buf.data() + h.datao, h.datal)) {
        co_return false;
    }
    if (pdu.layout.data_digest_size > 0) {
        uint8_t dg[4];
        if (!co_await read_into(dg, 4)) {
            co_return false;
        }
        iovec d{c->buf.data() + h.datao, h.datal};
        if (!data_digest_ok(std::span<const iovec>(&d, 1), std::span<const uint8_t, 4>(dg, 4))) {
            c->digest_error = true;
        }
    }
    c->h2c_received += h.datal;
    if (c->h2c_received >= c->h2c_total && c->waiter) {
        Reactor::current()->schedule(std::exchange(c->waiter, {}));
    }
    co_return true;
}

Task<bool> Connection::receive_h2c(Command* c, uint32_t len) {
    c->awaiting_h2c = true;
    c->h2c_total = len;
    c->h2c_received = 0;
    R2T r;
    r.cccid = c->sqe.cid;
    r.ttag = c->index;
    r.r2to = 0;
    r.r2tl = len;
    std::size_t hl = encode_r2t(std::span<uint8_t>(c->hdr), _params, r);
    iovec iov{c->hdr, hl};
    co_await send(std::span<iovec>(&iov, 1));
    H2CWait wait{c};
    co_await wait;
    c->awaiting_h2c = false;
    co_return !c->h2c_failed && c->h2c_received >= c->h2c_total;
}

Started Connection::execute(Command* c) {
    Response r;
    if (c->digest_error) {
        r = status_only(Sct::Generic, sc::kTransientTransportError, false);
    } else if (c->sqe.opcode == static_cast<uint8_t>(AdminOpc::FabricsCommand)) {
        r = co_await exec_fabrics(c);
    } else if (_ctrl == nullptr) {
        r = generic(sc::kCommandSequenceError);
    } else if (is_admin()) {
        r = co_await exec_admin(c);
    } else {
        r = co_await exec_io(c);
    }
    if (!_closing.load(std::memory_order_relaxed)) {
        co_await respond(c, r);
    }
    release_command(c);
    if (--_inflight == 0) {
        _drained.wake_all();
    }
}

void Connection::send_event_response(uint16_t cid, uint32_t dw0) {
    ++_inflight;
    Reactor::current()->spawn(event_response(cid, dw0));
}

Task<void> Connection::event_response(uint16_t cid, uint32_t dw0) {
    if (!_closing.load()) {
        Cqe cqe{};
        cqe.dw0 = dw0;
        cqe.sqid = 0;
        cqe.cid = cid;
        uint8_t hdr[kMaxHeaderSize];
        std::size_t hl = encode_capsule_resp(std::span<uint8_t>(hdr), _params, cqe);
        iovec iov{hdr, hl};
        co_await send(std::span<iovec>(&iov, 1));
    }
    if (--_inflight == 0) {
        _drained.wake_all();
    }
}

// ---- fabrics -----------------------------------------------------------------------------

Task<Response> Connection::exec_fabrics(Command* c) {
    auto type = static_cast<FabricsType>(c->sqe.fctype());
    if (type == FabricsType::Connect) {
        co_return connect(c);
    }
    if (_ctrl == nullptr) {
        co_return generic(sc::kCommandSequenceError);
    }
    if (!is_admin()) {
        co_return generic(sc::kInvalidOpcode);
    }
    _ctrl->last_activity = std::chrono::steady_clock::now();
    switch (type) {
        case FabricsType::PropertyGet:
            co_return property_get(c);
        case FabricsType::PropertySet:
            co_return property_set(c);
        default:
            co_return generic(sc::kInvalidOpcode);
    }
}

namespace {
Response connect_invalid(bool in_data, uint16_t offset) {
    Response r = status_only(Sct::CommandSpecific, csc::kConnectInvalidParameters);
    r.dw0 = (uint32_t{offset} << 16) | (in_data ? 1u : 0u);
    return r;
}
}  // namespace

Response Connection::connect(Command* c) {
    if (_qid != 0xFFFF) {
        return generic(sc::kCommandSequenceError);
    }
    const Sqe& sqe = c->sqe;
    uint16_t recfmt = sqe.cdw10 & 0xffff;
    uint16_t qid = static_cast<uint16_t>(sqe.cdw10 >> 16);
    uint32_t sqsize = (sqe.cdw11 & 0xffff) + 1;
    if (recfmt != 0) {
        return status_only(Sct::CommandSpecific, csc::kConnectIncompatibleFormat);
    }
    if (c->incapsule < sizeof(ConnectData)) {
        return generic(sc::kDataSglLengthInvalid);
    }
    ConnectData data;
    std::memcpy(&data, c->buf.data(), sizeof data);
    std::string subnqn = fixed_string(data.subnqn, sizeof data.subnqn);
    std::string hostnqn = fixed_string(data.hostnqn, sizeof data.hostnqn);
    if (sqsize < 2 || sqsize > _core.options.max_queue_depth) {
        return connect_invalid(false, 44);
    }
    auto sub = _core.find_subsystem(subnqn);
    if (!sub) {
        log::warn("nvmf: connection {}: connect to unknown subsystem '{}'", _peer, subnqn);
        return connect_invalid(true, offsetof(ConnectData, subnqn));
    }
    if (!sub->host_allowed(hostnqn)) {
        log::warn("nvmf: connection {}: host '{}' not allowed on '{}'", _peer, hostnqn, subnqn);
        Response r = status_only(Sct::CommandSpecific, csc::kConnectInvalidHost);
        r.dw0 = (uint32_t{offsetof(ConnectData, hostnqn)} << 16) | 1u;
        return r;
    }
    if (qid == 0) {
        if (data.cntlid != kDynamicCntlid) {
            return connect_invalid(true, offsetof(ConnectData, cntlid));
        }
        auto ctrl = std::make_shared<Controller>();
        ctrl->core = &_core;
        ctrl->sub = sub;
        ctrl->host_nqn = hostnqn;
        ctrl->home = Reactor::current();
        ctrl->kato_ms = sub->discovery ? 0 : sqe.cdw12;
        ctrl->io_queues = _core.options.max_io_queues;
        ctrl->admin = weak_from_this();
        {
            std::lock_guard lk(sub->mu);
            if (sub->removed) {
                return connect_invalid(true, offsetof(ConnectData, subnqn));
            }
            uint32_t range = uint32_t{sub->max_cntlid} - sub->min_cntlid + 1;
            bool found = false;
            for (uint32_t i = 0; i < range; ++i) {
                uint16_t id = sub->next_cntlid;
                sub->next_cntlid = id >= sub->max_cntlid ? sub->min_cntlid : static_cast<uint16_t>(id + 1);
                if (id >= sub->min_cntlid && id <= sub->max_cntlid && !sub->controllers.contains(id)) {
                    ctrl->cntlid = id;
                    found = true;
                    break;
                }
            }
            if (!found) {
                return status_only(Sct::CommandSpecific, csc::kConnectControllerBusy);
            }
            sub->controllers[ctrl->cntlid] = ctrl;
        }
        _qid = 0;
        _sqsize = sqsize;
        _ctrl = ctrl;
        _sub = sub;
        sub->connections.fetch_add(1);
        if (ctrl->kato_ms != 0) {
            _core.live.started();
            Reactor::current()->spawn([](std::shared_ptr<Controller> ctl) -> Task<void> {
                while (ctl->alive.load()) {
                    uint32_t tick = std::clamp<uint32_t>(ctl->kato_ms / 4, 20, 200);
                    if (!co_await sleep_for(std::chrono::milliseconds(tick))) {
                        break;
                    }
                    auto limit = std::chrono::milliseconds(ctl->kato_ms + ctl->kato_ms / 2);
                    if (ctl->alive.load() && std::chrono::steady_clock::now() - ctl->last_activity > limit) {
                        log::warn("nvmf: keep-alive timeout of controller {} on {} (host {}): closing it",
                                  ctl->cntlid, ctl->sub->nqn, ctl->host_nqn);
                        ctl->shutdown_all();
                        break;
                    }
                }
                TargetCore* core = ctl->core;
                ctl.reset();
                core->live.finished();
            }(ctrl));
        }
        log::info("nvmf: controller {} of {} created for host {} ({})", ctrl->cntlid, sub->nqn, hostnqn,
                  _peer);
        Response r;
        r.dw0 = ctrl->cntlid;
        return r;
    }
    // I/O queue.
    if (sub->discovery) {
        return connect_invalid(false, 42);
    }
    std::shared_ptr<Controller> ctrl;
    {
        std::lock_guard lk(sub->mu);
        auto it = sub->controllers.find(data.cntlid);
        if (it != sub->controllers.end()) {
            ctrl = it->second;
        }
    }
    if (!ctrl || !ctrl->alive.load() || ctrl->host_nqn != hostnqn) {
        return connect_invalid(true, offsetof(ConnectData, cntlid));
    }
    {
        std::lock_guard lk(ctrl->mu);
        if (qid > _core.options.max_io_queues || ctrl->qids.contains(qid)) {
            return connect_invalid(false, 42);
        }
        ctrl->qids.insert(qid);
        ctrl->io_conns.push_back(shared_from_this());
    }
    _qid = qid;
    _sqsize = sqsize;
    _ctrl = ctrl;
    _sub = sub;
    sub->connections.fetch_add(1);
    if (!ctrl->alive.load()) {
        shutdown();
    }
    Response r;
    r.dw0 = ctrl->cntlid;
    return r;
}

Response Connection::property_get(Command* c) {
    bool eight = (c->sqe.cdw10 & 0x7) == 1;
    uint32_t ofst = c->sqe.cdw11;
    uint64_t v = 0;
    switch (ofst) {
        case prop::kCap:
            v = uint64_t{_core.options.max_queue_depth - 1} | (uint64_t{1} << 16) | (uint64_t{15} << 24) |
                (uint64_t{1} << 37);
            break;
        case prop::kVs:
            v = kVersion_1_3;
            break;
        case prop::kCc:
            v = _ctrl->cc;
            break;
        case prop::kCsts:
            v = _ctrl->csts;
            break;
        default:
            return generic(sc::kInvalidField);
    }
    if (eight != (ofst == prop::kCap)) {
        // CAP is 8 bytes, the others 4; Linux reads CAP with an 8-byte get.
        if (ofst == prop::kCap && !eight) {
            v &= 0xffffffffu;
        } else if (eight) {
            return generic(sc::kInvalidField);
        }
    }
    Response r;
    r.dw0 = static_cast<uint32_t>(v);
    r.dw1 = eight ? static_cast<uint32_t>(v >> 32) : 0;
    return r;
}

Response Connection::property_set(Command* c) {
    uint32_t ofst = c->sqe.cdw11;
    uint32_t value = c->sqe.cdw12;
    if (ofst != prop::kCc) {
        return generic(sc::kInvalidField);
    }
    uint32_t old = _ctrl->cc;
    _ctrl->cc = value;
    if ((value & 1) && !(old & 1)) {
        _ctrl->csts |= 1;
    } else if (!(value & 1) && (old & 1)) {
        _ctrl->csts &= ~1u;
    }
    if (((value >> 14) & 3) != 0) {
        _ctrl->csts = (_ctrl->csts & ~0xCu) | (2u << 2);
    }
    return Response{};
}

}  // namespace ms::nvmf::detail
