// Tests of the NVMe/TCP PDU codec: every PDU type survives encode -> check -> decode with
// digests on and off and with data padding, the header digest is the CRC32C the specification
// asks for, and malformed PDUs are refused with the FES/FEI a termination request must carry.
#include "nvme/pdu.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/crc32c.h"

namespace ms::nvme::tcp {
namespace {

ConnectionParams params(bool established, bool hdgst = false, bool ddgst = false, uint8_t hpda = 0,
                        uint8_t cpda = 0, uint32_t max_data = 0) {
    ConnectionParams p;
    p.established = established;
    p.hdgst = hdgst;
    p.ddgst = ddgst;
    p.hpda = hpda;
    p.cpda = cpda;
    p.max_data = max_data;
    return p;
}

std::vector<uint8_t> pattern(std::size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) {
        v[i] = static_cast<uint8_t>(seed + i * 7);
    }
    return v;
}

// A whole PDU on the wire: the encoded header, the padding, the data and its digest.
std::vector<uint8_t> wire(std::span<const uint8_t> header, std::size_t header_size, const ConnectionParams& p,
                          Receiver peer, std::span<const uint8_t> data) {
    std::vector<uint8_t> out(header.begin(), header.begin() + header_size);
    if (!data.empty()) {
        out.resize(out.size() + header_padding(p, peer, static_cast<uint32_t>(header_size)), 0);
        out.insert(out.end(), data.begin(), data.end());
        if (p.ddgst) {
            iovec v{const_cast<uint8_t*>(data.data()), data.size()};
            uint32_t d = data_digest(std::span<const iovec>(&v, 1));
            uint8_t b[4];
            std::memcpy(b, &d, 4);
            out.insert(out.end(), b, b + 4);
        }
    }
    return out;
}

// What a receiver does: check the common header, decode the header, check the data digest.
PduResult<Pdu> receive(std::span<const uint8_t> bytes, Receiver who, const ConnectionParams& p) {
    auto layout = check_common_header(bytes, who, p);
    if (!layout) {
        return std::unexpected(layout.error());
    }
    return decode_header(bytes, *layout, who, p);
}

std::span<const uint8_t> data_of(std::span<const uint8_t> bytes, const PduLayout& l) {
    return bytes.subspan(l.data_offset, l.data_size);
}

bool digest_ok(std::span<const uint8_t> bytes, const PduLayout& l) {
    auto data = data_of(bytes, l);
    iovec v{const_cast<uint8_t*>(data.data()), data.size()};
    return data_digest_ok(std::span<const iovec>(&v, 1), std::span<const uint8_t, kDigestSize>(
                                                             bytes.data() + l.data_offset + l.data_size, 4));
}

// Recomputes the header digest after a test changed a header field.
void fix_header_digest(std::vector<uint8_t>& b) {
    uint8_t hlen = b[2];
    uint32_t d = ms::crc32c(std::span<const uint8_t>(b.data(), hlen));
    std::memcpy(b.data() + hlen, &d, 4);
}

void set_plen(std::vector<uint8_t>& b, uint32_t plen) {
    std::memcpy(b.data() + 4, &plen, 4);
}

uint32_t get_plen(const std::vector<uint8_t>& b) {
    uint32_t v;
    std::memcpy(&v, b.data() + 4, 4);
    return v;
}

template <typename T>
void put(std::vector<uint8_t>& b, std::size_t at, T v) {
    std::memcpy(b.data() + at, &v, sizeof(T));
}

void expect_error(const PduResult<Pdu>& r, Fes fes, uint32_t fei) {
    ASSERT_FALSE(r.has_value()) << "accepted a malformed PDU";
    EXPECT_EQ(r.error().fes, fes) << r.error().message;
    EXPECT_EQ(r.error().fei, fei) << r.error().message;
    EXPECT_FALSE(r.error().message.empty());
}

Sqe sample_sqe() {
    Sqe s{};
    s.opcode = static_cast<uint8_t>(NvmOpc::Write);
    s.flags = kSglFlagsPsdtSgl;
    s.cid = 0x4321;
    s.nsid = 1;
    s.dptr.address = 0;
    s.dptr.length = 4096;
    s.dptr.type = kSglDataBlockOffset;
    s.cdw10 = 0x10;
    s.cdw12 = 7;
    return s;
}

std::vector<uint8_t> capsule_cmd(const ConnectionParams& p, std::span<const uint8_t> data) {
    std::array<uint8_t, kMaxHeaderSize> h{};
    std::size_t n = encode_capsule_cmd(h, p, sample_sqe(), static_cast<uint32_t>(data.size()));
    return wire(h, n, p, Receiver::Target, data);
}

std::vector<uint8_t> capsule_resp(const ConnectionParams& p) {
    std::array<uint8_t, kMaxHeaderSize> h{};
    Cqe c{};
    c.cid = 9;
    std::size_t n = encode_capsule_resp(h, p, c);
    return wire(h, n, p, Receiver::Host, {});
}

std::vector<uint8_t> data_pdu(PduType type, const ConnectionParams& p, std::span<const uint8_t> data,
                              bool last = true, bool success = false) {
    std::array<uint8_t, kMaxHeaderSize> h{};
    DataHeader d;
    d.cccid = 3;
    d.ttag = 5;
    d.datao = 8192;
    d.datal = static_cast<uint32_t>(data.size());
    d.last = last;
    d.success = success;
    std::size_t n = encode_data(h, type, p, d);
    return wire(h, n, p, type == PduType::H2CData ? Receiver::Target : Receiver::Host, data);
}

std::vector<uint8_t> icreq(ICReq r = ICReq{}) {
    std::array<uint8_t, kMaxHeaderSize> h{};
    std::size_t n = encode_icreq(h, r);
    return std::vector<uint8_t>(h.begin(), h.begin() + n);
}

std::vector<uint8_t> icresp(ICResp r) {
    std::array<uint8_t, kMaxHeaderSize> h{};
    std::size_t n = encode_icresp(h, r);
    return std::vector<uint8_t>(h.begin(), h.begin() + n);
}

// ---- round trips ----------------------------------------------------------------------------

TEST(PduCodec, ICReqRoundTrip) {
    ICReq r;
    r.hpda = 3;
    r.hdgst = true;
    r.ddgst = false;
    r.maxr2t = 15;
    auto b = icreq(r);
    ASSERT_EQ(b.size(), 128u);
    auto pdu = receive(b, Receiver::Target, params(false));
    ASSERT_TRUE(pdu) << pdu.error().message;
    EXPECT_EQ(pdu->layout.ch.type, PduType::ICReq);
    EXPECT_EQ(pdu->layout.header_size, 128u);
    EXPECT_FALSE(pdu->layout.has_data());
    const auto& got = std::get<ICReq>(pdu->body);
    EXPECT_EQ(got.pfv, 0);
    EXPECT_EQ(got.hpda, 3);
    EXPECT_TRUE(got.hdgst);
    EXPECT_FALSE(got.ddgst);
    EXPECT_EQ(got.maxr2t, 15u);
}

TEST(PduCodec, ICRespRoundTrip) {
    ICResp r;
    r.cpda = 31;
    r.hdgst = false;
    r.ddgst = true;
    r.maxh2cdata = 131072;
    auto b = icresp(r);
    auto pdu = receive(b, Receiver::Host, params(false));
    ASSERT_TRUE(pdu) << pdu.error().message;
    const auto& got = std::get<ICResp>(pdu->body);
    EXPECT_EQ(got.cpda, 31);
    EXPECT_FALSE(got.hdgst);
    EXPECT_TRUE(got.ddgst);
    EXPECT_EQ(got.maxh2cdata, 131072u);
}

TEST(PduCodec, TermReqRoundTripBothDirections) {
    auto offending = pattern(40, 1);
    for (bool established : {false, true}) {
        std::array<uint8_t, kTermReqHlen + kTermReqMaxData> h{};
        std::size_t n =
            encode_term_req(h, PduType::H2CTermReq, Fes::HeaderDigestError, 0xdeadbeef, offending);
        ASSERT_EQ(n, kTermReqHlen + offending.size());
        std::span<const uint8_t> b(h.data(), n);
        auto pdu = receive(b, Receiver::Target, params(established, true, true));
        ASSERT_TRUE(pdu) << pdu.error().message;
        const auto& t = std::get<TermReq>(pdu->body);
        EXPECT_EQ(t.fes, Fes::HeaderDigestError);
        EXPECT_EQ(t.fei, 0xdeadbeefu);
        ASSERT_EQ(t.offending.size(), offending.size());
        EXPECT_TRUE(std::equal(t.offending.begin(), t.offending.end(), offending.begin()));
        EXPECT_EQ(t.offending.data(), h.data() + kTermReqHlen);  // points into the input

        n = encode_term_req(h, PduType::C2HTermReq, Fes::UnsupportedParameter, 8, {});
        ASSERT_EQ(n, kTermReqHlen);
        pdu = receive(std::span<const uint8_t>(h.data(), n), Receiver::Host, params(established));
        ASSERT_TRUE(pdu) << pdu.error().message;
        EXPECT_EQ(std::get<TermReq>(pdu->body).fes, Fes::UnsupportedParameter);
        EXPECT_TRUE(std::get<TermReq>(pdu->body).offending.empty());
    }
}

TEST(PduCodec, TermReqTruncatesOffendingHeader) {
    auto offending = pattern(200, 9);
    std::array<uint8_t, kTermReqHlen + kTermReqMaxData> h{};
    std::size_t n = encode_term_req(h, PduType::C2HTermReq, Fes::InvalidHeaderField, 2, offending);
    ASSERT_EQ(n, kTermReqHlen + kTermReqMaxData);
    auto pdu = receive(std::span<const uint8_t>(h.data(), n), Receiver::Host, params(true));
    ASSERT_TRUE(pdu) << pdu.error().message;
    const auto& t = std::get<TermReq>(pdu->body);
    ASSERT_EQ(t.offending.size(), kTermReqMaxData);
    EXPECT_TRUE(std::equal(t.offending.begin(), t.offending.end(), offending.begin()));
}

struct DigestCase {
    bool hdgst;
    bool ddgst;
    uint8_t pda;  // used as both HPDA and CPDA
};

class PduRoundTrip : public ::testing::TestWithParam<DigestCase> {
   protected:
    ConnectionParams p() const {
        auto c = GetParam();
        return params(true, c.hdgst, c.ddgst, c.pda, c.pda);
    }
};

TEST_P(PduRoundTrip, CapsuleCmdWithoutData) {
    auto b = capsule_cmd(p(), {});
    auto pdu = receive(b, Receiver::Target, p());
    ASSERT_TRUE(pdu) << pdu.error().message;
    EXPECT_EQ(pdu->layout.ch.pdo, 0);
    EXPECT_EQ(pdu->layout.ch.plen, b.size());
    EXPECT_EQ(pdu->layout.header_size, kCapsuleCmdHlen + (GetParam().hdgst ? 4u : 0u));
    EXPECT_FALSE(pdu->layout.has_data());
    EXPECT_EQ(pdu->layout.data_digest_size, 0u);
    Sqe want = sample_sqe();
    EXPECT_EQ(std::memcmp(&std::get<CapsuleCmd>(pdu->body).sqe, &want, sizeof(Sqe)), 0);
}

TEST_P(PduRoundTrip, CapsuleCmdWithInCapsuleData) {
    auto data = pattern(1000, 3);
    auto b = capsule_cmd(p(), data);
    auto pdu = receive(b, Receiver::Target, p());
    ASSERT_TRUE(pdu) << pdu.error().message;
    const auto& l = pdu->layout;
    uint32_t align = (GetParam().pda + 1u) * 4u;
    EXPECT_EQ(l.data_offset % align, 0u);
    EXPECT_GE(l.data_offset, l.header_size);
    EXPECT_LT(l.data_offset - l.header_size, align);
    EXPECT_EQ(l.data_size, data.size());
    EXPECT_EQ(l.ch.plen, b.size());
    auto got = data_of(b, l);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin(), data.end()));
    EXPECT_EQ(l.data_digest_size, GetParam().ddgst ? 4u : 0u);
    if (GetParam().ddgst) {
        EXPECT_TRUE(digest_ok(b, l));
    }
}

