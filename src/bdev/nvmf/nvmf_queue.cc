#include "bdev/nvmf/nvmf_queue.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <variant>

#include "core/log.h"
#include "core/reactor.h"

namespace ms::nvmf_host {

namespace tcp = nvme::tcp;
using Clock = std::chrono::steady_clock;

Status status_to_result(const nvme::Cqe& cqe, std::string_view what) {
    nvme::Status s = nvme::Status::decode(cqe.status);
    if (s.ok()) {
        return ok();
    }
    int code = EIO;
    if (s.sct == nvme::Sct::Generic) {
        if (s.sc == nvme::sc::kLbaOutOfRange) {
            code = ERANGE;
        } else if (s.sc == nvme::sc::kInvalidField) {
            code = EINVAL;
        } else if (s.sc == nvme::sc::kInvalidOpcode) {
            code = EOPNOTSUPP;
        }
    } else if (s.sct == nvme::Sct::CommandSpecific && s.sc == nvme::csc::kConnectInvalidHost) {
        code = EACCES;
    }
    return errorf(code, "{} failed with NVMe status SCT {:#x} SC {:#04x}", what, static_cast<unsigned>(s.sct),
                  s.sc);
}

void slice_iov(std::span<const iovec> in, uint64_t offset, uint64_t length, std::vector<iovec>& out) {
    out.clear();
    for (const iovec& v : in) {
        if (length == 0) {
            break;
        }
        if (offset >= v.iov_len) {
            offset -= v.iov_len;
            continue;
        }
        std::size_t n = std::min<uint64_t>(v.iov_len - offset, length);
        out.push_back(iovec{static_cast<uint8_t*>(v.iov_base) + offset, n});
        offset = 0;
        length -= n;
    }
}

namespace {
uint64_t iov_total(std::span<const iovec> iov) {
    uint64_t n = 0;
    for (const iovec& v : iov) {
        n += v.iov_len;
    }
    return n;
}

}  // namespace

// ---- Reader ----------------------------------------------------------------------------------

Task<Status> Queue::Reader::read(std::span<uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size()) {
        if (_begin < _end) {
            std::size_t n = std::min(_end - _begin, out.size() - done);
            std::memcpy(out.data() + done, _buf.data() + _begin, n);
            _begin += n;
            done += n;
            continue;
        }
        if (out.size() - done >= 16 * 1024) {
            co_return co_await _sock.recv_exact(out.subspan(done));
        }
        _begin = _end = 0;
        auto n = co_await _sock.recv_some(std::span<uint8_t>(_buf));
        if (!n) {
            co_return std::unexpected(n.error());
        }
        if (*n == 0) {
            co_return make_error(ECONNRESET, "connection closed by the target");
        }
        _end = *n;
    }
    co_return ok();
}

// ---- Queue -----------------------------------------------------------------------------------

Queue::Queue(Socket sock, QueueOptions options)
    : _sock(std::move(sock)), _options(std::move(options)), _reader(_sock), _slots(_options.depth - 1) {
    // A queue of N entries holds at most N - 1 commands (Connect's SQSIZE is N - 1).
    _free.reserve(_slots.size());
    for (auto i = static_cast<uint32_t>(_slots.size()); i > 0; --i) {
        _free.push_back(static_cast<uint16_t>(i - 1));
    }
}

Queue::~Queue() = default;

Task<Result<std::shared_ptr<Queue>>> Queue::connect(QueueOptions options) {
    std::string where = fmt::format("{}:{}", options.host, options.port);
    auto sock = co_await Socket::connect_tcp(options.host, options.port, options.timeout);
    if (!sock) {
        co_return errorf(sock.error().code, "cannot connect to NVMe/TCP target {}: {}", where,
                         sock.error().message);
    }
    if (options.depth < 2 || options.depth > 1024) {
        co_return errorf(EINVAL, "queue depth {} out of range", options.depth);
    }
    std::shared_ptr<Queue> q(new Queue(std::move(*sock), std::move(options)));
    q->_setup_deadline = Clock::now() + q->_options.timeout;
    Reactor::current()->spawn(watchdog(q));
    Status st = co_await q->handshake();
    if (!st) {
        Error e = q->_broken ? q->_error : st.error();
        q->close();
        co_return errorf(e.code, "NVMe/TCP connection setup with {}: {}", where, e.message);
    }
    q->_receiver_running = true;
    Reactor::current()->spawn(receive_loop(q));
    st = co_await q->fabrics_connect();
    if (!st) {
        Error e = st.error();
        if (q->_broken && e.code == EIO) {
            e = q->_error;
        }
        q->close();
        co_await q->wait_closed();
        co_return std::unexpected(e);
    }
    q->_connected = true;
    co_return q;
}

