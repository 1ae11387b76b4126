// I/O through a nexus: writes reach every child, reads come back and are spread over the
// children, concurrent writers on both cores, the other request types.
#include "nexus_test_util.h"

namespace ms::test {
namespace {

class NexusIoTest : public NexusTest {};

TEST_F(NexusIoTest, WriteReachesEveryChildAndReadsBack) {
    auto a = disk("w1", 8);
    auto b = disk("w2", 8);
    auto c = disk("w3", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-w", 4 * MiB, u, {a, b, c})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    auto data = random_bytes(64 * 1024, 7);
    ASSERT_TRUE(is_ok(write(_rt, *d, 1 * MiB, data, 3)));
    for (std::size_t r : {0u, 1u}) {
        auto back = read(_rt, *d, 1 * MiB, data.size(), 2, r);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, data));
    }
    for (const char* n : {"w1", "w2", "w3"}) {
        SCOPED_TRACE(n);
        EXPECT_TRUE(same_bytes(device_bytes(_rt, n, 1 * MiB, data.size()), data));
    }
    // Beyond the nexus's size (children are larger): refused by the descriptor.
    EXPECT_TRUE(fails_with(write(_rt, *d, 4 * MiB, data), ERANGE));
}

TEST_F(NexusIoTest, ReadsAreSpreadOverChildren) {
    auto a = disk("r1", 8);
    auto b = disk("r2", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-r", 4 * MiB, u, {a, b})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    const auto r1 = DeviceRegistry::instance().lookup("r1")->stats().num_read_ops;
    const auto r2 = DeviceRegistry::instance().lookup("r2")->stats().num_read_ops;
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(is_ok(read(_rt, *d, 4096 * i, 4096, 1, i % 2)));
    }
    const auto n1 = DeviceRegistry::instance().lookup("r1")->stats().num_read_ops - r1;
    const auto n2 = DeviceRegistry::instance().lookup("r2")->stats().num_read_ops - r2;
    EXPECT_EQ(n1 + n2, 20u);
    EXPECT_EQ(n1, 10u);
    EXPECT_EQ(n2, 10u);
}

TEST_F(NexusIoTest, OtherRequestTypesGoToEveryChild) {
    auto a = disk("o1", 8);
    auto b = disk("o2", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-o", 4 * MiB, u, {a, b})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    auto data = random_bytes(32 * 1024, 9);
    ASSERT_TRUE(is_ok(write(_rt, *d, 0, data)));
    ASSERT_TRUE(is_ok(unmap(_rt, *d, 0, 8192)));
    ASSERT_TRUE(is_ok(write_zeroes(_rt, *d, 16384, 8192)));
    ASSERT_TRUE(is_ok(flush(_rt, *d)));
    std::vector<uint8_t> expected = data;
    std::fill(expected.begin(), expected.begin() + 8192, 0);
    std::fill(expected.begin() + 16384, expected.begin() + 16384 + 8192, 0);
    for (const char* n : {"o1", "o2"}) {
        SCOPED_TRACE(n);
        EXPECT_TRUE(same_bytes(device_bytes(_rt, n, 0, data.size()), expected));
    }
    auto back = read(_rt, *d, 0, data.size());
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, expected));
}

// Writers on both reactors at once, each request its own block range, many in flight.
TEST_F(NexusIoTest, ConcurrentWritesFromBothReactors) {
    auto a = disk("cw1", 8);
    auto b = disk("cw2", 8);
    Uuid u = Uuid::generate();
    ASSERT_TRUE(is_ok(create_nexus(_rt, "nexus-cw", 4 * MiB, u, {a, b})));
    auto d = open_nexus(u);
    ASSERT_TRUE(d);
    constexpr std::size_t kPerCore = 256;
    constexpr std::size_t kLen = 4096;
    std::vector<std::vector<uint8_t>> patterns;
    std::vector<DmaBuf> bufs;
    for (std::size_t i = 0; i < 2 * kPerCore; ++i) {
        patterns.push_back(random_bytes(kLen, 100 + i));
        auto buf = d->dma_malloc(kLen);
        ASSERT_TRUE(is_ok(buf));
        std::memcpy(buf->data(), patterns.back().data(), kLen);
        bufs.push_back(std::move(*buf));
    }
    std::atomic<int> failures{0};
    auto writer = [&](std::size_t core) {
        detail::InflightState state(kPerCore);
        run_on(_rt.reactor(core), [&]() -> Task<void> {
            for (std::size_t i = 0; i < kPerCore; ++i) {
                std::size_t k = core * kPerCore + i;
                Reactor::current()->spawn(detail::one_request(d.get(), &bufs[k], k * kLen, true, i, &state));
            }
            while (state.completed.load() < static_cast<int>(kPerCore)) {
                co_await sleep_for(std::chrono::microseconds(100));
            }
        });
        failures += static_cast<int>(kPerCore) - state.succeeded.load();
    };
    std::thread t0(writer, 0);
    std::thread t1(writer, 1);
    t0.join();
    t1.join();
    EXPECT_EQ(failures.load(), 0);
    for (const char* n : {"cw1", "cw2"}) {
        SCOPED_TRACE(n);
        auto all = device_bytes(_rt, n, 0, 2 * kPerCore * kLen);
        ASSERT_EQ(all.size(), 2 * kPerCore * kLen);
        for (std::size_t k = 0; k < 2 * kPerCore; ++k) {
            ASSERT_TRUE(same_bytes(std::span(all).subspan(k * kLen, kLen), patterns[k])) << "request " << k;
        }
    }
}

}  // namespace
}  // namespace ms::test
