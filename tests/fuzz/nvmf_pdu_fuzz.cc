// libFuzzer target for the NVMe/TCP PDU codec (src/nvme/pdu.cc). The first input byte picks a
// receiver (target or host) and its connection state (digests, established or not, PDA,
// data limit); the rest is read as a stream of PDUs, the way our target and host read a socket:
// common header, header, data. Nothing may crash; a refused PDU must carry a sane FES/FEI and a
// termination request echoing it must decode at the peer; an accepted PDU must have a
// consistent layout and survive encode -> check -> decode unchanged.
//
// With NVMF_PDU_FUZZ_SEEDS=<dir> in the environment the binary writes the seed corpus (valid
// streams made by the encoders, see tests/fuzz/corpus/nvmf_pdu/) into <dir> and exits.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nvme/pdu.h"

namespace {

using namespace ms::nvme;
using namespace ms::nvme::tcp;

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "nvmf_pdu_fuzz: %s\n  %s\n", what, detail.c_str());
    std::abort();
}

void check(bool ok, const char* what, const std::string& detail = {}) {
    if (!ok) {
        fail(what, detail);
    }
}

// ---- the selector byte --------------------------------------------------------------------

struct Setup {
    Receiver who;
    ConnectionParams params;
};

constexpr uint8_t kPdas[4] = {0, 1, 3, 7};
constexpr uint32_t kLimits[4] = {0, 4096, 8192, 65536};

Setup setup_of(uint8_t s) {
    Setup r;
    r.who = (s & 0x01) ? Receiver::Host : Receiver::Target;
    r.params.hdgst = (s & 0x02) != 0;
    r.params.ddgst = (s & 0x04) != 0;
    r.params.established = (s & 0x08) != 0;
    r.params.hpda = kPdas[(s >> 4) & 3];
    r.params.cpda = kPdas[(s >> 4) & 3];
    r.params.max_data = kLimits[(s >> 6) & 3];
    return r;
}

uint8_t selector(Receiver who, bool hdgst, bool ddgst, bool established, int pda_index, int limit_index) {
    return static_cast<uint8_t>((who == Receiver::Host ? 1 : 0) | (hdgst ? 2 : 0) | (ddgst ? 4 : 0) |
                                (established ? 8 : 0) | (pda_index << 4) | (limit_index << 6));
}

// ---- invariants -----------------------------------------------------------------------------

void check_error(const PduError& e, std::span<const uint8_t> header, Receiver who) {
    auto fes = static_cast<uint16_t>(e.fes);
    check(fes >= 1 && fes <= 6, "FES out of range", std::to_string(fes));
    check(!e.message.empty(), "error without a message");
    if (e.fes == Fes::InvalidHeaderField) {
        check(e.fei < kMaxHeaderSize, "FEI beyond any header", std::to_string(e.fei));
    }
    // The termination request reporting it decodes at the peer with the same FES/FEI and echo.
    std::array<uint8_t, kTermReqHlen + kTermReqMaxData> out{};
    PduType type = who == Receiver::Target ? PduType::C2HTermReq : PduType::H2CTermReq;
    Receiver peer = who == Receiver::Target ? Receiver::Host : Receiver::Target;
    std::size_t n = encode_term_req(out, type, e.fes, e.fei, header);
    std::span<const uint8_t> pdu(out.data(), n);
    for (bool established : {false, true}) {
        ConnectionParams p;
        p.established = established;
        auto l = check_common_header(pdu, peer, p);
        check(l.has_value(), "termination request refused", l ? "" : l.error().message);
        auto d = decode_header(pdu, *l, peer, p);
        check(d.has_value(), "termination request header refused", d ? "" : d.error().message);
        const auto& t = std::get<TermReq>(d->body);
        check(t.fes == e.fes && t.fei == e.fei, "termination request FES/FEI changed");
        std::size_t echoed = std::min(header.size(), kTermReqMaxData);
        check(t.offending.size() == echoed && std::memcmp(t.offending.data(), header.data(), echoed) == 0,
              "termination request echo changed");
    }
}