Task<Status> Queue::handshake() {
    uint8_t hdr[tcp::kMaxHeaderSize];
    tcp::ICReq req;
    req.hdgst = _options.hdgst;
    req.ddgst = _options.ddgst;
    std::size_t n = tcp::encode_icreq(hdr, req);
    Status st = co_await _sock.send_all(std::span<const uint8_t>(hdr, n));
    if (!st) {
        co_return st;
    }
    auto pdu = co_await read_pdu_header(hdr, "bad ICResp");
    if (!pdu) {
        co_return std::unexpected(pdu.error());
    }
    if (const auto* term = std::get_if<tcp::TermReq>(&pdu->body)) {
        co_return errorf(EPROTO, "the target terminated the connection (FES {:#x})",
                         static_cast<unsigned>(term->fes));
    }
    const auto* resp = std::get_if<tcp::ICResp>(&pdu->body);
    if (resp == nullptr) {
        co_return errorf(EPROTO, "expected ICResp, got {}", tcp::to_string(pdu->layout.ch.type));
    }
    if (resp->hdgst != _options.hdgst || resp->ddgst != _options.ddgst) {
        co_return errorf(EPROTO, "the target did not accept the digests asked (header {}, data {})",
                         _options.hdgst, _options.ddgst);
    }
    _params.established = true;
    _params.hdgst = resp->hdgst;
    _params.ddgst = resp->ddgst;
    _params.hpda = 0;
    _params.cpda = resp->cpda;
    _params.max_data = 0;
    _max_h2c = std::max<uint32_t>(resp->maxh2cdata, 4096);
    co_return ok();
}

Task<Status> Queue::fabrics_connect() {
    nvme::ConnectData data{};
    std::memcpy(data.hostid, _options.hostid.bytes().data(), sizeof data.hostid);
    data.cntlid = _options.cntlid;
    std::memcpy(data.subnqn, _options.subnqn.data(),
                std::min(_options.subnqn.size(), sizeof data.subnqn - 1));
    std::memcpy(data.hostnqn, _options.hostnqn.data(),
                std::min(_options.hostnqn.size(), sizeof data.hostnqn - 1));
    nvme::Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::FabricsCommand);
    sqe.nsid = static_cast<uint8_t>(nvme::FabricsType::Connect);
    sqe.cdw10 = uint32_t{_options.qid} << 16;
    sqe.cdw11 = _options.depth - 1;
    sqe.cdw12 = _options.qid == 0 ? _options.kato_ms : 0;
    iovec v{&data, sizeof data};
    auto r = co_await execute(sqe, DataDir::ToController, std::span<const iovec>(&v, 1));
    if (!r) {
        co_return std::unexpected(r.error());
    }
    nvme::Status s = nvme::Status::decode(r->status);
    if (!s.ok()) {
        if (s.sct == nvme::Sct::CommandSpecific && s.sc == nvme::csc::kConnectInvalidHost) {
            co_return errorf(EACCES, "the target refuses host '{}' for '{}'", _options.hostnqn,
                             _options.subnqn);
        }
        if (s.sct == nvme::Sct::CommandSpecific && s.sc == nvme::csc::kConnectInvalidParameters &&
            _options.qid == 0) {
            co_return errorf(ENOENT, "the target at {}:{} has no subsystem '{}'", _options.host,
                             _options.port, _options.subnqn);
        }
        Status st = status_to_result(*r, fmt::format("fabrics Connect of queue {}", _options.qid));
        co_return errorf(st.error().code == EIO ? EINVAL : st.error().code, "{}", st.error().message);
    }
    _cntlid = static_cast<uint16_t>(r->dw0 & 0xffff);
    co_return ok();
}

