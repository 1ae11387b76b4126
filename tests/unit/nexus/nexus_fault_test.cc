// Children that fail: faulted while I/O runs (no acknowledged write lost), and the rules that
// keep the last healthy child in service.
#include "nexus_test_util.h"

namespace ms::test {
namespace {

class NexusFaultTest : public NexusTest {};

// Writers on both cores run verified streams; an error injected on one child in the middle
// faults it, and every acknowledged write is on every surviving child.
TEST_F(NexusFaultTest, ChildFaultedInTheMiddleOfAWriteStream) {
    auto a = disk("f1", 8);
    auto b = disk("f2", 8);
    disk("f3", 8);
    const std::string e = "error:///fe3?base=f3";
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-f", 4 * MiB, u, {a, b, e})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    constexpr std::size_t kPerCore = 1500;
    constexpr std::size_t kLen = 1024;
    std::atomic<int> acked{0};
    std::vector<std::atomic<int>> ok_writes(2 * kPerCore);
    std::vector<std::atomic<int>> failed(2);
    auto writer = [&](std::size_t core) {
        run_on(_rt.reactor(core), [&]() -> Task<void> {
            auto buf = d->dma_malloc(kLen);
            for (std::size_t i = 0; i < kPerCore; ++i) {
                std::size_t k = core * kPerCore + i;
                auto data = random_bytes(kLen, 1000 + k);
                std::memcpy(buf->data(), data.data(), kLen);
                Status s = co_await d->write_at(k * kLen, *buf);
                if (s) {
                    ok_writes[k] = 1;
                    acked.fetch_add(1);
                } else {
                    failed[core].fetch_add(1);
                }
            }
        });
    };
    std::thread t0(writer, 0);
    std::thread t1(writer, 1);
    ASSERT_TRUE(eventually([&] { return acked.load() >= 300; }));
    error_device("fe3")->inject(fail_writes());
    t0.join();
    t1.join();
    EXPECT_EQ(failed[0].load() + failed[1].load(), 0);
    EXPECT_GT(error_device("fe3")->injected_failures(), 0u);
    EXPECT_LT(acked.load(), static_cast<int>(2 * kPerCore) + 1);

    NexusInfo i = info(u);
    EXPECT_EQ(i.state, NexusState::Degraded);
    EXPECT_EQ(child_info(u, e).state, ChildState::Faulted);
    EXPECT_EQ(child_info(u, e).reason, FaultReason::IoError);
    EXPECT_EQ(child_info(u, a).state, ChildState::Open);
    EXPECT_EQ(child_info(u, b).state, ChildState::Open);
    for (const char* n : {"f1", "f2"}) {
        SCOPED_TRACE(n);
        auto all = device_bytes(_rt, n, 0, 2 * kPerCore * kLen);
        ASSERT_EQ(all.size(), 2 * kPerCore * kLen);
        for (std::size_t k = 0; k < 2 * kPerCore; ++k) {
            ASSERT_EQ(ok_writes[k].load(), 1) << k;
            ASSERT_TRUE(same_bytes(std::span(all).subspan(k * kLen, kLen), random_bytes(kLen, 1000 + k)))
                << "write " << k;
        }
    }
    // Reads go to the open children only (the faulted one would fail nothing, but must not
    // be read: it missed writes).
    const auto before = DeviceRegistry::instance().lookup("fe3")->stats().num_read_ops;
    for (int r = 0; r < 10; ++r) {
        auto back = read(_rt, *d, r * kLen, kLen, 1, r % 2);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, random_bytes(kLen, 1000 + r)));
    }
    EXPECT_EQ(DeviceRegistry::instance().lookup("fe3")->stats().num_read_ops, before);
}

TEST_F(NexusFaultTest, ReadErrorRetriesOnAnotherChild) {
    auto a = disk("rr1", 8);
    disk("rr2", 8);
    const std::string e = "error:///rre2?base=rr2";
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-rr", 4 * MiB, u, {a, e})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    auto data = random_bytes(8192, 3);
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, data)));
    ErrorInjection rule;
    rule.types = io_type_bit(IoType::Read);
    error_device("rre2")->inject(rule);
    for (int r = 0; r < 4; ++r) {
        auto back = read(_rt, *d, 0, data.size());
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, data));
    }
    EXPECT_EQ(error_device("rre2")->injected_failures(), 1u);
    EXPECT_EQ(child_info(u, e).state, ChildState::Faulted);
    EXPECT_EQ(child_info(u, e).reason, FaultReason::IoError);
    EXPECT_EQ(info(u).state, NexusState::Degraded);
}

