// Hostile and malformed PDUs: the target answers with a C2HTermReq carrying the right FES and
// closes that connection only, while another host's queues keep working; a data digest error
// fails just the command.
#include <cstring>

#include "target/nvmf/target_test_util.h"

namespace ms::nvmf::test {
namespace {

using namespace ms::nvme;
using namespace ms::nvme::tcp;

struct Term {
    std::string error;
    Fes fes{};
    uint32_t fei = 0;
    bool closed = false;
};

Task<Term> expect_term(RawHost& h) {
    Term t;
    auto p = co_await h.recv_pdu();
    if (!p) {
        t.error = p.error().to_string();
        co_return t;
    }
    const auto* tr = std::get_if<TermReq>(&p->pdu.body);
    if (tr == nullptr) {
        t.error = "not a termination request";
        co_return t;
    }
    t.fes = tr->fes;
    t.fei = tr->fei;
    t.closed = co_await h.wait_closed();
    co_return t;
}

std::vector<uint8_t> capsule(const ConnectionParams& p, Sqe s, uint32_t data_len = 0) {
    std::vector<uint8_t> out(kMaxHeaderSize);
    out.resize(encode_capsule_cmd(std::span<uint8_t>(out), p, s, data_len));
    return out;
}

// One malformed exchange on a fresh connection that has connected an I/O queue.
enum class Case {
    WrongType,
    BadHlen,
    BadHeaderDigest,
    UnknownTtag,
    DataBeyondCommand,
    BadIcReq,
    TooMuchInCapsule
};

Task<Term> malformed(uint16_t port, std::string nqn, Case which) {
    Term t;
    bool hdgst = which == Case::BadHeaderDigest;
    if (which == Case::BadIcReq) {
        auto h = co_await RawHost::connect_raw(port);
        if (!h) {
            t.error = h.error().to_string();
            co_return t;
        }
        ICReq req;
        std::vector<uint8_t> b(kMaxHeaderSize);
        b.resize(encode_icreq(std::span<uint8_t>(b), req));
        b[8] = 7;  // PFV 7
        co_await (*h)->send_raw(b);
        co_return co_await expect_term(**h);
    }
    auto q = co_await open_queues(port, nqn, hdgst, false);
    if (!q) {
        t.error = q.error().to_string();
        co_return t;
    }
    RawHost& io = *q->io;
    Sqe w = make_sqe(static_cast<uint8_t>(NvmOpc::Write), 1);
    w.cid = 42;
    w.cdw12 = 7;
    w.dptr.type = kSglTransportDataBlock;
    w.dptr.length = 4096;
    std::vector<uint8_t> b;
    switch (which) {
        case Case::WrongType:
            b = capsule(io.params(), w);
            b[0] = static_cast<uint8_t>(PduType::C2HData);
            break;
        case Case::BadHlen:
            b = capsule(io.params(), w);
            b[2] = 70;
            break;
        case Case::BadHeaderDigest:
            b = capsule(io.params(), w);
            b[kCapsuleCmdHlen] ^= 0xff;
            break;
        case Case::TooMuchInCapsule: {
            w.dptr.type = kSglDataBlockOffset;
            w.dptr.length = 16384;
            b = capsule(io.params(), w, 16384);
            b.resize(b.size() + 16384, 0xab);
            break;
        }
        case Case::UnknownTtag:
        case Case::DataBeyondCommand: {
            co_await io.send_raw(capsule(io.params(), w));
            auto p = co_await io.recv_pdu();
            if (!p || !std::holds_alternative<R2T>(p->pdu.body)) {
                t.error = "no R2T";
                co_return t;
            }
            const auto& r2t = std::get<R2T>(p->pdu.body);
            DataHeader h;
            h.cccid = 42;
            h.ttag = which == Case::UnknownTtag ? static_cast<uint16_t>(r2t.ttag + 100) : r2t.ttag;
            h.datao = 0;
            h.datal = which == Case::DataBeyondCommand ? 8192 : 4096;
            h.last = true;
            b.resize(kMaxHeaderSize);
            b.resize(encode_data(std::span<uint8_t>(b), PduType::H2CData, io.params(), h));
            b.resize(b.size() + h.datal, 0x5a);
            break;
        }
        case Case::BadIcReq:
            break;
    }
    co_await io.send_raw(b);
    t = co_await expect_term(io);
    co_return t;
}

// The healthy host: write then read back.
Task<std::string> healthy(RawHost* io, uint8_t seed) {
    auto data = pattern(4096, seed);
    auto w = co_await io->write(1, 16, data, false);
    if (!w || !w->status().ok()) {
        co_return "write failed";
    }
    std::vector<uint8_t> back;
    auto r = co_await io->read(1, 16, 8, 512, &back);
    if (!r || !r->status().ok() || back != data) {
        co_return "read back differs";
    }
    co_return "";
}

class MalformedTest : public TargetTest {
   protected:
    void check(Case which, Fes fes, std::optional<uint32_t> fei = std::nullopt) {
        uint16_t port = target->replica_port();
        auto good = run([port, this]() { return open_queues(port, nqn); });
        ASSERT_TRUE(good) << good.error().to_string();
        auto t = run([port, this, which]() { return malformed(port, nqn, which); });
        ASSERT_EQ(t.error, "");
        EXPECT_EQ(t.fes, fes);
        if (fei) {
            EXPECT_EQ(t.fei, *fei);
        }
        EXPECT_TRUE(t.closed);
        RawHost* io = good->io.get();
        EXPECT_EQ(run([io]() { return healthy(io, 5); }), "");
        run([&good]() -> Task<void> {
            good->admin.reset();
            good->io.reset();
            co_return;
        });
    }
};

TEST_F(MalformedTest, WrongPduType) {
    check(Case::WrongType, Fes::InvalidHeaderField);
}

TEST_F(MalformedTest, BadHeaderLength) {
    check(Case::BadHlen, Fes::InvalidHeaderField, 2);
}

TEST_F(MalformedTest, BadHeaderDigest) {
    check(Case::BadHeaderDigest, Fes::HeaderDigestError);
}

TEST_F(MalformedTest, H2CDataWithUnknownTransferTag) {
    check(Case::UnknownTtag, Fes::InvalidHeaderField, 10);
}

TEST_F(MalformedTest, H2CDataBeyondTheCommand) {
    check(Case::DataBeyondCommand, Fes::DataTransferOutOfRange);
}

TEST_F(MalformedTest, BadICReq) {
    check(Case::BadIcReq, Fes::InvalidHeaderField);
}

TEST_F(MalformedTest, InCapsuleDataAboveTheLimit) {
    check(Case::TooMuchInCapsule, Fes::DataTransferLimitExceeded);
}

// A data digest error fails the command with a transient transport error; the connection
// stays usable.
Task<std::string> data_digest_round(uint16_t port, std::string nqn) {
    auto q = co_await open_queues(port, nqn, false, true);
    if (!q) {
        co_return q.error().to_string();
    }
    RawHost& io = *q->io;
    Sqe w = make_sqe(static_cast<uint8_t>(NvmOpc::Write), 1);
    w.cid = 77;
    w.cdw10 = 100;
    w.cdw12 = 7;
    w.dptr.type = kSglDataBlockOffset;
    w.dptr.length = 4096;
    auto b = capsule(io.params(), w, 4096);
    auto data = pattern(4096, 11);
    b.insert(b.end(), data.begin(), data.end());
    uint8_t bad[4] = {1, 2, 3, 4};
    b.insert(b.end(), bad, bad + 4);
    co_await io.send_raw(b);
    auto p = co_await io.recv_pdu();
    if (!p) {
        co_return p.error().to_string();
    }
    const auto* r = std::get_if<CapsuleResp>(&p->pdu.body);
    if (r == nullptr || r->cqe.cid != 77) {
        co_return "no completion";
    }
    auto st = nvme::Status::decode(r->cqe.status);
    if (st.sct != Sct::Generic || st.sc != 0x22) {
        co_return fmt::format("status {:#x}", st.sc);
    }
    // Nothing was written, and the queue still works (with good digests).
    std::vector<uint8_t> back;
    auto rd = co_await io.read(1, 100, 8, 512, &back);
    if (!rd || !rd->status().ok() || back != std::vector<uint8_t>(4096, 0)) {
        co_return "bad data written";
    }
    co_return co_await healthy(&io, 12);
}

TEST_F(TargetTest, DataDigestErrorFailsOnlyTheCommand) {
    uint16_t port = target->replica_port();
    EXPECT_EQ(run([port, this]() { return data_digest_round(port, nqn); }), "");
}

// Random garbage after the IC exchange: terminated or closed, never a crash.
Task<bool> garbage(uint16_t port, uint32_t seed) {
    auto h = co_await RawHost::connect(port);
    if (!h) {
        co_return false;
    }
    std::vector<uint8_t> b(300);
    uint32_t x = seed;
    for (auto& v : b) {
        x = x * 1103515245 + 12345;
        v = static_cast<uint8_t>(x >> 16);
    }
    co_await (*h)->send_raw(b);
    co_return co_await (*h)->wait_closed();
}

TEST_F(TargetTest, GarbageClosesTheConnection) {
    uint16_t port = target->replica_port();
    for (uint32_t seed = 1; seed <= 20; ++seed) {
        EXPECT_TRUE(run([port, seed]() { return garbage(port, seed); }));
    }
    auto q = run([port, this]() { return open_queues(port, nqn); });
    ASSERT_TRUE(q);
    RawHost* io = q->io.get();
    EXPECT_EQ(run([io]() { return healthy(io, 9); }), "");
}

// A host that goes away while the target waits for its write data; then the target is stopped
// with a host still connected: neither hangs, and the connected host sees its queues close.
Task<std::string> vanish(uint16_t port, std::string nqn) {
    auto q = co_await open_queues(port, nqn);
    if (!q) {
        co_return q.error().to_string();
    }
    Sqe w = make_sqe(static_cast<uint8_t>(NvmOpc::Write), 1);
    w.cid = 5;
    w.cdw12 = 255;  // 128 KiB
    w.dptr.type = kSglTransportDataBlock;
    w.dptr.length = 128 * 1024;
    co_await q->io->send_raw(capsule(q->io->params(), w));
    auto p = co_await q->io->recv_pdu();
    if (!p || !std::holds_alternative<R2T>(p->pdu.body)) {
        co_return "no R2T";
    }
    q->io.reset();
    q->admin.reset();
    co_return "";
}

TEST_F(TargetTest, HostVanishesMidCommandThenTargetStopsWithHostsConnected) {
    uint16_t port = target->replica_port();
    auto good = run([port, this]() { return open_queues(port, nqn); });
    ASSERT_TRUE(good);
    EXPECT_EQ(run([port, this]() { return vanish(port, nqn); }), "");
    RawHost* io = good->io.get();
    EXPECT_EQ(run([io]() { return healthy(io, 21); }), "");
    target.reset();
    RawHost* admin = good->admin.get();
    EXPECT_TRUE(run([admin]() { return admin->wait_closed(); }));
    EXPECT_TRUE(run([io]() { return io->wait_closed(); }));
    EXPECT_EQ(dev->open_count(), 0);
}

}  // namespace
}  // namespace ms::nvmf::test