Task<Result<nvme::Cqe>> Queue::execute(nvme::Sqe sqe, DataDir dir, std::span<const iovec> iov) {
    while (!_broken && _free.empty()) {
        co_await _slot_waiters.wait();
    }
    if (_broken) {
        co_return errorf(EIO, "NVMe/TCP queue {} is down: {}", _options.qid, _error.message);
    }
    uint16_t cid = _free.back();
    _free.pop_back();
    Slot& s = _slots[cid];
    s.busy = true;
    s.done = false;
    s.dir = dir;
    s.iov = dir == DataDir::None ? std::span<const iovec>() : iov;
    s.length = static_cast<uint32_t>(iov_total(s.iov));
    s.received = 0;
    s.h2c_active = 0;
    s.deadline = Clock::now() + _options.timeout;
    s.waiter = {};
    s.result = nvme::Cqe{};

    bool in_capsule = dir == DataDir::ToController && s.length <= _in_capsule_max;
    sqe.cid = cid;
    sqe.flags = static_cast<uint8_t>((sqe.flags & 0x3) | nvme::kSglFlagsPsdtSgl);
    sqe.dptr = nvme::SglDescriptor{};
    sqe.dptr.length = s.length;
    sqe.dptr.type = in_capsule ? nvme::kSglDataBlockOffset : nvme::kSglTransportDataBlock;
    uint8_t hdr[tcp::kMaxHeaderSize];
    std::size_t hlen = tcp::encode_capsule_cmd(hdr, _params, sqe, in_capsule ? s.length : 0);
    std::span<const iovec> capsule_data;
    if (in_capsule) {
        capsule_data = s.iov;
    }
    Status st = co_await send_pdu(std::span<const uint8_t>(hdr, hlen), capsule_data);
    if (!st) {
        fail(st.error());
    }
    co_await SlotAwaiter{s};
    while (s.h2c_active > 0) {
        co_await _slot_waiters.wait();
    }
    Result<nvme::Cqe> r = std::move(s.result);
    s.busy = false;
    s.waiter = {};
    s.iov = {};
    _free.push_back(cid);
    _slot_waiters.wake_all();
    co_return r;
}

// PDUs are not sent one by one: send_pdu queues the PDU's iovecs and waits, and one send_loop
// sends everything queued in one sendmsg on the next loop turn, so that the commands the
// workers issue in one turn leave in one TCP segment (and the target gets them in one receive).
// The header, digest and data stay in the waiting callers' memory until their sendmsg is done.
Task<Status> Queue::send_pdu(std::span<const uint8_t> header, std::span<const iovec> data) {
    static const uint8_t kZeros[256] = {};
    if (_broken) {
        co_return errorf(EIO, "NVMe/TCP queue {} is down: {}", _options.qid, _error.message);
    }
    uint8_t digest[tcp::kDigestSize];
    _tx.push_back(iovec{const_cast<uint8_t*>(header.data()), header.size()});
    if (!data.empty()) {
        uint32_t pad =
            tcp::header_padding(_params, tcp::Receiver::Target, static_cast<uint32_t>(header.size()));
        if (pad > 0) {
            _tx.push_back(iovec{const_cast<uint8_t*>(kZeros), std::min<std::size_t>(pad, sizeof kZeros)});
        }
        _tx.insert(_tx.end(), data.begin(), data.end());
        if (_params.ddgst) {
            uint32_t crc = tcp::data_digest(data);
            std::memcpy(digest, &crc, sizeof digest);
            _tx.push_back(iovec{digest, sizeof digest});
        }
    }
    Status result = ok();
    if (!_sending) {
        _sending = true;
        Reactor::current()->spawn(send_loop(shared_from_this()));
    }
    struct Wait {
        Queue& q;
        Status* result;
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { q._tx_waiters.push_back(SendWaiter{h, result}); }
        void await_resume() noexcept {}
    };
    co_await Wait{*this, &result};
    co_return result;
}

Task<void> Queue::send_loop(std::shared_ptr<Queue> self) {
    Queue& q = *self;
    while (!q._tx.empty()) {
        q._tx_out.swap(q._tx);
        q._tx.clear();
        q._tx_out_waiters.swap(q._tx_waiters);
        q._tx_waiters.clear();
        Status st = ok();
        if (q._broken) {
            st = errorf(EIO, "NVMe/TCP queue {} is down: {}", q._options.qid, q._error.message);
        } else {
            st = co_await q._sock.sendv_all(std::span<iovec>(q._tx_out));
        }
        for (const SendWaiter& w : q._tx_out_waiters) {
            *w.result = st;
            Reactor::current()->schedule(w.h);
        }
        q._tx_out_waiters.clear();
        q._tx_out.clear();
    }
    q._sending = false;
}

void Queue::complete(Slot& s, Result<nvme::Cqe> r) {
    if (!s.busy || s.done) {
        return;
    }
    s.result = std::move(r);
    s.done = true;
    if (s.waiter) {
        Reactor::current()->schedule(std::exchange(s.waiter, {}));
    }
}