TEST_P(PduRoundTrip, CapsuleResp) {
    auto b = capsule_resp(p());
    auto pdu = receive(b, Receiver::Host, p());
    ASSERT_TRUE(pdu) << pdu.error().message;
    EXPECT_EQ(std::get<CapsuleResp>(pdu->body).cqe.cid, 9);
    EXPECT_EQ(pdu->layout.ch.plen, b.size());
}

TEST_P(PduRoundTrip, H2CData) {
    auto data = pattern(4096, 5);
    auto b = data_pdu(PduType::H2CData, p(), data, false);
    auto pdu = receive(b, Receiver::Target, p());
    ASSERT_TRUE(pdu) << pdu.error().message;
    const auto& h = std::get<DataHeader>(pdu->body);
    EXPECT_EQ(h.cccid, 3);
    EXPECT_EQ(h.ttag, 5);
    EXPECT_EQ(h.datao, 8192u);
    EXPECT_EQ(h.datal, 4096u);
    EXPECT_FALSE(h.last);
    EXPECT_FALSE(h.success);
    auto got = data_of(b, pdu->layout);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin(), data.end()));
    EXPECT_EQ(pdu->layout.data_offset % ((GetParam().pda + 1u) * 4u), 0u);
    if (GetParam().ddgst) {
        EXPECT_TRUE(digest_ok(b, pdu->layout));
    }
}

