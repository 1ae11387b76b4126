// The store record of current children: written at create and on every change, removed at
// destroy, kept at shutdown; no I/O acknowledged after a child went stale until the record
// says so; a restart from a record rebuilds stale children from current ones.
#include "nexus/health_record.h"
#include "nexus_test_util.h"

namespace ms::test {
namespace {

class NexusPersistTest : public NexusTest {
   protected:
    void SetUp() override {
        NexusTest::SetUp();
        _store = std::make_shared<MemoryStore>();
        nexuses().set_store(_store);
    }
    nexus::HealthRecord record(const Uuid& u) {
        auto v = _store->value(nexus::health_record_key(u));
        EXPECT_TRUE(v.has_value());
        if (!v) {
            return {};
        }
        auto r = nexus::decode_health_record(*v);
        EXPECT_TRUE(is_ok(r));
        return r ? *r : nexus::HealthRecord{};
    }
    void put_record(const Uuid& u, const nexus::HealthRecord& r) {
        std::lock_guard g(_store->mutex);
        _store->data[nexus::health_record_key(u)] = nexus::encode_health_record(r);
    }
    std::shared_ptr<MemoryStore> _store;
};

TEST_F(NexusPersistTest, RecordFollowsTheChildren) {
    auto a = disk("h1", 8);
    auto b = disk("h2", 8);
    auto c = disk("h3", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-h", 4 * MiB, u, {a, b})));
    auto r = record(u);
    EXPECT_EQ(r.name, "nexus-h");
    EXPECT_EQ(r.size, 4 * MiB);
    ASSERT_EQ(r.children.size(), 2u);
    EXPECT_TRUE(r.is_current(a));
    EXPECT_TRUE(r.is_current(b));

    ASSERT_TRUE(is_ok(fault_child(_rt, u, b)));
    EXPECT_FALSE(record(u).is_current(b));
    EXPECT_TRUE(record(u).is_current(a));

    ASSERT_TRUE(is_ok(add_child(_rt, u, c, true)));
    ASSERT_EQ(record(u).children.size(), 3u);
    EXPECT_FALSE(record(u).is_current(c));
    ASSERT_TRUE(is_ok(start_rebuild(_rt, u, c)));
    ASSERT_TRUE(eventually([&] { return child_info(u, c).state == ChildState::Open; }));
    EXPECT_TRUE(record(u).is_current(c));

    ASSERT_TRUE(is_ok(remove_child(_rt, u, b)));
    EXPECT_EQ(record(u).children.size(), 2u);
    ASSERT_TRUE(is_ok(offline_child(_rt, u, c)));
    EXPECT_FALSE(record(u).is_current(c));

    ASSERT_TRUE(is_ok(destroy_nexus(_rt, u)));
    EXPECT_FALSE(_store->value(nexus::health_record_key(u)).has_value());
}

TEST_F(NexusPersistTest, ShutdownKeepsTheRecord) {
    auto a = disk("k1", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-k", 4 * MiB, u, {a})));
    run_on(_rt.reactor(0), []() { return nexuses().shutdown_all(); });
    EXPECT_TRUE(nexuses().list().empty());
    EXPECT_FALSE(DeviceRegistry::instance().lookup("nexus-k"));
    EXPECT_TRUE(record(u).is_current(a));
    EXPECT_EQ(DeviceRegistry::instance().lookup("k1")->claimed_by(), "");
}

// A write whose child fails is acknowledged only once the store records the child as stale;
// so is a write that completes meanwhile without it.
TEST_F(NexusPersistTest, NoAcknowledgementBeforeTheStoreKnows) {
    auto a = disk("s1", 8);
    disk("s2", 8);
    const std::string e = "error:///se2?base=s2";
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-s", 4 * MiB, u, {a, e})));
    auto d = open_nexus(u);
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(4096, 1), 1, 0)));
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(4096, 1), 1, 1)));
    const int puts = _store->puts_started.load();
    _store->hold_puts = true;
    error_device("se2")->inject(fail_writes());

    auto b1 = d->dma_malloc(4096);
    auto b2 = d->dma_malloc(4096);
    std::memset(b1->data(), 0x11, 4096);
    std::memset(b2->data(), 0x22, 4096);
    std::atomic<int> done1{0}, done2{0};
    Status s1, s2;
    _rt.reactor(1).post([&] {
        _rt.reactor(1).spawn([](Descriptor* dd, DmaBuf* b, Status* s, std::atomic<int>* done) -> Task<void> {
            *s = co_await dd->write_at(8192, *b);
            done->store(1);
        }(d.get(), &*b1, &s1, &done1));
    });
    // The failing write has reached the store (its put is held).
    ASSERT_TRUE(eventually([&] { return _store->puts_started.load() > puts; }));
    EXPECT_EQ(child_info(u, e).state, ChildState::Faulted);
    // A second write from the other core, after the fault: reaches the healthy child only,
    // and is held too.
    _rt.reactor(0).post([&] {
        _rt.reactor(0).spawn([](Descriptor* dd, DmaBuf* b, Status* s, std::atomic<int>* done) -> Task<void> {
            *s = co_await dd->write_at(16384, *b);
            done->store(1);
        }(d.get(), &*b2, &s2, &done2));
    });
    ASSERT_TRUE(eventually(
        [&] { return same_bytes(device_bytes(_rt, "s1", 16384, 4096), std::vector<uint8_t>(4096, 0x22)); }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(done1.load(), 0);
    EXPECT_EQ(done2.load(), 0);
    EXPECT_TRUE(record(u).is_current(e));  // what the store still says

    _store->hold_puts = false;
    ASSERT_TRUE(eventually([&] { return done1.load() == 1 && done2.load() == 1; }));
    EXPECT_TRUE(is_ok(s1));
    EXPECT_TRUE(is_ok(s2));
    EXPECT_FALSE(record(u).is_current(e));
    EXPECT_TRUE(record(u).is_current(a));
}

// A store that cannot record the fault: the I/O fails rather than being acknowledged, until
// a retried put gets through.
TEST_F(NexusPersistTest, FailedPutFailsTheIo) {
    auto a = disk("fp1", 8);
    disk("fp2", 8);
    const std::string e = "error:///fpe2?base=fp2";
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-fp", 4 * MiB, u, {a, e})));
    auto d = open_nexus(u);
    _store->fail_puts = true;
    error_device("fpe2")->inject(fail_writes());
    EXPECT_TRUE(fails_with(write(_rt, *d, 0, random_bytes(4096, 1)), EIO, {"store"}));
    EXPECT_TRUE(fails_with(write(_rt, *d, 4096, random_bytes(4096, 1), 1, 1), EIO, {"store"}));
    EXPECT_TRUE(fails_with(fault_child(_rt, u, a), EBUSY));
    _store->fail_puts = false;
    ASSERT_TRUE(eventually([&] { return !record(u).is_current(e); }));
    EXPECT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(4096, 1))));
}