void check_layout(const PduLayout& l, const ConnectionParams& p) {
    const CommonHeader& ch = l.ch;
    check(l.header_size >= ch.hlen && l.header_size <= kMaxHeaderSize, "header size",
          std::to_string(l.header_size));
    check(ch.plen >= l.header_size, "PLEN below the header");
    check(l.data_digest_size == 0 || l.data_digest_size == kDigestSize, "data digest size");
    if (l.has_data()) {
        check(l.data_offset >= l.header_size, "data inside the header");
        check(uint64_t{l.data_offset} + l.data_size + l.data_digest_size == ch.plen,
              "data does not end at PLEN");
        bool term = ch.type == PduType::H2CTermReq || ch.type == PduType::C2HTermReq;
        if (!term && p.max_data != 0) {
            check(l.data_size <= p.max_data, "data above the limit accepted");
        }
    } else {
        check(l.data_digest_size == 0, "digest without data");
    }
}

bool same_data(const DataHeader& a, const DataHeader& b) {
    return a.cccid == b.cccid && a.ttag == b.ttag && a.datao == b.datao && a.datal == b.datal &&
           a.last == b.last && a.success == b.success;
}

// Re-encodes an accepted PDU header and checks that it decodes to the same thing.
void check_round_trip(const Pdu& pdu, Receiver who, const ConnectionParams& p) {
    std::array<uint8_t, kTermReqHlen + kTermReqMaxData> out{};
    std::size_t n = 0;
    uint32_t data = pdu.layout.data_size;
    PduType type = pdu.layout.ch.type;
    std::visit(
        [&](const auto& b) {
            using T = std::decay_t<decltype(b)>;
            if constexpr (std::is_same_v<T, ICReq>) {
                n = encode_icreq(out, b);
            } else if constexpr (std::is_same_v<T, ICResp>) {
                n = encode_icresp(out, b);
            } else if constexpr (std::is_same_v<T, TermReq>) {
                n = encode_term_req(out, type, b.fes, b.fei, b.offending);
            } else if constexpr (std::is_same_v<T, CapsuleCmd>) {
                n = encode_capsule_cmd(out, p, b.sqe, data);
            } else if constexpr (std::is_same_v<T, CapsuleResp>) {
                n = encode_capsule_resp(out, p, b.cqe);
            } else if constexpr (std::is_same_v<T, DataHeader>) {
                n = encode_data(out, type, p, b);
            } else {
                n = encode_r2t(out, p, b);
            }
        },
        pdu.body);
    std::span<const uint8_t> bytes(out.data(), n);
    auto l = check_common_header(bytes, who, p);
    check(l.has_value(), "re-encoded PDU refused", l ? "" : l.error().message);
    check(l->ch.type == type && l->ch.flags == pdu.layout.ch.flags && l->data_size == data &&
              l->header_size == pdu.layout.header_size && l->data_digest_size == pdu.layout.data_digest_size,
          "re-encoded layout differs");
    auto d = decode_header(bytes, *l, who, p);
    check(d.has_value(), "re-encoded header refused", d ? "" : d.error().message);
    check(d->body.index() == pdu.body.index(), "re-encoded body type differs");
    bool same = std::visit(
        [&](const auto& a) {
            using T = std::decay_t<decltype(a)>;
            const T& b = std::get<T>(d->body);
            if constexpr (std::is_same_v<T, ICReq>) {
                return a.pfv == b.pfv && a.hpda == b.hpda && a.hdgst == b.hdgst && a.ddgst == b.ddgst &&
                       a.maxr2t == b.maxr2t;
            } else if constexpr (std::is_same_v<T, ICResp>) {
                return a.pfv == b.pfv && a.cpda == b.cpda && a.hdgst == b.hdgst && a.ddgst == b.ddgst &&
                       a.maxh2cdata == b.maxh2cdata;
            } else if constexpr (std::is_same_v<T, TermReq>) {
                return a.fes == b.fes && a.fei == b.fei && a.offending.size() == b.offending.size() &&
                       std::memcmp(a.offending.data(), b.offending.data(), a.offending.size()) == 0;
            } else if constexpr (std::is_same_v<T, CapsuleCmd>) {
                return std::memcmp(&a.sqe, &b.sqe, sizeof(Sqe)) == 0;
            } else if constexpr (std::is_same_v<T, CapsuleResp>) {
                return std::memcmp(&a.cqe, &b.cqe, sizeof(Cqe)) == 0;
            } else if constexpr (std::is_same_v<T, DataHeader>) {
                return same_data(a, b);
            } else {
                return a.cccid == b.cccid && a.ttag == b.ttag && a.r2to == b.r2to && a.r2tl == b.r2tl;
            }
        },
        pdu.body);
    check(same, "re-encoded body differs");
}