TEST_P(PduRoundTrip, C2HDataLastSuccess) {
    auto data = pattern(513, 6);
    auto b = data_pdu(PduType::C2HData, p(), data, true, true);
    auto pdu = receive(b, Receiver::Host, p());
    ASSERT_TRUE(pdu) << pdu.error().message;
    const auto& h = std::get<DataHeader>(pdu->body);
    EXPECT_TRUE(h.last);
    EXPECT_TRUE(h.success);
    EXPECT_EQ(h.datal, 513u);
    auto got = data_of(b, pdu->layout);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin(), data.end()));
    if (GetParam().ddgst) {
        EXPECT_TRUE(digest_ok(b, pdu->layout));
    }
}

TEST_P(PduRoundTrip, R2T) {
    std::array<uint8_t, kMaxHeaderSize> h{};
    R2T r{7, 11, 65536, 131072};
    std::size_t n = encode_r2t(h, p(), r);
    auto pdu = receive(std::span<const uint8_t>(h.data(), n), Receiver::Host, p());
    ASSERT_TRUE(pdu) << pdu.error().message;
    const auto& got = std::get<R2T>(pdu->body);
    EXPECT_EQ(got.cccid, 7);
    EXPECT_EQ(got.ttag, 11);
    EXPECT_EQ(got.r2to, 65536u);
    EXPECT_EQ(got.r2tl, 131072u);
}