void Queue::fail(Error e) {
    if (_broken) {
        return;
    }
    _broken = true;
    _error = e;
    if (!_closing) {
        log::warn("NVMe/TCP queue {} to {}:{} ({}) failed: {}", _options.qid, _options.host, _options.port,
                  _options.subnqn, e.message);
    }
    for (std::size_t cid = 0; cid < _slots.size(); ++cid) {
        if (static_cast<int>(cid) != _rx_cid) {
            complete(_slots[cid], errorf(EIO, "NVMe/TCP queue {} failed: {}", _options.qid, e.message));
        }
    }
    if (_sock.valid()) {
        ::shutdown(_sock.fd(), SHUT_RDWR);
    }
    _slot_waiters.wake_all();
    if (!_closing && _on_broken) {
        _on_broken(e);
    }
}

void Queue::close(std::string reason) {
    _closing = true;
    fail(Error{ECONNABORTED, std::move(reason)});
}

Task<void> Queue::wait_closed() {
    while (_receiver_running) {
        co_await _receiver_done.wait();
    }
}

Task<void> Queue::receive_loop(std::shared_ptr<Queue> self) {
    while (!self->_broken) {
        Status st = co_await self->receive_one();
        if (!st) {
            self->_rx_cid = -1;
            self->fail(st.error());
        }
    }
    self->_rx_cid = -1;
    // Commands whose data was being received when the queue failed.
    for (Slot& s : self->_slots) {
        self->complete(s,
                       errorf(EIO, "NVMe/TCP queue {} failed: {}", self->_options.qid, self->_error.message));
    }
    self->_receiver_running = false;
    self->_receiver_done.wake_all();
}

Task<void> Queue::watchdog(std::shared_ptr<Queue> self) {
    auto tick = std::clamp<std::chrono::milliseconds>(
        self->_options.timeout / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(100));
    while (!self->_broken) {
        if (!co_await sleep_for(tick)) {
            self->close("the reactor is stopping");
            break;
        }
        auto now = Clock::now();
        if (!self->_connected && !self->_receiver_running && now > self->_setup_deadline) {
            self->fail(Error{ETIMEDOUT, "connection setup timed out"});
            break;
        }
        for (const Slot& s : self->_slots) {
            if (s.busy && !s.done && now > s.deadline) {
                self->fail(Error{ETIMEDOUT, fmt::format("a command timed out after {} ms",
                                                        self->_options.timeout.count())});
                break;
            }
        }
    }
}

// Reads one PDU header (common header, the rest, its digest) into `hdr` (kMaxHeaderSize bytes)
// and decodes it; a malformed one is EPROTO with `what` in front of the codec's message.
Task<Result<tcp::Pdu>> Queue::read_pdu_header(uint8_t* hdr, const char* what) {
    Status st = co_await _reader.read(std::span<uint8_t>(hdr, tcp::kCommonHeaderSize));
    if (!st) {
        co_return std::unexpected(st.error());
    }
    auto layout = tcp::check_common_header(std::span<const uint8_t>(hdr, tcp::kCommonHeaderSize),
                                           tcp::Receiver::Host, _params);
    if (!layout) {
        co_return errorf(EPROTO, "{}: {}", what, layout.error().message);
    }
    st = co_await _reader.read(
        std::span<uint8_t>(hdr + tcp::kCommonHeaderSize, layout->header_size - tcp::kCommonHeaderSize));
    if (!st) {
        co_return std::unexpected(st.error());
    }
    auto pdu = tcp::decode_header(std::span<const uint8_t>(hdr, layout->header_size), *layout,
                                  tcp::Receiver::Host, _params);
    if (!pdu) {
        co_return errorf(EPROTO, "{}: {}", what, pdu.error().message);
    }
    co_return std::move(*pdu);
}

