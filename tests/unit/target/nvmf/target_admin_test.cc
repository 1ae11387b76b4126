// The target's fabrics and admin commands through a raw NVMe/TCP host: properties, identify,
// log pages, features, allow-list and unknown-subsystem refusals, the discovery log, ANA state
// and its events, namespaces at run time, keep-alive expiry, subsystem removal.
#include <atomic>
#include <functional>
#include <set>
#include <thread>

#include "target/nvmf/target_test_util.h"

namespace ms::nvmf::test {
namespace {

using namespace ms::nvme;

struct AdminOutcome {
    std::string error;
    uint64_t cap = 0;
    uint32_t vs = 0, csts = 0, csts_after_shn = 0;
    std::vector<uint8_t> ctrl, ns, active, desc, ana, ana_rgo, ana_part, smart, err;
    uint32_t queues_dw0 = 0, abort_dw0 = 0, kato_dw0 = 0;
    nvme::Status vendor, unknown, bad_log, ns_inactive, ns_bad;
    uint16_t cntlid = 0;
};

Task<AdminOutcome> admin_round(uint16_t port, std::string nqn) {
    AdminOutcome o;
    auto q = co_await open_queues(port, nqn);
    if (!q) {
        o.error = q.error().to_string();
        co_return o;
    }
    o.cntlid = q->cntlid;
    RawHost& a = *q->admin;
    auto c = co_await a.property_get(prop::kCap, true);
    o.cap = c ? (uint64_t{c->cqe.dw1} << 32 | c->cqe.dw0) : 0;
    c = co_await a.property_get(prop::kVs, false);
    o.vs = c ? c->cqe.dw0 : 0;
    c = co_await a.property_get(prop::kCsts, false);
    o.csts = c ? c->cqe.dw0 : 0;
    co_await a.identify(cns::kController, 0, &o.ctrl);
    co_await a.identify(cns::kNamespace, 1, &o.ns);
    co_await a.identify(cns::kActiveNamespaceList, 0, &o.active);
    co_await a.identify(cns::kNamespaceIdDescriptors, 1, &o.desc);
    std::vector<uint8_t> junk;
    c = co_await a.identify(cns::kNamespace, 5, &junk);
    o.ns_inactive = c ? c->status() : nvme::Status{Sct::Vendor, 0xff, false};
    c = co_await a.identify(cns::kNamespaceIdDescriptors, 5, &junk);
    o.ns_bad = c ? c->status() : nvme::Status{Sct::Vendor, 0xff, false};
    co_await a.get_log_page(lid::kAna, 4096, 0, &o.ana);
    co_await a.get_log_page(lid::kAna, 4096, 0, &o.ana_rgo, 1u << 8);
    co_await a.get_log_page(lid::kAna, 16, 16, &o.ana_part);
    co_await a.get_log_page(lid::kSmartHealth, 512, 0, &o.smart);
    co_await a.get_log_page(lid::kErrorInformation, 64, 0, &o.err);
    c = co_await a.get_log_page(0x33, 512, 0, &junk);
    o.bad_log = c ? c->status() : nvme::Status{Sct::Vendor, 0xff, false};
    Sqe sf = make_sqe(static_cast<uint8_t>(AdminOpc::SetFeatures));
    sf.cdw10 = fid::kNumberOfQueues;
    sf.cdw11 = 199 | (199u << 16);
    c = co_await a.command(sf);
    o.queues_dw0 = c ? c->cqe.dw0 : 0;
    Sqe ab = make_sqe(static_cast<uint8_t>(AdminOpc::Abort));
    c = co_await a.command(ab);
    o.abort_dw0 = c ? c->cqe.dw0 : 0;
    Sqe gf = make_sqe(static_cast<uint8_t>(AdminOpc::GetFeatures));
    gf.cdw10 = fid::kKeepAliveTimer;
    c = co_await a.command(gf);
    o.kato_dw0 = c ? c->cqe.dw0 : 0xdead;
    c = co_await a.command(make_sqe(static_cast<uint8_t>(AdminOpc::VendorCreateSnapshot)));
    o.vendor = c ? c->status() : nvme::Status{Sct::Vendor, 0xff, false};
    c = co_await a.command(make_sqe(0x55));
    o.unknown = c ? c->status() : nvme::Status{Sct::Vendor, 0xff, false};
    c = co_await a.property_set(prop::kCc, 1 | (1u << 14));
    c = co_await a.property_get(prop::kCsts, false);
    o.csts_after_shn = c ? c->cqe.dw0 : 0;
    co_return o;
}

TEST_F(TargetTest, PropertiesIdentifyLogsFeatures) {
    uint16_t port = target->replica_port();
    auto o = run([port, this]() { return admin_round(port, nqn); });
    ASSERT_EQ(o.error, "");
    EXPECT_EQ(o.cap & 0xffff, 127u);           // MQES
    EXPECT_TRUE(o.cap & (1u << 16));           // CQR
    EXPECT_TRUE(o.cap & (uint64_t{1} << 37));  // NVM command set
    EXPECT_EQ(o.vs, kVersion_1_3);
    EXPECT_EQ(o.csts & 1, 1u);                   // RDY after CC.EN
    EXPECT_EQ((o.csts_after_shn >> 2) & 3, 2u);  // shutdown complete
    ASSERT_EQ(o.ctrl.size(), kIdentifySize);
    EXPECT_EQ(ascii(o.ctrl, idctrl::kMn, 40), "Mayastor NVMe controller");
    EXPECT_EQ(ascii(o.ctrl, idctrl::kSubnqn, 256), nqn);
    EXPECT_EQ(get_le<uint16_t>(o.ctrl, idctrl::kCntlid), o.cntlid);
    EXPECT_EQ(o.ctrl[idctrl::kCntrltype], 1);
    EXPECT_EQ(o.ctrl[idctrl::kMdts], 5);  // 128 KiB in 4 KiB pages
    EXPECT_EQ(get_le<uint32_t>(o.ctrl, idctrl::kIoccsz), (64u + 8192u) / 16);
    EXPECT_TRUE(o.ctrl[idctrl::kCmic] & 0x8);
    EXPECT_FALSE(ascii(o.ctrl, idctrl::kSn, 20).empty());
    ASSERT_EQ(o.ns.size(), kIdentifySize);
    EXPECT_EQ(get_le<uint64_t>(o.ns, idns::kNsze), dev->num_blocks());
    EXPECT_EQ((get_le<uint32_t>(o.ns, idns::kLbaf0) >> 16) & 0xff, 9u);
    EXPECT_EQ(0, std::memcmp(o.ns.data() + idns::kNguid, dev->uuid().bytes().data(), 16));
    EXPECT_EQ(get_le<uint32_t>(o.ns, idns::kAnagrpid), 1u);
    EXPECT_EQ(get_le<uint32_t>(o.active, 0), 1u);
    EXPECT_EQ(get_le<uint32_t>(o.active, 4), 0u);
    EXPECT_EQ(o.desc[0], nidt::kNguid);
    EXPECT_EQ(0, std::memcmp(o.desc.data() + 4, dev->uuid().bytes().data(), 16));
    EXPECT_TRUE(o.ns_inactive.ok());  // inactive namespace ID: zeroed data
    EXPECT_EQ(o.ns_bad.sc, sc::kInvalidNamespaceOrFormat);
    // ANA log: one group, state optimized, NSID 1 (absent with RGO).
    EXPECT_EQ(get_le<uint16_t>(o.ana, 8), 1u);
    EXPECT_EQ(get_le<uint32_t>(o.ana, 16), 1u);
    EXPECT_EQ(get_le<uint32_t>(o.ana, 20), 1u);
    EXPECT_EQ(o.ana[32], static_cast<uint8_t>(AnaState::Optimized));
    EXPECT_EQ(get_le<uint32_t>(o.ana, 48), 1u);
    EXPECT_EQ(get_le<uint32_t>(o.ana_rgo, 20), 0u);
    // Offset 16, 16 bytes: the group descriptor's start.
    ASSERT_EQ(o.ana_part.size(), 16u);
    EXPECT_EQ(get_le<uint32_t>(o.ana_part, 0), 1u);
    EXPECT_EQ(o.smart[3], 100);
    EXPECT_EQ(o.err, std::vector<uint8_t>(64, 0));
    EXPECT_EQ(o.bad_log.sct, Sct::CommandSpecific);
    EXPECT_EQ(o.bad_log.sc, csc::kInvalidLogPage);
    EXPECT_EQ(o.queues_dw0, 63u | (63u << 16));
    EXPECT_EQ(o.abort_dw0 & 1, 1u);
    EXPECT_EQ(o.kato_dw0, 0u);
    EXPECT_EQ(o.vendor.sc, sc::kInvalidOpcode);
    EXPECT_EQ(o.unknown.sc, sc::kInvalidOpcode);
}

struct Refusals {
    std::string error;
    nvme::Status host, subsys, sqsize;
    uint32_t host_dw0 = 0, subsys_dw0 = 0;
    nvme::Status allowed;
};

Task<Refusals> refusals(uint16_t port, std::string nqn) {
    Refusals r;
    auto h = co_await RawHost::connect(port);
    if (!h) {
        r.error = h.error().to_string();
        co_return r;
    }
    auto c = co_await (*h)->connect_queue(0, nqn, kDynamicCntlid, 0, 31,
                                          "nqn.2014-08.org.nvmexpress:uuid:intruder");
    if (c) {
        r.host = c->status();
        r.host_dw0 = c->cqe.dw0;
    }
    h = co_await RawHost::connect(port);
    c = co_await (*h)->connect_queue(0, "nqn.2019-05.io.openebs:nothing", kDynamicCntlid);
    if (c) {
        r.subsys = c->status();
        r.subsys_dw0 = c->cqe.dw0;
    }
    h = co_await RawHost::connect(port);
    c = co_await (*h)->connect_queue(0, nqn, kDynamicCntlid, 0, 4000);
    if (c) {
        r.sqsize = c->status();
    }
    h = co_await RawHost::connect(port);
    c = co_await (*h)->connect_queue(0, nqn, kDynamicCntlid);
    if (c) {
        r.allowed = c->status();
    }
    co_return r;
}

TEST_F(TargetTest, AllowListUnknownSubsystemAndQueueSize) {
    ASSERT_TRUE(target->set_allowed_hosts(nqn, {kHostNqn}));
    uint16_t port = target->replica_port();
    auto r = run([port, this]() { return refusals(port, nqn); });
    ASSERT_EQ(r.error, "");
    EXPECT_EQ(r.host.sct, Sct::CommandSpecific);
    EXPECT_EQ(r.host.sc, csc::kConnectInvalidHost);
    EXPECT_EQ(r.host_dw0, (uint32_t{offsetof(ConnectData, hostnqn)} << 16) | 1u);
    EXPECT_EQ(r.subsys.sct, Sct::CommandSpecific);
    EXPECT_EQ(r.subsys.sc, csc::kConnectInvalidParameters);
    EXPECT_EQ(r.subsys_dw0, (uint32_t{offsetof(ConnectData, subnqn)} << 16) | 1u);
    EXPECT_EQ(r.sqsize.sc, csc::kConnectInvalidParameters);
    EXPECT_TRUE(r.allowed.ok());
}

Task<std::vector<uint8_t>> discovery_log(uint16_t port, std::string* err) {
    std::vector<uint8_t> log;
    auto h = co_await RawHost::connect(port);
    if (!h) {
        *err = h.error().to_string();
        co_return log;
    }
    auto c = co_await (*h)->connect_queue(0, std::string(kDiscoveryNqn), kDynamicCntlid);
    if (!c || !c->status().ok()) {
        *err = "discovery connect failed";
        co_return log;
    }
    std::vector<uint8_t> id;
    c = co_await (*h)->identify(cns::kController, 0, &id);
    if (!c || !c->status().ok() || id[idctrl::kCntrltype] != 2) {
        *err = "discovery identify failed";
        co_return log;
    }
    // Header first, then the whole log, as hosts do.
    c = co_await (*h)->get_log_page(lid::kDiscovery, 1024, 0, &log);
    if (!c || !c->status().ok()) {
        *err = "discovery log failed";
        co_return log;
    }
    auto n = get_le<uint64_t>(log, disc::kNumrec);
    log.clear();
    c = co_await (*h)->get_log_page(lid::kDiscovery, static_cast<uint32_t>(1024 * (n + 1)), 0, &log);
    if (!c || !c->status().ok()) {
        *err = "discovery log failed";
    }
    co_return log;
}

TEST_F(TargetTest, DiscoveryLogListsSubsystemOnBothPorts) {
    uint16_t port = target->nexus_port();
    std::string err;
    auto log = run([port, &err]() { return discovery_log(port, &err); });
    ASSERT_EQ(err, "");
    ASSERT_EQ(get_le<uint64_t>(log, disc::kNumrec), 2u);
    uint64_t gen = get_le<uint64_t>(log, disc::kGenctr);
    std::set<std::string> ports;
    for (int i = 0; i < 2; ++i) {
        std::size_t e = disc::kHeaderSize + i * disc::kEntrySize;
        EXPECT_EQ(log[e + disc::kTrtype], disc::kTrtypeTcp);
        EXPECT_EQ(log[e + disc::kAdrfam], disc::kAdrfamIpv4);
        EXPECT_EQ(log[e + disc::kSubtype], disc::kSubtypeNvm);
        EXPECT_EQ(ascii(log, e + disc::kSubnqn, 256), nqn);
        EXPECT_EQ(ascii(log, e + disc::kTraddr, 256), "127.0.0.1");
        ports.insert(ascii(log, e + disc::kTrsvcid, 32));
    }
    EXPECT_TRUE(ports.contains(std::to_string(target->replica_port())));
    EXPECT_TRUE(ports.contains(std::to_string(target->nexus_port())));
    // A host not on the allow-list does not see it; the generation moved.
    ASSERT_TRUE(target->set_allowed_hosts(nqn, {"nqn.2014-08.org.nvmexpress:uuid:other"}));
    log = run([port, &err]() { return discovery_log(port, &err); });
    ASSERT_EQ(err, "");
    EXPECT_EQ(get_le<uint64_t>(log, disc::kNumrec), 0u);
    EXPECT_NE(get_le<uint64_t>(log, disc::kGenctr), gen);
}

struct AnaOutcome {
    std::string error;
    nvme::Status io_status;
    uint8_t log_state = 0;
    uint32_t aen_dw0 = 0;
    nvme::Status io_after;
};

// Sends an AER, flips the ANA state from another thread, reads the event, the log, an I/O.
Task<AnaOutcome> ana_round(uint16_t port, std::string nqn, NvmfTarget* target) {
    AnaOutcome o;
    auto q = co_await open_queues(port, nqn);
    if (!q) {
        o.error = q.error().to_string();
        co_return o;
    }
    RawHost& a = *q->admin;
    Sqe aer = make_sqe(static_cast<uint8_t>(AdminOpc::AsyncEventRequest));
    aer.cid = 900;
    std::vector<uint8_t> pdu(tcp::kMaxHeaderSize);
    pdu.resize(tcp::encode_capsule_cmd(std::span<uint8_t>(pdu), a.params(), aer, 0));
    co_await a.send_raw(pdu);
    std::thread t([target, nqn] { (void)target->set_ana_state(nqn, AnaState::Inaccessible); });
    t.detach();  // the management call must not block the reactor; joined by the event below
    auto p = co_await a.recv_pdu();
    if (!p) {
        o.error = p.error().to_string();
        co_return o;
    }
    if (const auto* r = std::get_if<tcp::CapsuleResp>(&p->pdu.body); r && r->cqe.cid == 900) {
        o.aen_dw0 = r->cqe.dw0;
    }
    std::vector<uint8_t> log;
    co_await a.get_log_page(lid::kAna, 4096, 0, &log);
    o.log_state = log.size() > 32 ? log[32] : 0;
    std::vector<uint8_t> junk;
    auto r = co_await q->io->read(1, 0, 1, 512, &junk);
    o.io_status = r ? r->status() : nvme::Status{Sct::Vendor, 0xff, false};
    co_return o;
}

TEST_F(TargetTest, AnaStateChangeRaisesEventAndFailsIo) {
    uint16_t port = target->replica_port();
    NvmfTarget* t = target.get();
    auto o = run([port, this, t]() { return ana_round(port, nqn, t); });
    ASSERT_EQ(o.error, "");
    EXPECT_EQ(o.aen_dw0 & 0x7, aen::kTypeNotice);
    EXPECT_EQ((o.aen_dw0 >> 8) & 0xff, aen::kInfoAnaChange);
    EXPECT_EQ((o.aen_dw0 >> 16) & 0xff, lid::kAna);
    EXPECT_EQ(o.log_state, static_cast<uint8_t>(AnaState::Inaccessible));
    EXPECT_EQ(o.io_status.sct, Sct::Path);
    EXPECT_EQ(o.io_status.sc, psc::kAsymmetricAccessInaccessible);
    EXPECT_EQ(*target->ana_state(nqn), AnaState::Inaccessible);
}

struct NsOutcome {
    std::string error;
    std::vector<uint8_t> active;
    uint32_t aen_dw0 = 0;
    std::vector<uint8_t> changed;
    nvme::Status io2_before, io2_after;
    int open_after_remove = -1;
};

Task<NsOutcome> ns_round(uint16_t port, std::string nqn, std::function<void()> add,
                         std::function<void()> remove, std::shared_ptr<BlockDevice> dev2) {
    NsOutcome o;
    auto q = co_await open_queues(port, nqn);
    if (!q) {
        o.error = q.error().to_string();
        co_return o;
    }
    RawHost& a = *q->admin;
    Sqe aer = make_sqe(static_cast<uint8_t>(AdminOpc::AsyncEventRequest));
    aer.cid = 901;
    std::vector<uint8_t> pdu(tcp::kMaxHeaderSize);
    pdu.resize(tcp::encode_capsule_cmd(std::span<uint8_t>(pdu), a.params(), aer, 0));
    co_await a.send_raw(pdu);
    std::thread(add).detach();
    auto p = co_await a.recv_pdu();
    if (!p) {
        o.error = p.error().to_string();
        co_return o;
    }
    if (const auto* r = std::get_if<tcp::CapsuleResp>(&p->pdu.body); r && r->cqe.cid == 901) {
        o.aen_dw0 = r->cqe.dw0;
    }
    co_await a.get_log_page(lid::kChangedNamespaceList, 4096, 0, &o.changed);
    co_await a.identify(cns::kActiveNamespaceList, 0, &o.active);
    auto data = pattern(512, 3);
    auto w = co_await q->io->write(2, 0, data, true);
    o.io2_before = w ? w->status() : nvme::Status{Sct::Vendor, 0xff, false};
    std::thread t(remove);
    t.join();  // remove_namespace does not wait for the reactors
    // Idle queues let go of the removed namespace's descriptor soon, without a command.
    for (int i = 0; i < 100 && dev2->open_count() != 0; ++i) {
        co_await sleep_for(std::chrono::milliseconds(10));
    }
    o.open_after_remove = dev2->open_count();
    w = co_await q->io->write(2, 0, data, true);
    o.io2_after = w ? w->status() : nvme::Status{Sct::Vendor, 0xff, false};
    co_return o;
}

TEST_F(TargetTest, NamespacesAddedAndRemovedAtRunTime) {
    auto dev2 = make_device("malloc:///tgt1?size_mb=1&blk_size=512");
    ASSERT_TRUE(dev2);
    uint16_t port = target->replica_port();
    NvmfTarget* t = target.get();
    std::string n = nqn;
    auto add = [t, n, dev2] { ASSERT_EQ(*t->add_namespace(n, dev2), 2u); };
    auto remove = [t, n] { ASSERT_TRUE(t->remove_namespace(n, 2)); };
    auto o = run([&]() { return ns_round(port, nqn, add, remove, dev2); });
    ASSERT_EQ(o.error, "");
    EXPECT_EQ((o.aen_dw0 >> 8) & 0xff, aen::kInfoNamespaceAttributeChanged);
    EXPECT_EQ((o.aen_dw0 >> 16) & 0xff, lid::kChangedNamespaceList);
    EXPECT_EQ(get_le<uint32_t>(o.changed, 0), 2u);
    EXPECT_EQ(get_le<uint32_t>(o.active, 0), 1u);
    EXPECT_EQ(get_le<uint32_t>(o.active, 4), 2u);
    EXPECT_TRUE(o.io2_before.ok());
    EXPECT_EQ(o.io2_after.sc, sc::kInvalidNamespaceOrFormat);
    EXPECT_EQ(o.open_after_remove, 0);
    EXPECT_FALSE(target->remove_namespace(nqn, 2));
}

Task<std::string> kato_round(uint16_t port, std::string nqn) {
    auto q = co_await open_queues(port, nqn, false, false, 300);
    if (!q) {
        co_return q.error().to_string();
    }
    // Keep-alives keep it up for a while...
    for (int i = 0; i < 6; ++i) {
        co_await sleep_for(std::chrono::milliseconds(100));
        auto c = co_await q->admin->command(make_sqe(static_cast<uint8_t>(AdminOpc::KeepAlive)));
        if (!c || !c->status().ok()) {
            co_return "keep-alive failed";
        }
    }
    // ... then silence: both queues are closed.
    auto start = std::chrono::steady_clock::now();
    co_await q->admin->wait_closed();
    co_await q->io->wait_closed();
    auto took = std::chrono::steady_clock::now() - start;
    if (took > std::chrono::seconds(3)) {
        co_return "took too long";
    }
    co_return "";
}

TEST_F(TargetTest, KeepAliveExpiryClosesTheController) {
    uint16_t port = target->replica_port();
    EXPECT_EQ(run([port, this]() { return kato_round(port, nqn); }), "");
    EXPECT_TRUE(target->subsystems()[0].controllers.empty());
}

TEST_F(TargetTest, RemoveSubsystemDisconnectsHosts) {
    uint16_t port = target->replica_port();
    auto q = run([port, this]() { return open_queues(port, nqn); });
    ASSERT_TRUE(q) << q.error().to_string();
    ASSERT_EQ(target->subsystems()[0].controllers.size(), 1u);
    ASSERT_TRUE(target->remove_subsystem(nqn));
    EXPECT_FALSE(target->has_subsystem(nqn));
    EXPECT_EQ(dev->open_count(), 0);
    RawHost* admin = q->admin.get();
    RawHost* io = q->io.get();
    EXPECT_TRUE(run([admin]() { return admin->wait_closed(); }));
    EXPECT_TRUE(run([io]() { return io->wait_closed(); }));
    // Sharing it again works, and the same device again is idempotent.
    SubsystemSpec spec;
    spec.device = dev;
    ASSERT_TRUE(target->add_subsystem(spec));
    ASSERT_TRUE(target->add_subsystem(spec));
    auto other = make_device("malloc:///tgt2?size_mb=1");
    spec.device = other;
    spec.nqn = nqn;
    auto e = target->add_subsystem(spec);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, EEXIST);
    spec.nqn = "not an nqn";
    e = target->add_subsystem(spec);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code, EINVAL);
    run([&q]() -> Task<void> {
        q->admin.reset();
        q->io.reset();
        co_return;
    });
}

TEST_F(TargetTest, VendorSnapshotHookIsCalled) {
    std::atomic<uint64_t> seen{0};
    auto d2 = make_device("malloc:///tgt3?size_mb=1");
    SubsystemSpec spec;
    spec.device = d2;
    spec.hooks.create_snapshot = [&seen](uint64_t t) -> Task<ms::Status> {
        seen = t;
        co_return ok();
    };
    auto n = target->add_subsystem(spec);
    ASSERT_TRUE(n);
    uint16_t port = target->replica_port();
    std::string sub = *n;
    auto st = run([port, sub]() -> Task<nvme::Status> {
        auto q = co_await open_queues(port, sub);
        if (!q) {
            co_return nvme::Status{Sct::Vendor, 0xff, false};
        }
        Sqe s = make_sqe(static_cast<uint8_t>(AdminOpc::VendorCreateSnapshot));
        s.cdw10 = 0x12345678;
        s.cdw11 = 0x1;
        auto c = co_await q->admin->command(s);
        co_return c ? c->status() : nvme::Status{Sct::Vendor, 0xfe, false};
    });
    EXPECT_TRUE(st.ok());
    EXPECT_EQ(seen.load(), 0x112345678ull);
}

}  // namespace
}  // namespace ms::nvmf::test