// Applies what an accepted ICReq/ICResp negotiates, as the target and host do.
void adopt(const Pdu& pdu, ConnectionParams& p) {
    if (const auto* r = std::get_if<ICReq>(&pdu.body)) {
        p.established = true;
        p.hdgst = r->hdgst;
        p.ddgst = r->ddgst;
        p.hpda = r->hpda;
    } else if (const auto* r = std::get_if<ICResp>(&pdu.body)) {
        p.established = true;
        p.hdgst = r->hdgst;
        p.ddgst = r->ddgst;
        p.cpda = r->cpda;
    }
}

// ---- seeds ----------------------------------------------------------------------------------

struct Stream {
    std::vector<uint8_t> bytes;
    ConnectionParams p;
    Receiver who;

    void header(std::span<const uint8_t> h, std::size_t n, std::span<const uint8_t> data, Receiver peer) {
        bytes.insert(bytes.end(), h.begin(), h.begin() + n);
        if (data.empty()) {
            return;
        }
        bytes.resize(bytes.size() + header_padding(p, peer, static_cast<uint32_t>(n)), 0);
        bytes.insert(bytes.end(), data.begin(), data.end());
        if (p.ddgst) {
            iovec v{const_cast<uint8_t*>(data.data()), data.size()};
            uint32_t d = data_digest(std::span<const iovec>(&v, 1));
            uint8_t b[4];
            std::memcpy(b, &d, 4);
            bytes.insert(bytes.end(), b, b + 4);
        }
    }
};

void write_file(const std::string& dir, int index, const std::vector<uint8_t>& bytes) {
    char name[32];
    std::snprintf(name, sizeof(name), "/seed_%02d", index);
    std::string path = dir + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) {
        fail("cannot write", path);
    }
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
}

std::vector<uint8_t> target_stream(bool hdgst, bool ddgst, int pda_index, int limit_index, bool with_ic) {
    Stream s;
    s.who = Receiver::Target;
    s.bytes.push_back(selector(Receiver::Target, hdgst, ddgst, !with_ic, pda_index, limit_index));
    s.p = setup_of(s.bytes[0]).params;
    std::array<uint8_t, kTermReqHlen + kTermReqMaxData> h{};
    if (with_ic) {
        ICReq r;
        r.hdgst = hdgst;
        r.ddgst = ddgst;
        r.hpda = kPdas[pda_index];
        r.maxr2t = 3;
        s.header(h, encode_icreq(h, r), {}, Receiver::Target);
        s.p.established = true;
        s.p.hdgst = hdgst;
        s.p.ddgst = ddgst;
        s.p.hpda = r.hpda;
    }
    std::vector<uint8_t> data(1024);
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<uint8_t>(i * 13);
    }
    Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(NvmOpc::Write);
    sqe.flags = kSglFlagsPsdtSgl;
    sqe.cid = 1;
    sqe.nsid = 1;
    sqe.dptr.length = 1024;
    sqe.dptr.type = kSglDataBlockOffset;
    s.header(h, encode_capsule_cmd(h, s.p, sqe, 1024), data, Receiver::Target);
    sqe.cid = 2;
    sqe.opcode = static_cast<uint8_t>(NvmOpc::Read);
    sqe.dptr.type = kSglTransportDataBlock;
    s.header(h, encode_capsule_cmd(h, s.p, sqe, 0), {}, Receiver::Target);
    DataHeader d{2, 1, 0, 512, false, false};
    s.header(h, encode_data(h, PduType::H2CData, s.p, d), std::span<const uint8_t>(data.data(), 512),
             Receiver::Target);
    d = DataHeader{2, 1, 512, 512, true, false};
    s.header(h, encode_data(h, PduType::H2CData, s.p, d), std::span<const uint8_t>(data.data() + 512, 512),
             Receiver::Target);
    uint8_t offending[8] = {0x05, 0x00, 0x18, 0x00, 0x18, 0x00, 0x00, 0x00};
    s.header(h, encode_term_req(h, PduType::H2CTermReq, Fes::InvalidHeaderField, 2, offending), {},
             Receiver::Target);
    return s.bytes;
}

