#include "core/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace ms {

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < kBuckets; ++i) {
        _counts[i] += other._counts[i];
    }
    _count += other._count;
    _sum += other._sum;
    _min = std::min(_min, other._min);
    _max = std::max(_max, other._max);
}

void LatencyHistogram::reset() noexcept {
    *this = LatencyHistogram{};
}

uint64_t LatencyHistogram::bucket_low(std::size_t i) noexcept {
    if (i < kSubBuckets) {
        return i;
    }
    unsigned shift = static_cast<unsigned>(i / kHalf) - 1;
    uint64_t top = i - shift * kHalf;
    return top << shift;
}

uint64_t LatencyHistogram::bucket_high(std::size_t i) noexcept {
    if (i < kSubBuckets) {
        return i;
    }
    unsigned shift = static_cast<unsigned>(i / kHalf) - 1;
    return bucket_low(i) + ((uint64_t{1} << shift) - 1);
}

uint64_t LatencyHistogram::percentile(double p) const {
    if (_count == 0) {
        return 0;
    }
    p = std::clamp(p, 0.0, 100.0);
    // The rank (1-based) of the sample asked for.
    auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(_count)));
    if (rank <= 1) {
        return min();
    }
    if (rank >= _count) {
        return _max;
    }
    uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
        seen += _counts[i];
        if (seen >= rank) {
            uint64_t low = bucket_low(i);
            uint64_t mid = low + (bucket_high(i) - low) / 2;
            return std::clamp(mid, min(), _max);
        }
    }
    return _max;
}

}  // namespace ms
