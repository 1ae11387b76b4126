// The LBA range lock rebuilds copy under: writes to a locked range wait (on every core),
// other writes and reads do not, and a lock waits for writes in flight in its range.
#include "nexus_test_util.h"

namespace ms::test {
namespace {

class NexusRangeLockTest : public NexusTest {};

struct Pending {
    std::atomic<int> done{0};
    Status status;
};

Task<void> write_block(Descriptor* d, DmaBuf* buf, uint64_t offset, Pending* p) {
    p->status = co_await d->write_at(offset, *buf);
    p->done.store(1);
}

Task<void> take_lock(nexus::Nexus* n, uint64_t offset, uint64_t blocks,
                     std::unique_ptr<nexus::RangeLock>* out, std::atomic<int>* locked) {
    *out = co_await n->lock_range(offset, blocks);
    locked->store(1);
}

Task<void> read_block(Descriptor* d, DmaBuf* buf, uint64_t offset, Pending* p) {
    p->status = co_await d->read_at(offset, *buf);
    p->done.store(1);
}

TEST_F(NexusRangeLockTest, WriteInLockedRangeWaitsUntilUnlocked) {
    auto a = disk("k1", 8);
    auto b = disk("k2", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-k", 4 * MiB, u, {a, b})));
    auto n = nexus_object(u);
    auto d = open_nexus(u);
    ASSERT_TRUE(n && d);
    // Both cores have a channel before the lock.
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(512, 1), 1, 0)));
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, random_bytes(512, 1), 1, 1)));

    std::unique_ptr<nexus::RangeLock> lock = run_on(_rt.reactor(0), [&]() { return n->lock_range(8, 8); });
    ASSERT_TRUE(lock);
    auto inside = d->dma_malloc(512);
    auto outside = d->dma_malloc(512);
    auto rbuf = d->dma_malloc(512);
    auto data = random_bytes(512, 42);
    std::memcpy(inside->data(), data.data(), 512);
    std::memcpy(outside->data(), data.data(), 512);
    Pending held, free_write, reading;
    _rt.reactor(1).post([&] { _rt.reactor(1).spawn(write_block(d.get(), &*inside, 12 * 512, &held)); });
    _rt.reactor(0).post(
        [&] { _rt.reactor(0).spawn(write_block(d.get(), &*outside, 16 * 512, &free_write)); });
    _rt.reactor(1).post([&] { _rt.reactor(1).spawn(read_block(d.get(), &*rbuf, 12 * 512, &reading)); });
    ASSERT_TRUE(eventually([&] { return free_write.done.load() == 1 && reading.done.load() == 1; }));
    EXPECT_TRUE(is_ok(free_write.status));
    EXPECT_TRUE(is_ok(reading.status));
    // The held write has had every chance to run (a write beside it and a read after it on
    // its own core finished), and has not.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(held.done.load(), 0);
    EXPECT_FALSE(same_bytes(device_bytes(_rt, "k1", 12 * 512, 512), data));
    run_on(_rt.reactor(0), [&]() -> Task<void> {
        lock.reset();
        co_return;
    });
    ASSERT_TRUE(eventually([&] { return held.done.load() == 1; }));
    EXPECT_TRUE(is_ok(held.status));
    EXPECT_TRUE(same_bytes(device_bytes(_rt, "k1", 12 * 512, 512), data));
    EXPECT_TRUE(same_bytes(device_bytes(_rt, "k2", 12 * 512, 512), data));
}

TEST_F(NexusRangeLockTest, LockWaitsForWritesInFlight) {
    auto g = gate("kg", 8192);
    auto a = disk("kg1", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-kg", 4 * MiB, u, {a, "bdev:///kg"})));
    auto n = nexus_object(u);
    auto d = open_nexus(u);
    auto buf = d->dma_malloc(512);
    Pending w;
    g->hold_writes = true;
    _rt.reactor(1).post([&] { _rt.reactor(1).spawn(write_block(d.get(), &*buf, 4 * 512, &w)); });
    ASSERT_TRUE(eventually([&] { return g->held.load() == 1; }));
    std::atomic<int> locked{0};
    std::unique_ptr<nexus::RangeLock> lock;
    std::unique_ptr<nexus::RangeLock> other;
    run_on(_rt.reactor(0), [&]() -> Task<void> {
        // The first lock's messages reach each core before the second's: once the second is
        // granted, the first has been seen everywhere and is waiting for the held write.
        Reactor::current()->spawn(take_lock(n.get(), 0, 8, &lock, &locked));
        co_await yield();
        other = co_await n->lock_range(100, 8);
        other.reset();
    });
    EXPECT_EQ(locked.load(), 0);
    g->hold_writes = false;
    ASSERT_TRUE(eventually([&] { return locked.load() == 1; }));
    EXPECT_EQ(w.done.load(), 1);
    EXPECT_TRUE(is_ok(w.status));
    run_on(_rt.reactor(0), [&]() -> Task<void> {
        lock.reset();
        co_return;
    });
    g.reset();
}

}  // namespace
}  // namespace ms::test