INSTANTIATE_TEST_SUITE_P(Digests, PduRoundTrip,
                         ::testing::Values(DigestCase{false, false, 0}, DigestCase{true, false, 0},
                                           DigestCase{false, true, 0}, DigestCase{true, true, 0},
                                           DigestCase{true, true, 7}, DigestCase{false, false, 31},
                                           DigestCase{true, false, 2}));

TEST(PduCodec, HeaderPadding) {
    auto p = params(true, true, false, 7, 1);
    // Target pads C2HData to the host's HPDA (32 bytes), a host pads to the CPDA (8 bytes).
    EXPECT_EQ(header_padding(p, Receiver::Host, 28), 4u);
    EXPECT_EQ(header_padding(p, Receiver::Host, 32), 0u);
    EXPECT_EQ(header_padding(p, Receiver::Target, 76), 4u);
    EXPECT_EQ(header_padding(p, Receiver::Target, 72), 0u);
    EXPECT_EQ(header_padding(params(true), Receiver::Target, 76), 0u);
}

TEST(PduCodec, KnownAnswerHeaderDigest) {
    // CRC32C of the 24 header bytes below, computed independently, little-endian on the wire.
    Cqe c{};
    c.dw0 = 0x11223344;
    c.sqhd = 5;
    c.sqid = 1;
    c.cid = 0x1234;
    std::array<uint8_t, kMaxHeaderSize> h{};
    std::size_t n = encode_capsule_resp(h, params(true, true), c);
    ASSERT_EQ(n, 28u);
    const uint8_t want[28] = {0x05, 0x01, 0x18, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x44, 0x33,
                              0x22, 0x11, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01, 0x00,
                              0x34, 0x12, 0x00, 0x00, 0x44, 0x63, 0xa2, 0xd0};
    EXPECT_EQ(std::memcmp(h.data(), want, sizeof(want)), 0);
}