TEST_F(NexusPersistTest, CreateFromARecordRebuildsTheStaleChild) {
    auto a = disk("r1", 8);
    auto b = disk("r2", 8);
    fill("r1", 4 * MiB, 21);
    fill("r2", 4 * MiB, 22);
    Uuid u = Uuid::generate();
    put_record(u, nexus::HealthRecord{"nexus-r", 4 * MiB, {{a, true}, {b, false}}});
    auto made = create_nexus(_rt, "nexus-r", 4 * MiB, u, {b, a});
    ASSERT_TRUE(is_ok(made));
    EXPECT_EQ(made->children[0].state, ChildState::Faulted);
    EXPECT_EQ(made->children[0].reason, FaultReason::OutOfSync);
    EXPECT_EQ(made->children[1].state, ChildState::Open);
    // Reads never come from the stale child.
    auto d = open_nexus(u);
    const auto current = random_bytes(4 * MiB, 21);
    for (int i = 0; i < 4; ++i) {
        auto back = read(_rt, *d, 0, 4096, 1, i % 2);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, std::span(current).first(4096)));
    }
    ASSERT_TRUE(eventually([&] { return info(u).state == NexusState::Online; }));
    EXPECT_TRUE(same_bytes(device_bytes(_rt, "r2", 0, 4 * MiB), current));
    EXPECT_TRUE(record(u).is_current(b));
}

TEST_F(NexusPersistTest, ChildrenMissingFromTheRecordAreStale) {
    auto a = disk("m1", 8);
    auto b = disk("m2", 8);
    Uuid u = Uuid::generate();
    put_record(u, nexus::HealthRecord{"nexus-m", 4 * MiB, {{a, true}}});
    auto made = create_nexus(_rt, "nexus-m", 4 * MiB, u, {a, b});
    ASSERT_TRUE(is_ok(made));
    EXPECT_EQ(made->children[1].reason, FaultReason::OutOfSync);
    ASSERT_TRUE(eventually([&] { return info(u).state == NexusState::Online; }));
}

TEST_F(NexusPersistTest, AllStaleIsRefused) {
    auto a = disk("x1", 8);
    auto b = disk("x2", 8);
    Uuid u = Uuid::generate();
    put_record(u, nexus::HealthRecord{"nexus-x", 4 * MiB, {{a, false}, {b, false}, {"bdev:///gone", true}}});
    const auto before = registry_names();
    EXPECT_TRUE(fails_with(create_nexus(_rt, "nexus-x", 4 * MiB, u, {a, b}), EUCLEAN));
    EXPECT_EQ(registry_names(), before);
    EXPECT_TRUE(nexuses().list().empty());
    EXPECT_EQ(DeviceRegistry::instance().lookup("x1")->claimed_by(), "");
    // The record is left as it was.
    EXPECT_TRUE(record(u).is_current("bdev:///gone"));
}

TEST_F(NexusPersistTest, CreateFailsWhenTheRecordCannotBeWritten) {
    auto a = disk("w1", 8);
    Uuid u = Uuid::generate();
    _store->fail_puts = true;
    const auto before = registry_names();
    EXPECT_TRUE(fails_with(create_nexus(_rt, "nexus-w", 4 * MiB, u, {a}), EIO));
    EXPECT_EQ(registry_names(), before);
    EXPECT_EQ(DeviceRegistry::instance().lookup("w1")->claimed_by(), "");
}

}  // namespace
}  // namespace ms::test