Task<Status> Queue::receive_one() {
    uint8_t hdr[tcp::kMaxHeaderSize];
    auto pdu = co_await read_pdu_header(hdr, "malformed PDU from the target");
    if (!pdu) {
        co_return std::unexpected(pdu.error());
    }
    if (const auto* resp = std::get_if<tcp::CapsuleResp>(&pdu->body)) {
        uint16_t cid = resp->cqe.cid;
        if (cid >= _slots.size() || !_slots[cid].busy || _slots[cid].done) {
            co_return errorf(EPROTO, "response for unknown command ID {}", cid);
        }
        Slot& s = _slots[cid];
        nvme::Status status = nvme::Status::decode(resp->cqe.status);
        if (status.ok() && s.dir == DataDir::ToHost && s.received != s.length) {
            co_return errorf(EPROTO, "command {} completed with {} of {} bytes", cid, s.received, s.length);
        }
        complete(s, resp->cqe);
        co_return ok();
    }
    if (std::holds_alternative<tcp::DataHeader>(pdu->body)) {
        co_return co_await receive_c2h(*pdu);
    }
    if (const auto* r2t = std::get_if<tcp::R2T>(&pdu->body)) {
        uint16_t cid = r2t->cccid;
        if (cid >= _slots.size() || !_slots[cid].busy || _slots[cid].done ||
            _slots[cid].dir != DataDir::ToController || r2t->r2tl == 0 ||
            uint64_t{r2t->r2to} + r2t->r2tl > _slots[cid].length) {
            co_return errorf(EPROTO, "bad R2T for command ID {}", cid);
        }
        _slots[cid].h2c_active++;
        Reactor::current()->spawn(h2c_task(shared_from_this(), cid, r2t->ttag, r2t->r2to, r2t->r2tl));
        co_return ok();
    }
    if (const auto* term = std::get_if<tcp::TermReq>(&pdu->body)) {
        co_return errorf(EPROTO, "the target terminated the connection (FES {:#x})",
                         static_cast<unsigned>(term->fes));
    }
    co_return errorf(EPROTO, "unexpected {} PDU from the target", tcp::to_string(pdu->layout.ch.type));
}

Task<Status> Queue::receive_c2h(const tcp::Pdu& pdu) {
    const auto& h = std::get<tcp::DataHeader>(pdu.body);
    uint16_t cid = h.cccid;
    if (cid >= _slots.size() || !_slots[cid].busy || _slots[cid].done || _slots[cid].dir != DataDir::ToHost ||
        uint64_t{h.datao} + h.datal > _slots[cid].length || h.datal != pdu.layout.data_size) {
        co_return errorf(EPROTO, "bad C2HData for command ID {}", cid);
    }
    Slot& s = _slots[cid];
    uint32_t pad = pdu.layout.data_offset - pdu.layout.header_size;
    uint8_t scratch[256];
    while (pad > 0) {
        uint32_t n = std::min<uint32_t>(pad, sizeof scratch);
        Status st = co_await _reader.read(std::span<uint8_t>(scratch, n));
        if (!st) {
            co_return st;
        }
        pad -= n;
    }
    _rx_cid = cid;
    std::vector<iovec>& part = _rx_part;
    slice_iov(s.iov, h.datao, h.datal, part);
    for (const iovec& v : part) {
        Status st = co_await _reader.read(std::span<uint8_t>(static_cast<uint8_t*>(v.iov_base), v.iov_len));
        if (!st) {
            co_return st;
        }
    }
    if (pdu.layout.data_digest_size > 0) {
        uint8_t digest[tcp::kDigestSize];
        Status st = co_await _reader.read(std::span<uint8_t>(digest, sizeof digest));
        if (!st) {
            co_return st;
        }
        if (!tcp::data_digest_ok(part, std::span<const uint8_t, tcp::kDigestSize>(digest, sizeof digest))) {
            co_return errorf(EPROTO, "data digest mismatch in C2HData for command ID {}", cid);
        }
    }
    _rx_cid = -1;
    s.received += h.datal;
    if (h.success) {
        if (s.received != s.length) {
            co_return errorf(EPROTO, "command {} succeeded with {} of {} bytes", cid, s.received, s.length);
        }
        nvme::Cqe cqe{};
        cqe.cid = cid;
        cqe.sqid = _options.qid;
        complete(s, cqe);
    }
    co_return ok();
}

Task<void> Queue::h2c_task(std::shared_ptr<Queue> self, uint16_t cid, uint16_t ttag, uint32_t offset,
                           uint32_t length) {
    co_await self->send_h2c(cid, ttag, offset, length);
    self->_slots[cid].h2c_active--;
    self->_slot_waiters.wake_all();
}

Task<void> Queue::send_h2c(uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t length) {
    Slot& s = _slots[cid];
    uint32_t done = 0;
    std::vector<iovec> part;
    while (done < length) {
        if (_broken || s.done) {
            co_return;
        }
        uint32_t n = std::min(length - done, _max_h2c);
        tcp::DataHeader h;
        h.cccid = cid;
        h.ttag = ttag;
        h.datao = offset + done;
        h.datal = n;
        h.last = done + n == length;
        uint8_t hdr[tcp::kMaxHeaderSize];
        std::size_t hlen = tcp::encode_data(hdr, tcp::PduType::H2CData, _params, h);
        slice_iov(s.iov, h.datao, n, part);
        Status st = co_await send_pdu(std::span<const uint8_t>(hdr, hlen), part);
        if (!st) {
            fail(st.error());
            co_return;
        }
        done += n;
    }
}

}  // namespace ms::nvmf_host