TEST(PduCodec, DataDigestKnownAnswerAndChaining) {
    std::string s = "123456789";
    iovec v[2] = {{s.data(), 4}, {s.data() + 4, 5}};
    EXPECT_EQ(data_digest(v), 0xE3069283u);
    std::array<uint8_t, 4> d = {0x83, 0x92, 0x06, 0xE3};
    EXPECT_TRUE(data_digest_ok(v, d));
    d[0] ^= 1;
    EXPECT_FALSE(data_digest_ok(v, d));
}

TEST(PduCodec, DataDigestMismatchDetected) {
    auto p = params(true, false, true);
    auto data = pattern(100, 1);
    auto b = data_pdu(PduType::C2HData, p, data);
    b[30] ^= 0x40;  // a data byte
    auto pdu = receive(b, Receiver::Host, p);
    ASSERT_TRUE(pdu);  // the header is fine, the data is not
    EXPECT_FALSE(digest_ok(b, pdu->layout));
}

// ---- malformed PDUs -------------------------------------------------------------------------

TEST(PduMalformed, UnknownTypes) {
    auto b = capsule_resp(params(true));
    for (uint8_t t : {0x08, 0x0A, 0x0B, 0xFF}) {
        b[0] = t;
        expect_error(receive(b, Receiver::Host, params(true)), Fes::InvalidHeaderField, 0);
        expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 0);
    }
}

TEST(PduMalformed, WrongDirection) {
    expect_error(receive(capsule_resp(params(true)), Receiver::Target, params(true)), Fes::InvalidHeaderField,
                 0);
    expect_error(receive(capsule_cmd(params(true), {}), Receiver::Host, params(true)),
                 Fes::InvalidHeaderField, 0);
    auto data = pattern(16, 0);
    expect_error(receive(data_pdu(PduType::C2HData, params(true), data), Receiver::Target, params(true)),
                 Fes::InvalidHeaderField, 0);
    expect_error(receive(data_pdu(PduType::H2CData, params(true), data), Receiver::Host, params(true)),
                 Fes::InvalidHeaderField, 0);
    expect_error(receive(icreq(), Receiver::Host, params(false)), Fes::InvalidHeaderField, 0);
    std::array<uint8_t, kMaxHeaderSize> h{};
    std::size_t n = encode_r2t(h, params(true), R2T{1, 1, 0, 4096});
    expect_error(receive(std::span<const uint8_t>(h.data(), n), Receiver::Target, params(true)),
                 Fes::InvalidHeaderField, 0);
}

TEST(PduMalformed, SequenceErrors) {
    expect_error(receive(capsule_cmd(params(true), {}), Receiver::Target, params(false)),
                 Fes::PduSequenceError, 0);
    expect_error(receive(capsule_resp(params(true)), Receiver::Host, params(false)), Fes::PduSequenceError,
                 0);
    expect_error(receive(icreq(), Receiver::Target, params(true)), Fes::PduSequenceError, 0);
    ICResp r;
    r.maxh2cdata = 4096;
    expect_error(receive(icresp(r), Receiver::Host, params(true)), Fes::PduSequenceError, 0);
}

TEST(PduMalformed, HeaderDigestFlagMismatch) {
    // HDGSTF set though header digests were not negotiated, and the reverse.
    auto b = capsule_cmd(params(true, true), {});
    expect_error(receive(b, Receiver::Target, params(true, false)), Fes::InvalidHeaderField, 1);
    b = capsule_cmd(params(true, false), {});
    expect_error(receive(b, Receiver::Target, params(true, true)), Fes::InvalidHeaderField, 1);
    // Never on ICReq, even when the connection will use digests.
    auto ic = icreq();
    ic[1] = flags::kHdgst;
    expect_error(receive(ic, Receiver::Target, params(false, true)), Fes::InvalidHeaderField, 1);
    // Never on a termination request.
    std::array<uint8_t, 64> h{};
    std::size_t n = encode_term_req(h, PduType::C2HTermReq, Fes::PduSequenceError, 0, {});
    h[1] = flags::kHdgst;
    expect_error(receive(std::span<const uint8_t>(h.data(), n), Receiver::Host, params(true, true)),
                 Fes::InvalidHeaderField, 1);
}