TEST_F(NexusFaultTest, LastHealthyChildIsKept) {
    auto a = disk("l1", 8);
    auto b = disk("l2", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-l", 4 * MiB, u, {a, b})));
    EXPECT_TRUE(fails_with(fault_child(_rt, u, "bdev:///other"), ENOENT));
    ASSERT_TRUE(is_ok(fault_child(_rt, u, b)));
    EXPECT_EQ(child_info(u, b).state, ChildState::Faulted);
    EXPECT_EQ(child_info(u, b).reason, FaultReason::AdminCommand);
    EXPECT_EQ(info(u).state, NexusState::Degraded);
    EXPECT_TRUE(fails_with(fault_child(_rt, u, a), EBUSY, {"last healthy"}));
    EXPECT_TRUE(fails_with(offline_child(_rt, u, a), EBUSY, {"last healthy"}));
    EXPECT_EQ(child_info(u, a).state, ChildState::Open);
    // I/O still works on the one left.
    auto d = open_nexus(u);
    auto data = random_bytes(4096, 5);
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, data)));
    EXPECT_TRUE(same_bytes(device_bytes(_rt, "l1", 0, 4096), data));
    EXPECT_FALSE(same_bytes(device_bytes(_rt, "l2", 0, 4096), data));
}

TEST_F(NexusFaultTest, SingleChildCannotBeFaultedOrRemoved) {
    auto a = disk("s1", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-s", 4 * MiB, u, {a})));
    EXPECT_TRUE(fails_with(fault_child(_rt, u, a), EBUSY));
    EXPECT_TRUE(fails_with(remove_child(_rt, u, a), EINVAL, {"last child"}));
    EXPECT_TRUE(is_ok(remove_child(_rt, u, "bdev:///not-a-child")));
    EXPECT_EQ(info(u).state, NexusState::Online);
}

// An error on the last open child goes back to the caller; the child stays open.
TEST_F(NexusFaultTest, IoErrorOnLastOpenChildIsReturned) {
    disk("le1", 8);
    disk("le2", 8);
    const std::string e1 = "error:///lee1?base=le1";
    const std::string e2 = "error:///lee2?base=le2";
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-le", 4 * MiB, u, {e1, e2})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    error_device("lee1")->inject(fail_writes());
    error_device("lee2")->inject(fail_writes());
    // Both fail: one is faulted, the other is the last open child and is kept.
    auto data = random_bytes(4096, 11);
    EXPECT_TRUE(fails_with(write(_rt, *d, 0, data), EIO));
    NexusInfo i = info(u);
    EXPECT_EQ(i.state, NexusState::Degraded);
    int open = 0;
    for (const auto& c : i.children) {
        open += c.state == ChildState::Open ? 1 : 0;
    }
    EXPECT_EQ(open, 1);
    // Later writes fail the same way and the last child stays open.
    EXPECT_TRUE(fails_with(write(_rt, *d, 4096, data, 1, 1), EIO));
    EXPECT_EQ(info(u).state, NexusState::Degraded);
    error_device("lee1")->clear();
    error_device("lee2")->clear();
    EXPECT_TRUE(is_ok(write(_rt, *d, 0, data)));
    auto back = read(_rt, *d, 0, data.size());
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
}

TEST_F(NexusFaultTest, SingleChildIoErrorIsReturned) {
    disk("se1", 8);
    const std::string e = "error:///see1?base=se1";
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-se", 4 * MiB, u, {e})));
    auto d = open_nexus(u);
    ErrorInjection rule;
    rule.types = io_type_bit(IoType::Write) | io_type_bit(IoType::Read);
    rule.count = 2;
    error_device("see1")->inject(rule);
    EXPECT_TRUE(fails_with(write(_rt, *d, 0, random_bytes(512, 1)), EIO));
    EXPECT_TRUE(fails_with(read(_rt, *d, 0, 512), EIO));
    EXPECT_EQ(child_info(u, e).state, ChildState::Open);
    EXPECT_EQ(info(u).state, NexusState::Online);
    EXPECT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(512, 1))));
}

TEST_F(NexusFaultTest, RemoveChildWhileIdle) {
    auto a = disk("rm1", 8);
    auto b = disk("rm2", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-rm", 4 * MiB, u, {a, b})));
    auto d = open_nexus(u);
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(4096, 1), 1, 1)));
    ASSERT_TRUE(is_ok(remove_child(_rt, u, b)));
    EXPECT_EQ(info(u).children.size(), 1u);
    EXPECT_EQ(info(u).state, NexusState::Online);
    EXPECT_EQ(DeviceRegistry::instance().lookup("rm2")->claimed_by(), "");
    EXPECT_EQ(DeviceRegistry::instance().lookup("rm2")->open_count(), 0);
    auto data = random_bytes(4096, 2);
    const auto w2 = DeviceRegistry::instance().lookup("rm2")->stats().num_write_ops;
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, data, 1, 1)));
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, data, 1, 0)));
    EXPECT_EQ(DeviceRegistry::instance().lookup("rm2")->stats().num_write_ops, w2);
    EXPECT_TRUE(same_bytes(device_bytes(_rt, "rm1", 0, 4096), data));
}

}  // namespace
}  // namespace ms::test
