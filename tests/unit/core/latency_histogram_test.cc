#include "core/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

using namespace ms;

namespace {

// The exact p-th percentile of `v` by the same rank rule (nearest rank, ceil).
uint64_t exact_percentile(std::vector<uint64_t> v, double p) {
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    rank = std::clamp<std::size_t>(rank, 1, v.size());
    return v[rank - 1];
}

// Relative error allowed by the bucket width (1 / 2^kSubBucketBits), plus one for rounding.
void expect_close(uint64_t got, uint64_t want) {
    double tol = static_cast<double>(want) / static_cast<double>(LatencyHistogram::kSubBuckets) + 1.0;
    EXPECT_NEAR(static_cast<double>(got), static_cast<double>(want), tol) << "want " << want;
}

}  // namespace

TEST(LatencyHistogram, EmptyReportsZeros) {
    auto h = std::make_unique<LatencyHistogram>();
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->min(), 0u);
    EXPECT_EQ(h->max(), 0u);
    EXPECT_EQ(h->mean(), 0.0);
    EXPECT_EQ(h->percentile(99), 0u);
}

TEST(LatencyHistogram, BucketsCoverTheRangeWithoutGaps) {
    using H = LatencyHistogram;
    EXPECT_EQ(H::bucket_low(0), 0u);
    for (std::size_t i = 1; i < H::kBuckets; ++i) {
        ASSERT_EQ(H::bucket_low(i), H::bucket_high(i - 1) + 1) << i;
    }
    EXPECT_EQ(H::bucket_high(H::kBuckets - 1), UINT64_MAX);
    for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{129}, uint64_t{1000},
                       uint64_t{123456789}, uint64_t{1} << 40, UINT64_MAX}) {
        std::size_t i = H::bucket_of(v);
        ASSERT_LT(i, H::kBuckets);
        EXPECT_LE(H::bucket_low(i), v);
        EXPECT_GE(H::bucket_high(i), v);
    }
}

TEST(LatencyHistogram, SmallValuesAreExact) {
    auto h = std::make_unique<LatencyHistogram>();
    for (uint64_t v = 1; v <= 100; ++v) {
        h->record(v);
    }
    EXPECT_EQ(h->count(), 100u);
    EXPECT_EQ(h->min(), 1u);
    EXPECT_EQ(h->max(), 100u);
    EXPECT_DOUBLE_EQ(h->mean(), 50.5);
    EXPECT_EQ(h->percentile(50), 50u);
    EXPECT_EQ(h->percentile(99), 99u);
    EXPECT_EQ(h->percentile(100), 100u);
    EXPECT_EQ(h->percentile(0), 1u);
}

TEST(LatencyHistogram, UniformDistributionPercentiles) {
    auto h = std::make_unique<LatencyHistogram>();
    std::vector<uint64_t> all;
    for (uint64_t v = 1; v <= 1'000'000; v += 7) {
        h->record(v);
        all.push_back(v);
    }
    for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9}) {
        expect_close(h->percentile(p), exact_percentile(all, p));
    }
    EXPECT_EQ(h->percentile(100), all.back());
}

TEST(LatencyHistogram, ExponentialDistributionPercentiles) {
    // Latencies have a long tail: an exponential around 20 us, in ns.
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> dist(1.0 / 20'000.0);
    auto h = std::make_unique<LatencyHistogram>();
    std::vector<uint64_t> all;
    for (int i = 0; i < 200'000; ++i) {
        auto v = static_cast<uint64_t>(dist(rng)) + 500;
        h->record(v);
        all.push_back(v);
    }
    for (double p : {50.0, 90.0, 99.0, 99.99}) {
        expect_close(h->percentile(p), exact_percentile(all, p));
    }
    double sum = 0;
    for (uint64_t v : all) {
        sum += static_cast<double>(v);
    }
    EXPECT_NEAR(h->mean(), sum / static_cast<double>(all.size()),
                1e-6 * sum / static_cast<double>(all.size()));
    EXPECT_EQ(h->min(), *std::min_element(all.begin(), all.end()));
    EXPECT_EQ(h->max(), *std::max_element(all.begin(), all.end()));
}

TEST(LatencyHistogram, BimodalP99FindsTheSlowMode) {
    // 98 % fast (10 us), 2 % slow (5 ms): p50 is fast, p99 is slow.
    auto h = std::make_unique<LatencyHistogram>();
    for (int i = 0; i < 9800; ++i) {
        h->record(10'000);
    }
    for (int i = 0; i < 200; ++i) {
        h->record(5'000'000);
    }
    expect_close(h->percentile(50), 10'000);
    expect_close(h->percentile(98), 10'000);
    expect_close(h->percentile(99), 5'000'000);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> dist(10.0, 1.0);
    auto a = std::make_unique<LatencyHistogram>();
    auto b = std::make_unique<LatencyHistogram>();
    auto both = std::make_unique<LatencyHistogram>();
    for (int i = 0; i < 50'000; ++i) {
        auto v = static_cast<uint64_t>(dist(rng));
        (i % 3 == 0 ? *a : *b).record(v);
        both->record(v);
    }
    auto merged = std::make_unique<LatencyHistogram>();
    merged->merge(*a);
    merged->merge(*b);
    EXPECT_EQ(merged->count(), both->count());
    EXPECT_EQ(merged->min(), both->min());
    EXPECT_EQ(merged->max(), both->max());
    EXPECT_DOUBLE_EQ(merged->mean(), both->mean());
    for (double p : {0.0, 25.0, 50.0, 75.0, 99.0, 99.9, 100.0}) {
        EXPECT_EQ(merged->percentile(p), both->percentile(p)) << p;
    }
}

TEST(LatencyHistogram, MergeIntoEmptyAndReset) {
    auto a = std::make_unique<LatencyHistogram>();
    auto empty = std::make_unique<LatencyHistogram>();
    a->record(300);
    a->record(900);
    a->merge(*empty);
    EXPECT_EQ(a->count(), 2u);
    EXPECT_EQ(a->min(), 300u);
    empty->merge(*a);
    EXPECT_EQ(empty->count(), 2u);
    EXPECT_EQ(empty->min(), 300u);
    EXPECT_EQ(empty->max(), 900u);
    a->reset();
    EXPECT_EQ(a->count(), 0u);
    EXPECT_EQ(a->min(), 0u);
    EXPECT_EQ(a->percentile(50), 0u);
}