TEST(PduMalformed, DataDigestFlagMismatch) {
    auto data = pattern(64, 2);
    auto b = data_pdu(PduType::H2CData, params(true, false, false), data);
    expect_error(receive(b, Receiver::Target, params(true, false, true)), Fes::InvalidHeaderField, 1);
    b = data_pdu(PduType::H2CData, params(true, false, true), data);
    expect_error(receive(b, Receiver::Target, params(true, false, false)), Fes::InvalidHeaderField, 1);
    // A capsule without data carries no data digest even when data digests are on.
    b = capsule_cmd(params(true, false, true), {});
    b[1] |= flags::kDdgst;
    expect_error(receive(b, Receiver::Target, params(true, false, true)), Fes::InvalidHeaderField, 1);
    // A response never has data.
    b = capsule_resp(params(true));
    b[1] |= flags::kDdgst;
    expect_error(receive(b, Receiver::Host, params(true, false, true)), Fes::InvalidHeaderField, 1);
}

TEST(PduMalformed, DataFlags) {
    auto data = pattern(64, 2);
    auto b = data_pdu(PduType::C2HData, params(true), data, false, false);
    b[1] |= flags::kDataSuccess;  // SUCCESS without LAST_PDU
    expect_error(receive(b, Receiver::Host, params(true)), Fes::InvalidHeaderField, 1);
    b = data_pdu(PduType::H2CData, params(true), data, true);
    b[1] |= flags::kDataSuccess;  // only C2HData has SUCCESS
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 1);
    b = capsule_cmd(params(true), {});
    b[1] |= 0x10;  // an undefined flag
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 1);
    b = capsule_resp(params(true));
    b[1] |= flags::kDataLast;  // LAST_PDU only on data PDUs
    expect_error(receive(b, Receiver::Host, params(true)), Fes::InvalidHeaderField, 1);
}

TEST(PduMalformed, WrongHlen) {
    auto b = capsule_cmd(params(true), {});
    b[2] = 71;
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 2);
    b[2] = 0;  // zero HLEN
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 2);
    auto ic = icreq();
    ic[2] = 24;
    expect_error(receive(ic, Receiver::Target, params(false)), Fes::InvalidHeaderField, 2);
    auto r = capsule_resp(params(true));
    r[2] = 255;
    expect_error(receive(r, Receiver::Host, params(true)), Fes::InvalidHeaderField, 2);
}

TEST(PduMalformed, BadPdo) {
    // Non-zero PDO without data.
    auto b = capsule_resp(params(true));
    b[3] = 24;
    expect_error(receive(b, Receiver::Host, params(true)), Fes::InvalidHeaderField, 3);
    b = capsule_cmd(params(true), {});
    b[3] = 72;
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 3);
    // Data present but PDO 0.
    auto data = pattern(100, 4);
    b = capsule_cmd(params(true), data);
    b[3] = 0;
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 3);
    // PDO inside the header (and its digest).
    auto p = params(true, true);
    b = capsule_cmd(p, data);
    EXPECT_EQ(b[3], 76);
    b[3] = 72;
    fix_header_digest(b);
    expect_error(receive(b, Receiver::Target, p), Fes::InvalidHeaderField, 3);
    // PDO not aligned to the CPDA the target asked for (32 bytes): 76 is not, 96 is.
    auto aligned = params(true, true, false, 0, 7);
    b = capsule_cmd(aligned, data);
    EXPECT_EQ(b[3], 96);
    b[3] = 76;
    fix_header_digest(b);
    expect_error(receive(b, Receiver::Target, aligned), Fes::InvalidHeaderField, 3);
    // ... and at a host, C2HData to the HPDA.
    auto host = params(true, false, false, 3, 0);
    b = data_pdu(PduType::C2HData, host, data);
    EXPECT_EQ(b[3], 32);
    b[3] = 28;
    expect_error(receive(b, Receiver::Host, host), Fes::InvalidHeaderField, 3);
    // PDO beyond PLEN.
    b = data_pdu(PduType::H2CData, params(true), pattern(1, 0));
    set_plen(b, 25);
    b[3] = 28;
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 3);
}

