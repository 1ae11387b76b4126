#include <gtest/gtest.h>
#include "bdev_test_util.h"
namespace ms::test {
TEST(Probe, A_OnlyReadAt) {
    Runtime rt({});
    auto dev = create(rt, "null:///probe?size_mb=4");
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    auto buf = d->dma_malloc(4096);
    Status s = run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d->read_at(0, *buf); });
    EXPECT_TRUE(is_ok(s));
    d.reset(); dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "null:///probe")));
}
TEST(Probe, B_MallocReadAt) {
    Runtime rt({});
    auto dev = create(rt, "malloc:///probe?size_mb=4");
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    auto buf = d->dma_malloc(4096);
    Status s = run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d->read_at(0, *buf); });
    EXPECT_TRUE(is_ok(s));
    d.reset(); dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "malloc:///probe")));
}
TEST(Probe, C_NullReadv) {
    Runtime rt({});
    auto dev = create(rt, "null:///probe?size_mb=4");
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    EXPECT_TRUE(is_ok(read(rt, *d, 0, 4096)));
    d.reset(); dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, "null:///probe")));
}
}
