// The raw NVMe/TCP test host (see raw_host.h).
#include "target/nvmf/raw_host.h"

#include <cstring>

namespace ms::nvmf::test {

using namespace ms::nvme;
using namespace ms::nvme::tcp;

Sqe make_sqe(uint8_t opcode, uint32_t nsid) {
    Sqe s{};
    s.opcode = opcode;
    s.flags = kSglFlagsPsdtSgl;
    s.nsid = nsid;
    return s;
}

Task<Result<std::unique_ptr<RawHost>>> RawHost::connect_raw(uint16_t port) {
    auto s = co_await Socket::connect_tcp("127.0.0.1", port);
    if (!s) {
        co_return std::unexpected(s.error());
    }
    auto h = std::make_unique<RawHost>();
    h->_sock = std::move(*s);
    co_return h;
}

Task<Result<std::unique_ptr<RawHost>>> RawHost::connect(uint16_t port, bool hdgst, bool ddgst) {
    auto h = co_await connect_raw(port);
    if (!h) {
        co_return h;
    }
    RawHost& host = **h;
    ICReq req;
    req.hdgst = hdgst;
    req.ddgst = ddgst;
    std::vector<uint8_t> out(kMaxHeaderSize);
    out.resize(encode_icreq(std::span<uint8_t>(out), req));
    auto st = co_await host.send_raw(std::move(out));
    if (!st) {
        co_return std::unexpected(st.error());
    }
    auto p = co_await host.recv_pdu();
    if (!p) {
        co_return std::unexpected(p.error());
    }
    const auto* resp = std::get_if<ICResp>(&p->pdu.body);
    if (resp == nullptr) {
        co_return errorf(EPROTO, "expected ICResp");
    }
    host._params.established = true;
    host._params.hdgst = resp->hdgst;
    host._params.ddgst = resp->ddgst;
    host._params.cpda = resp->cpda;
    host._maxh2cdata = resp->maxh2cdata;
    co_return h;
}

Task<ms::Status> RawHost::send_raw(std::vector<uint8_t> bytes) {
    co_return co_await _sock.send_all(std::span<const uint8_t>(bytes));
}

Task<ms::Status> RawHost::recv_exact(std::span<uint8_t> buf) {
    co_return co_await _sock.recv_exact(buf);
}

Task<Result<RxPdu>> RawHost::recv_pdu() {
    RxPdu r;
    r.header.resize(kCommonHeaderSize);
    auto st = co_await recv_exact(std::span<uint8_t>(r.header));
    if (!st) {
        co_return std::unexpected(st.error());
    }
    auto lay = check_common_header(std::span<const uint8_t>(r.header), Receiver::Host, _params);
    if (!lay) {
        co_return errorf(EPROTO, "bad common header from target: {}", lay.error().message);
    }
    r.header.resize(lay->header_size);
    st = co_await recv_exact(std::span<uint8_t>(r.header).subspan(kCommonHeaderSize));
    if (!st) {
        co_return std::unexpected(st.error());
    }
    auto pdu = decode_header(std::span<const uint8_t>(r.header), *lay, Receiver::Host, _params);
    if (!pdu) {
        co_return errorf(EPROTO, "bad header from target: {}", pdu.error().message);
    }
    r.pdu = *pdu;
    // Bytes after the header: padding, data, digest (a TermReq's echoed bytes count as data
    // here when the codec reports them so; otherwise read the rest of plen).
    std::size_t rest = lay->ch.plen - lay->header_size;
    std::vector<uint8_t> tail(rest);
    if (rest > 0) {
        st = co_await recv_exact(std::span<uint8_t>(tail));
        if (!st) {
            co_return std::unexpected(st.error());
        }
    }
    if (lay->has_data()) {
        std::size_t off = lay->data_offset - lay->header_size;
        r.data.assign(tail.begin() + off, tail.begin() + off + lay->data_size);
        if (lay->data_digest_size > 0) {
            iovec d{r.data.data(), r.data.size()};
            r.data_digest_ok =
                data_digest_ok(std::span<const iovec>(&d, 1),
                               std::span<const uint8_t, 4>(tail.data() + off + lay->data_size, 4));
        }
    }
    co_return r;
}

Task<bool> RawHost::wait_closed() {
    std::vector<uint8_t> buf(4096);
    for (;;) {
        auto n = co_await _sock.recv_some(std::span<uint8_t>(buf));
        if (!n || *n == 0) {
            co_return true;
        }
    }
}

Task<Result<Completion>> RawHost::command(Sqe sqe, std::vector<uint8_t> incapsule, std::vector<uint8_t> h2c,
                                          std::vector<uint8_t>* in) {
    if (sqe.cid == 0) {
        sqe.cid = next_cid();
    }
    if (!incapsule.empty()) {
        sqe.dptr.type = kSglDataBlockOffset;
        sqe.dptr.address = 0;
        sqe.dptr.length = static_cast<uint32_t>(incapsule.size());
    } else if (sqe.dptr.type == 0 && sqe.dptr.length == 0) {
        sqe.dptr.type = kSglTransportDataBlock;
        sqe.dptr.length = static_cast<uint32_t>(h2c.size());
    }
    auto len = static_cast<uint32_t>(incapsule.size());
    std::vector<uint8_t> out(kMaxHeaderSize);
    std::size_t hl = encode_capsule_cmd(std::span<uint8_t>(out), _params, sqe, len);
    out.resize(hl);
    if (len > 0) {
        out.resize(hl + header_padding(_params, Receiver::Target, static_cast<uint32_t>(hl)), 0);
        out.insert(out.end(), incapsule.begin(), incapsule.end());
        if (_params.ddgst) {
            iovec d{incapsule.data(), incapsule.size()};
            uint32_t dg = data_digest(std::span<const iovec>(&d, 1));
            uint8_t b[4];
            std::memcpy(b, &dg, 4);
            out.insert(out.end(), b, b + 4);
        }
    }
    auto st = co_await send_raw(std::move(out));
    if (!st) {
        co_return std::unexpected(st.error());
    }
    for (;;) {
        auto p = co_await recv_pdu();
        if (!p) {
            co_return std::unexpected(p.error());
        }
        if (const auto* resp = std::get_if<CapsuleResp>(&p->pdu.body)) {
            Completion c{resp->cqe};
            if (resp->cqe.cid != sqe.cid) {
                stray.push_back(c);
                continue;
            }
            co_return c;
        }
        if (const auto* d = std::get_if<DataHeader>(&p->pdu.body)) {
            if (!p->data_digest_ok) {
                co_return errorf(EBADMSG, "C2HData digest mismatch");
            }
            if (in != nullptr) {
                if (in->size() < d->datao + p->data.size()) {
                    in->resize(d->datao + p->data.size());
                }
                std::memcpy(in->data() + d->datao, p->data.data(), p->data.size());
            }
            if (d->success) {
                Completion c{};
                c.cqe.cid = d->cccid;
                co_return c;
            }
            continue;
        }
        if (const auto* r2t = std::get_if<R2T>(&p->pdu.body)) {
            uint32_t done = 0;
            while (done < r2t->r2tl) {
                uint32_t chunk = std::min(r2t->r2tl - done, _maxh2cdata);
                DataHeader h;
                h.cccid = r2t->cccid;
                h.ttag = r2t->ttag;
                h.datao = r2t->r2to + done;
                h.datal = chunk;
                h.last = done + chunk == r2t->r2tl;
                std::vector<uint8_t> pdu(kMaxHeaderSize);
                std::size_t dhl = encode_data(std::span<uint8_t>(pdu), PduType::H2CData, _params, h);
                pdu.resize(dhl + header_padding(_params, Receiver::Target, static_cast<uint32_t>(dhl)), 0);
                const uint8_t* src = h2c.data() + h.datao;
                pdu.insert(pdu.end(), src, src + chunk);
                if (_params.ddgst) {
                    iovec dv{const_cast<uint8_t*>(src), chunk};
                    uint32_t dg = data_digest(std::span<const iovec>(&dv, 1));
                    uint8_t b[4];
                    std::memcpy(b, &dg, 4);
                    pdu.insert(pdu.end(), b, b + 4);
                }
                st = co_await send_raw(std::move(pdu));
                if (!st) {
                    co_return std::unexpected(st.error());
                }
                done += chunk;
            }
            continue;
        }
        if (const auto* t = std::get_if<TermReq>(&p->pdu.body)) {
            co_return errorf(ECONNABORTED, "target sent a termination request (fes {})",
                             static_cast<int>(t->fes));
        }
        co_return errorf(EPROTO, "unexpected PDU from target");
    }
}

Task<Result<Completion>> RawHost::connect_queue(uint16_t qid, std::string subnqn, uint16_t cntlid,
                                                uint32_t kato_ms, uint16_t sqsize, std::string hostnqn) {
    Sqe s = make_sqe(static_cast<uint8_t>(AdminOpc::FabricsCommand));
    s.nsid = static_cast<uint8_t>(FabricsType::Connect);
    s.cdw10 = uint32_t{qid} << 16;
    s.cdw11 = sqsize;
    s.cdw12 = kato_ms;
    ConnectData d{};
    d.cntlid = cntlid;
    std::memcpy(d.subnqn, subnqn.data(), std::min<std::size_t>(subnqn.size(), 255));
    std::memcpy(d.hostnqn, hostnqn.data(), std::min<std::size_t>(hostnqn.size(), 255));
    std::vector<uint8_t> data(sizeof d);
    std::memcpy(data.data(), &d, sizeof d);
    co_return co_await command(s, std::move(data));
}

Task<Result<Completion>> RawHost::property_get(uint32_t offset, bool eight) {
    Sqe s = make_sqe(static_cast<uint8_t>(AdminOpc::FabricsCommand));
    s.nsid = static_cast<uint8_t>(FabricsType::PropertyGet);
    s.cdw10 = eight ? 1 : 0;
    s.cdw11 = offset;
    co_return co_await command(s);
}

Task<Result<Completion>> RawHost::property_set(uint32_t offset, uint32_t value) {
    Sqe s = make_sqe(static_cast<uint8_t>(AdminOpc::FabricsCommand));
    s.nsid = static_cast<uint8_t>(FabricsType::PropertySet);
    s.cdw10 = 0;
    s.cdw11 = offset;
    s.cdw12 = value;
    co_return co_await command(s);
}

Task<Result<Completion>> RawHost::identify(uint8_t cns, uint32_t nsid, std::vector<uint8_t>* out) {
    Sqe s = make_sqe(static_cast<uint8_t>(AdminOpc::Identify), nsid);
    s.cdw10 = cns;
    s.dptr.type = kSglTransportDataBlock;
    s.dptr.length = kIdentifySize;
    co_return co_await command(s, {}, {}, out);
}

Task<Result<Completion>> RawHost::get_log_page(uint8_t lid, uint32_t len, uint64_t offset,
                                               std::vector<uint8_t>* out, uint32_t lsp_bits) {
    Sqe s = make_sqe(static_cast<uint8_t>(AdminOpc::GetLogPage), 0xFFFFFFFF);
    uint32_t numd = len / 4 - 1;
    s.cdw10 = lid | lsp_bits | ((numd & 0xffff) << 16);
    s.cdw11 = numd >> 16;
    s.cdw12 = static_cast<uint32_t>(offset);
    s.cdw13 = static_cast<uint32_t>(offset >> 32);
    s.dptr.type = kSglTransportDataBlock;
    s.dptr.length = len;
    co_return co_await command(s, {}, {}, out);
}

Task<Result<Completion>> RawHost::write(uint32_t nsid, uint64_t slba, std::vector<uint8_t> data,
                                        bool incapsule) {
    Sqe s = make_sqe(static_cast<uint8_t>(NvmOpc::Write), nsid);
    s.cdw10 = static_cast<uint32_t>(slba);
    s.cdw11 = static_cast<uint32_t>(slba >> 32);
    s.cdw12 = static_cast<uint32_t>(data.size() / 512 - 1);  // callers use 512-byte blocks
    if (incapsule) {
        co_return co_await command(s, std::move(data));
    }
    co_return co_await command(s, {}, std::move(data));
}

Task<Result<Completion>> RawHost::read(uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t block_size,
                                       std::vector<uint8_t>* out) {
    Sqe s = make_sqe(static_cast<uint8_t>(NvmOpc::Read), nsid);
    s.cdw10 = static_cast<uint32_t>(slba);
    s.cdw11 = static_cast<uint32_t>(slba >> 32);
    s.cdw12 = nlb - 1;
    s.dptr.type = kSglTransportDataBlock;
    s.dptr.length = nlb * block_size;
    co_return co_await command(s, {}, {}, out);
}

}  // namespace ms::nvmf::test