TEST(PduMalformed, BadPlen) {
    auto b = capsule_resp(params(true));
    set_plen(b, 20);  // shorter than HLEN
    expect_error(receive(b, Receiver::Host, params(true)), Fes::InvalidHeaderField, 4);
    set_plen(b, 0xFFFFFFFF);  // giant, on a PDU without data
    expect_error(receive(b, Receiver::Host, params(true)), Fes::InvalidHeaderField, 4);
    auto ic = icreq();
    set_plen(ic, 129);
    expect_error(receive(ic, Receiver::Target, params(false)), Fes::InvalidHeaderField, 4);
    // R2T with a digest that does not fit in PLEN.
    auto p = params(true, true);
    std::array<uint8_t, kMaxHeaderSize> h{};
    std::size_t n = encode_r2t(h, p, R2T{1, 2, 0, 4096});
    std::vector<uint8_t> r(h.begin(), h.begin() + n);
    set_plen(r, 24);
    fix_header_digest(r);
    expect_error(receive(r, Receiver::Host, p), Fes::InvalidHeaderField, 4);
    // Termination request longer than a header plus 128 echoed bytes.
    std::array<uint8_t, 200> t{};
    n = encode_term_req(t, PduType::H2CTermReq, Fes::InvalidHeaderField, 0, {});
    std::vector<uint8_t> tr(t.begin(), t.begin() + n);
    set_plen(tr, kTermReqHlen + kTermReqMaxData + 1);
    expect_error(receive(tr, Receiver::Target, params(true)), Fes::InvalidHeaderField, 4);
}

TEST(PduMalformed, DataPduWithoutData) {
    auto data = pattern(8, 0);
    auto b = data_pdu(PduType::H2CData, params(true), data);
    b[3] = 0;
    set_plen(b, 24);
    b.resize(24);
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 4);
    // With data digests: PLEN leaves room for the digest only.
    auto p = params(true, false, true);
    b = data_pdu(PduType::C2HData, p, data);
    set_plen(b, b[3] + 4u);
    expect_error(receive(b, Receiver::Host, p), Fes::InvalidHeaderField, 4);
}

TEST(PduMalformed, DataLimitExceeded) {
    auto data = pattern(8193, 1);
    auto limited = params(true, false, false, 0, 0, 8192);
    expect_error(receive(capsule_cmd(limited, data), Receiver::Target, limited),
                 Fes::DataTransferLimitExceeded, 0);
    expect_error(receive(data_pdu(PduType::H2CData, limited, data), Receiver::Target, limited),
                 Fes::DataTransferLimitExceeded, 0);
    expect_error(receive(data_pdu(PduType::C2HData, limited, data), Receiver::Host, limited),
                 Fes::DataTransferLimitExceeded, 0);
    // Exactly the limit is fine.
    data.pop_back();
    EXPECT_TRUE(receive(data_pdu(PduType::H2CData, limited, data), Receiver::Target, limited));
    // A giant PLEN on a capsule: refused from the common header alone.
    auto b = capsule_cmd(limited, data);
    set_plen(b, 0xFFFFFFF0);
    auto l = check_common_header(std::span<const uint8_t>(b.data(), 8), Receiver::Target, limited);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().fes, Fes::DataTransferLimitExceeded);
}

TEST(PduMalformed, HeaderDigestMismatch) {
    auto p = params(true, true);
    auto b = capsule_cmd(p, {});
    uint32_t good;
    std::memcpy(&good, b.data() + 72, 4);
    b[20] ^= 0x01;  // a byte of the SQE
    expect_error(receive(b, Receiver::Target, p), Fes::HeaderDigestError, good);
    b = capsule_resp(p);
    b[25] ^= 0x80;  // the digest itself
    uint32_t bad;
    std::memcpy(&bad, b.data() + 24, 4);
    expect_error(receive(b, Receiver::Host, p), Fes::HeaderDigestError, bad);
}

TEST(PduMalformed, ICReqFields) {
    auto b = icreq();
    put<uint16_t>(b, 8, 1);  // PFV
    expect_error(receive(b, Receiver::Target, params(false)), Fes::InvalidHeaderField, 8);
    b = icreq();
    b[10] = 32;  // HPDA above 31
    expect_error(receive(b, Receiver::Target, params(false)), Fes::InvalidHeaderField, 10);
}

