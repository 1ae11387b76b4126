// LatencyHistogram: a fixed-size log-linear histogram of non-negative integer samples
// (nanoseconds, typically). Recording is one index computation and one increment: no allocation,
// no lock, so one histogram per core can sit on the I/O path and be merged at the end.
//
// Values below 2^kSubBucketBits are counted exactly; above, each power-of-two range is split into
// 2^(kSubBucketBits-1) equal buckets, so a reported value is within 1/2^kSubBucketBits of the
// truth (0.8 % with 7 bits) over the whole 64-bit range.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

namespace ms {

class LatencyHistogram {
   public:
    static constexpr unsigned kSubBucketBits = 7;
    static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // exact range
    static constexpr uint64_t kHalf = kSubBuckets / 2;
    static constexpr std::size_t kBuckets = (64 - kSubBucketBits + 2) * kHalf;

    void record(uint64_t value) noexcept {
        ++_counts[bucket_of(value)];
        ++_count;
        _sum += value;
        _min = value < _min ? value : _min;
        _max = value > _max ? value : _max;
    }

    // Adds every sample of `other`.
    void merge(const LatencyHistogram& other) noexcept;
    void reset() noexcept;

    uint64_t count() const { return _count; }
    // Exact (kept beside the buckets); 0 when empty.
    uint64_t min() const { return _count == 0 ? 0 : _min; }
    uint64_t max() const { return _max; }
    double mean() const {
        return _count == 0 ? 0.0 : static_cast<double>(_sum) / static_cast<double>(_count);
    }
    // The value at or below which `p` percent of the samples fall (p in [0, 100]): the middle of
    // the bucket holding that rank, clamped to [min, max]. 0 when empty.
    uint64_t percentile(double p) const;

    static std::size_t bucket_of(uint64_t value) noexcept {
        if (value < kSubBuckets) {
            return static_cast<std::size_t>(value);
        }
        unsigned shift = static_cast<unsigned>(std::bit_width(value)) - kSubBucketBits;
        return static_cast<std::size_t>(shift * kHalf + (value >> shift));
    }
    // Smallest and largest value that fall into bucket `i`.
    static uint64_t bucket_low(std::size_t i) noexcept;
    static uint64_t bucket_high(std::size_t i) noexcept;

   private:
    std::array<uint64_t, kBuckets> _counts{};
    uint64_t _count = 0;
    uint64_t _sum = 0;
    uint64_t _min = std::numeric_limits<uint64_t>::max();
    uint64_t _max = 0;
};

}  // namespace ms
