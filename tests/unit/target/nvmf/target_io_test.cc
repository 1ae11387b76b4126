// The target's data path through a raw NVMe/TCP host: writes in-capsule and by R2T, reads
// back, flush, write zeroes, deallocate, range and namespace errors, digests on and off,
// several commands in flight on one queue.
#include <cstring>

#include "target/nvmf/target_test_util.h"

namespace ms::nvmf::test {
namespace {

using namespace ms::nvme;
using NStatus = nvme::Status;

struct IoOutcome {
    std::string error;
    bool incapsule_equal = false;
    bool r2t_equal = false;
    bool zeroes = false;
    NStatus flush{}, wz{}, dsm{}, oor{}, badns{}, toobig{}, admin_read{};
};

Task<IoOutcome> io_round(uint16_t port, std::string nqn, bool hdgst, bool ddgst) {
    IoOutcome o;
    auto q = co_await open_queues(port, nqn, hdgst, ddgst);
    if (!q) {
        o.error = q.error().to_string();
        co_return o;
    }
    RawHost& io = *q->io;
    // In-capsule write (4 KiB) and read back.
    auto a = pattern(4096, 1);
    auto w = co_await io.write(1, 0, a, true);
    if (!w || !w->status().ok()) {
        o.error = "in-capsule write failed";
        co_return o;
    }
    std::vector<uint8_t> back;
    auto r = co_await io.read(1, 0, 8, 512, &back);
    o.incapsule_equal = r && r->status().ok() && back == a;
    // R2T write (64 KiB) and read back.
    auto b = pattern(65536, 9);
    w = co_await io.write(1, 64, b, false);
    if (!w || !w->status().ok()) {
        o.error = "R2T write failed";
        co_return o;
    }
    back.clear();
    r = co_await io.read(1, 64, 128, 512, &back);
    o.r2t_equal = r && r->status().ok() && back == b;
    // Flush.
    auto f = co_await io.command(make_sqe(static_cast<uint8_t>(NvmOpc::Flush), 1));
    o.flush = f ? f->status() : NStatus{Sct::Vendor, 0xff, false};
    // Write zeroes over the R2T data, read zeros.
    Sqe wz = make_sqe(static_cast<uint8_t>(NvmOpc::WriteZeroes), 1);
    wz.cdw10 = 64;
    wz.cdw12 = 127;
    auto z = co_await io.command(wz);
    o.wz = z ? z->status() : NStatus{Sct::Vendor, 0xff, false};
    back.clear();
    r = co_await io.read(1, 64, 128, 512, &back);
    o.zeroes = r && r->status().ok() && back == std::vector<uint8_t>(65536, 0);
    // DSM deallocate of two ranges, in-capsule.
    Sqe dsm = make_sqe(static_cast<uint8_t>(NvmOpc::DatasetManagement), 1);
    dsm.cdw10 = 1;
    dsm.cdw11 = 1u << 2;
    DsmRange ranges[2] = {{0, 8, 0}, {0, 16, 200}};
    std::vector<uint8_t> rd(sizeof ranges);
    std::memcpy(rd.data(), ranges, sizeof ranges);
    auto d = co_await io.command(dsm, rd);
    o.dsm = d ? d->status() : NStatus{Sct::Vendor, 0xff, false};
    // Out of range (the device has 8192 blocks), bad namespace, transfer above MDTS.
    std::vector<uint8_t> junk;
    r = co_await io.read(1, 8190, 4, 512, &junk);
    o.oor = r ? r->status() : NStatus{Sct::Vendor, 0xff, false};
    r = co_await io.read(7, 0, 1, 512, &junk);
    o.badns = r ? r->status() : NStatus{Sct::Vendor, 0xff, false};
    r = co_await io.read(1, 0, 512, 512, &junk);  // 256 KiB > 128 KiB
    o.toobig = r ? r->status() : NStatus{Sct::Vendor, 0xff, false};
    // An NVM read on the admin queue is not an admin command (0x02 = Get Log Page there, with
    // an invalid log page for nsid 1's bogus fields): use a plain NVM-only opcode instead.
    auto ar = co_await q->admin->command(make_sqe(static_cast<uint8_t>(NvmOpc::Write), 1));
    o.admin_read = ar ? ar->status() : NStatus{Sct::Vendor, 0xff, false};
    co_return o;
}

void check_round(const IoOutcome& o) {
    ASSERT_EQ(o.error, "");
    EXPECT_TRUE(o.incapsule_equal);
    EXPECT_TRUE(o.r2t_equal);
    EXPECT_TRUE(o.flush.ok());
    EXPECT_TRUE(o.wz.ok());
    EXPECT_TRUE(o.zeroes);
    EXPECT_TRUE(o.dsm.ok());
    EXPECT_EQ(o.oor.sct, Sct::Generic);
    EXPECT_EQ(o.oor.sc, sc::kLbaOutOfRange);
    EXPECT_EQ(o.badns.sc, sc::kInvalidNamespaceOrFormat);
    EXPECT_EQ(o.toobig.sc, sc::kInvalidField);
    EXPECT_EQ(o.admin_read.sc, sc::kInvalidOpcode);
}

TEST_F(TargetTest, ReadWriteWithoutDigests) {
    uint16_t port = target->replica_port();
    auto o = run([port, this]() { return io_round(port, nqn, false, false); });
    check_round(o);
}

TEST_F(TargetTest, ReadWriteWithDigestsOnNexusPort) {
    uint16_t port = target->nexus_port();
    auto o = run([port, this]() { return io_round(port, nqn, true, true); });
    check_round(o);
}

// Several writes in flight on one queue, then their completions (in any order).
Task<std::string> pipelined(uint16_t port, std::string nqn) {
    auto q = co_await open_queues(port, nqn);
    if (!q) {
        co_return q.error().to_string();
    }
    RawHost& io = *q->io;
    constexpr int kN = 16;
    std::vector<uint8_t> all;
    for (int i = 0; i < kN; ++i) {
        Sqe s = make_sqe(static_cast<uint8_t>(NvmOpc::Write), 1);
        s.cid = static_cast<uint16_t>(100 + i);
        s.cdw10 = static_cast<uint32_t>(i * 8);
        s.cdw12 = 7;
        auto data = pattern(4096, static_cast<uint8_t>(i));
        s.dptr.type = kSglDataBlockOffset;
        s.dptr.length = 4096;
        std::vector<uint8_t> pdu(tcp::kMaxHeaderSize);
        pdu.resize(tcp::encode_capsule_cmd(std::span<uint8_t>(pdu), io.params(), s, 4096));
        pdu.insert(pdu.end(), data.begin(), data.end());
        all.insert(all.end(), pdu.begin(), pdu.end());
    }
    auto st = co_await io.send_raw(all);
    if (!st) {
        co_return st.error().to_string();
    }
    std::vector<bool> seen(kN, false);
    for (int i = 0; i < kN; ++i) {
        auto p = co_await io.recv_pdu();
        if (!p) {
            co_return p.error().to_string();
        }
        const auto* resp = std::get_if<tcp::CapsuleResp>(&p->pdu.body);
        if (resp == nullptr || resp->cqe.status != 0 || resp->cqe.cid < 100 || resp->cqe.cid >= 100 + kN) {
            co_return "bad completion";
        }
        seen[resp->cqe.cid - 100] = true;
    }
    for (int i = 0; i < kN; ++i) {
        std::vector<uint8_t> back;
        auto r = co_await io.read(1, static_cast<uint64_t>(i) * 8, 8, 512, &back);
        if (!r || !r->status().ok() || back != pattern(4096, static_cast<uint8_t>(i)) || !seen[i]) {
            co_return fmt::format("block {} differs", i);
        }
    }
    co_return "";
}

TEST_F(TargetTest, ManyCommandsInFlight) {
    uint16_t port = target->replica_port();
    EXPECT_EQ(run([port, this]() { return pipelined(port, nqn); }), "");
}

// Reads sent in one TCP send (the target parses them from one receive and answers them
// together): every command gets its own data and exactly one completion.
Task<std::string> pipelined_reads(uint16_t port, std::string nqn) {
    auto q = co_await open_queues(port, nqn);
    if (!q) {
        co_return q.error().to_string();
    }
    RawHost& io = *q->io;
    constexpr int kN = 24;
    for (int i = 0; i < kN; ++i) {
        auto w = co_await io.write(1, static_cast<uint64_t>(i) * 8,
                                   pattern(4096, static_cast<uint8_t>(i + 1)), true);
        if (!w || !w->status().ok()) {
            co_return fmt::format("write {} failed", i);
        }
    }
    std::vector<uint8_t> all;
    for (int i = 0; i < kN; ++i) {
        Sqe s = make_sqe(static_cast<uint8_t>(NvmOpc::Read), 1);
        s.cid = static_cast<uint16_t>(200 + i);
        s.cdw10 = static_cast<uint32_t>(i * 8);
        s.cdw12 = 7;
        s.dptr.type = kSglTransportDataBlock;
        s.dptr.length = 4096;
        std::vector<uint8_t> pdu(tcp::kMaxHeaderSize);
        pdu.resize(tcp::encode_capsule_cmd(std::span<uint8_t>(pdu), io.params(), s, 0));
        all.insert(all.end(), pdu.begin(), pdu.end());
    }
    auto st = co_await io.send_raw(all);
    if (!st) {
        co_return st.error().to_string();
    }
    std::vector<std::vector<uint8_t>> data(kN);
    std::vector<int> completions(kN, 0);
    int done = 0;
    while (done < kN) {
        auto p = co_await io.recv_pdu();
        if (!p) {
            co_return p.error().to_string();
        }
        int cid = -1;
        bool completes = false;
        if (const auto* d = std::get_if<tcp::DataHeader>(&p->pdu.body)) {
            cid = d->cccid - 200;
            if (cid >= 0 && cid < kN) {
                data[cid].insert(data[cid].end(), p->data.begin(), p->data.end());
            }
            completes = d->success;
        } else if (const auto* r = std::get_if<tcp::CapsuleResp>(&p->pdu.body)) {
            cid = r->cqe.cid - 200;
            if (r->cqe.status != 0) {
                co_return fmt::format("read {} failed", cid);
            }
            completes = true;
        }
        if (cid < 0 || cid >= kN) {
            co_return "PDU for an unknown command";
        }
        if (completes) {
            ++completions[cid];
            ++done;
        }
    }
    for (int i = 0; i < kN; ++i) {
        if (completions[i] != 1 || data[i] != pattern(4096, static_cast<uint8_t>(i + 1))) {
            co_return fmt::format(
                "read {}: {} completions, data {}", i, completions[i],
                data[i] == pattern(4096, static_cast<uint8_t>(i + 1)) ? "equal" : "differs");
        }
    }
    co_return "";
}

TEST_F(TargetTest, PipelinedReadsGetTheirOwnData) {
    uint16_t port = target->replica_port();
    EXPECT_EQ(run([port, this]() { return pipelined_reads(port, nqn); }), "");
}

// Two I/O queues of one controller (on two connections, likely two reactors).
Task<std::string> two_queues(uint16_t port, std::string nqn) {
    auto q = co_await open_queues(port, nqn);
    if (!q) {
        co_return q.error().to_string();
    }
    auto h2 = co_await RawHost::connect(port);
    if (!h2) {
        co_return h2.error().to_string();
    }
    auto c2 = co_await (*h2)->connect_queue(2, nqn, q->cntlid, 0, 63);
    if (!c2 || !c2->status().ok()) {
        co_return "second I/O queue refused";
    }
    auto dup = co_await RawHost::connect(port);
    auto cd = co_await (*dup)->connect_queue(2, nqn, q->cntlid, 0, 63);
    if (!cd || cd->status().ok()) {
        co_return "duplicate qid accepted";
    }
    auto big = co_await RawHost::connect(port);
    auto cb = co_await (*big)->connect_queue(3, nqn, q->cntlid, 0, 1000);
    if (!cb || cb->status().sc != csc::kConnectInvalidParameters) {
        co_return "oversized queue accepted";
    }
    auto data = pattern(8192, 77);
    auto w = co_await (*h2)->write(1, 300, data, false);
    if (!w || !w->status().ok()) {
        co_return "write on queue 2 failed";
    }
    std::vector<uint8_t> back;
    auto r = co_await q->io->read(1, 300, 16, 512, &back);
    if (!r || !r->status().ok() || back != data) {
        co_return "queue 1 does not see queue 2's write";
    }
    co_return "";
}

TEST_F(TargetTest, SeveralQueuesOfOneController) {
    uint16_t port = target->replica_port();
    EXPECT_EQ(run([port, this]() { return two_queues(port, nqn); }), "");
    auto l = target->subsystems();
    ASSERT_EQ(l.size(), 1u);
    EXPECT_EQ(l[0].nqn, nqn);
}

}  // namespace
}  // namespace ms::nvmf::test