TEST(PduMalformed, ICRespFields) {
    ICResp r;
    r.maxh2cdata = 4095;
    expect_error(receive(icresp(r), Receiver::Host, params(false)), Fes::InvalidHeaderField, 12);
    r.maxh2cdata = 8194;  // not a multiple of 4
    expect_error(receive(icresp(r), Receiver::Host, params(false)), Fes::InvalidHeaderField, 12);
    r.maxh2cdata = 4096;
    r.cpda = 32;
    expect_error(receive(icresp(r), Receiver::Host, params(false)), Fes::InvalidHeaderField, 10);
    r.cpda = 0;
    r.pfv = 2;
    expect_error(receive(icresp(r), Receiver::Host, params(false)), Fes::InvalidHeaderField, 8);
}

TEST(PduMalformed, TermReqFes) {
    std::array<uint8_t, 64> h{};
    for (uint16_t fes : {0, 7, 0xFFFF}) {
        std::size_t n = encode_term_req(h, PduType::C2HTermReq, static_cast<Fes>(fes), 0, {});
        expect_error(receive(std::span<const uint8_t>(h.data(), n), Receiver::Host, params(true)),
                     Fes::InvalidHeaderField, 8);
    }
}

TEST(PduMalformed, DatalDisagreesWithPlen) {
    auto data = pattern(64, 1);
    auto b = data_pdu(PduType::H2CData, params(true), data);
    put<uint32_t>(b, 16, 65);
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 16);
    auto p = params(true, true, true);
    b = data_pdu(PduType::C2HData, p, data);
    put<uint32_t>(b, 16, 60);
    fix_header_digest(b);
    expect_error(receive(b, Receiver::Host, p), Fes::InvalidHeaderField, 16);
    // DATAO + DATAL beyond 4 GiB.
    b = data_pdu(PduType::H2CData, params(true), data);
    put<uint32_t>(b, 12, 0xFFFFFFF0);
    expect_error(receive(b, Receiver::Target, params(true)), Fes::InvalidHeaderField, 12);
}

TEST(PduMalformed, R2TWithoutLength) {
    std::array<uint8_t, kMaxHeaderSize> h{};
    std::size_t n = encode_r2t(h, params(true), R2T{1, 2, 0, 0});
    expect_error(receive(std::span<const uint8_t>(h.data(), n), Receiver::Host, params(true)),
                 Fes::InvalidHeaderField, 16);
}

TEST(PduMalformed, TruncatedInputs) {
    auto b = capsule_cmd(params(true, true), {});
    for (std::size_t n = 0; n < kCommonHeaderSize; ++n) {
        EXPECT_FALSE(
            check_common_header(std::span<const uint8_t>(b.data(), n), Receiver::Target, params(true, true)));
    }
    auto l = check_common_header(b, Receiver::Target, params(true, true));
    ASSERT_TRUE(l);
    for (std::size_t n : {std::size_t{0}, std::size_t{8}, std::size_t{72}, std::size_t{75}}) {
        EXPECT_FALSE(
            decode_header(std::span<const uint8_t>(b.data(), n), *l, Receiver::Target, params(true, true)))
            << n;
    }
    EXPECT_TRUE(
        decode_header(std::span<const uint8_t>(b.data(), 76), *l, Receiver::Target, params(true, true)));
    // A layout that does not belong to the bytes is refused, not trusted.
    auto other = capsule_resp(params(true, true));
    EXPECT_FALSE(decode_header(other, *l, Receiver::Target, params(true, true)));
}

TEST(PduMalformed, LowestFieldReportedFirst) {
    // Wrong HLEN and wrong PDO and wrong PLEN: HLEN (offset 2) is reported.
    auto b = capsule_resp(params(true));
    b[2] = 23;
    b[3] = 4;
    set_plen(b, 3);
    expect_error(receive(b, Receiver::Host, params(true)), Fes::InvalidHeaderField, 2);
    EXPECT_EQ(get_plen(b), 3u);
}

}  // namespace
}  // namespace ms::nvme::tcp