std::vector<uint8_t> host_stream(bool hdgst, bool ddgst, int pda_index, int limit_index, bool with_ic) {
    Stream s;
    s.who = Receiver::Host;
    s.bytes.push_back(selector(Receiver::Host, hdgst, ddgst, !with_ic, pda_index, limit_index));
    s.p = setup_of(s.bytes[0]).params;
    std::array<uint8_t, kTermReqHlen + kTermReqMaxData> h{};
    if (with_ic) {
        ICResp r;
        r.hdgst = hdgst;
        r.ddgst = ddgst;
        r.cpda = kPdas[pda_index];
        r.maxh2cdata = 131072;
        s.header(h, encode_icresp(h, r), {}, Receiver::Host);
        s.p.established = true;
        s.p.hdgst = hdgst;
        s.p.ddgst = ddgst;
        s.p.cpda = r.cpda;
    }
    std::vector<uint8_t> data(2048);
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<uint8_t>(i * 7 + 1);
    }
    s.header(h, encode_r2t(h, s.p, R2T{1, 1, 0, 4096}), {}, Receiver::Host);
    DataHeader d{2, 0, 0, 2048, false, false};
    s.header(h, encode_data(h, PduType::C2HData, s.p, d), data, Receiver::Host);
    d = DataHeader{2, 0, 2048, 1000, true, true};
    s.header(h, encode_data(h, PduType::C2HData, s.p, d), std::span<const uint8_t>(data.data(), 1000),
             Receiver::Host);
    Cqe c{};
    c.cid = 1;
    c.sqhd = 4;
    s.header(h, encode_capsule_resp(h, s.p, c), {}, Receiver::Host);
    s.header(h, encode_term_req(h, PduType::C2HTermReq, Fes::DataTransferLimitExceeded, 0, {}), {},
             Receiver::Host);
    return s.bytes;
}

void write_seeds(const std::string& dir) {
    int i = 0;
    for (bool with_ic : {true, false}) {
        for (int digests = 0; digests < 4; ++digests) {
            bool hd = (digests & 1) != 0;
            bool dd = (digests & 2) != 0;
            int pda = (i / 2) % 4;
            write_file(dir, i++, target_stream(hd, dd, pda, with_ic ? 0 : 3, with_ic));
            write_file(dir, i++, host_stream(hd, dd, pda, with_ic ? 0 : 3, with_ic));
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (const char* dir = std::getenv("NVMF_PDU_FUZZ_SEEDS")) {
        write_seeds(dir);
        std::exit(0);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    Setup s = setup_of(data[0]);
    std::span<const uint8_t> stream(data + 1, size - 1);
    std::size_t pos = 0;
    for (int pdus = 0; pdus < 64 && stream.size() - pos >= kCommonHeaderSize; ++pdus) {
        std::span<const uint8_t> rest = stream.subspan(pos);
        auto layout = check_common_header(rest.first(kCommonHeaderSize), s.who, s.params);
        if (!layout) {
            check_error(layout.error(), rest.first(std::min(rest.size(), kMaxHeaderSize)), s.who);
            return 0;  // the connection is terminated
        }
        check_layout(*layout, s.params);
        if (rest.size() < layout->header_size) {
            return 0;  // the peer went away mid-header
        }
        // A receiver passes what it has read: the header, or the whole PDU if it is short.
        std::size_t avail = std::min<std::size_t>(rest.size(), layout->ch.plen);
        auto pdu = decode_header(rest.first(avail), *layout, s.who, s.params);
        if (!pdu) {
            check_error(pdu.error(), rest.first(layout->header_size), s.who);
            return 0;
        }
        check(pdu->layout.ch.plen == layout->ch.plen, "decode changed the layout");
        if (avail == layout->ch.plen) {
            check_round_trip(*pdu, s.who, s.params);
        }
        if (layout->data_digest_size != 0 && avail == layout->ch.plen) {
            std::span<const uint8_t> body = rest.subspan(layout->data_offset, layout->data_size);
            iovec v{const_cast<uint8_t*>(body.data()), body.size()};
            auto digest = rest.subspan(layout->data_offset + layout->data_size).first<kDigestSize>();
            bool ok = data_digest_ok(std::span<const iovec>(&v, 1), digest);
            uint32_t want;
            std::memcpy(&want, digest.data(), 4);
            check(ok == (data_digest(std::span<const iovec>(&v, 1)) == want),
                  "data digest check inconsistent");
        }
        adopt(*pdu, s.params);
        if (layout->ch.type == PduType::H2CTermReq || layout->ch.type == PduType::C2HTermReq) {
            return 0;  // the peer closes after a termination request
        }
        if (avail < layout->ch.plen) {
            return 0;
        }
        pos += layout->ch.plen;
    }
    return 0;
}
