// An lvol's map from logical to physical cluster: two levels (a vector of 512-entry chunks
// made on first use), so a thin lvol of any size costs memory only where it has clusters and
// a lookup is two loads. Used on the data path: no locks, lookups never allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lvs/format.h"
#include "lvs/record.h"

namespace ms::lvs {

class ClusterMap {
   public:
    static constexpr uint32_t kChunkShift = 9;
    static constexpr uint32_t kChunk = 1u << kChunkShift;

    ClusterMap() = default;
    explicit ClusterMap(uint32_t clusters);
    ClusterMap(ClusterMap&&) noexcept = default;
    ClusterMap& operator=(ClusterMap&&) noexcept = default;

    uint32_t clusters() const { return _clusters; }
    // Physical cluster of logical cluster k (< clusters()), or kNoCluster.
    uint32_t get(uint32_t k) const {
        const auto& c = _chunks[k >> kChunkShift];
        return c ? c[k & (kChunk - 1)] : kNoCluster;
    }
    void set(uint32_t k, uint32_t physical);
    void clear(uint32_t k);
    uint32_t allocated() const { return _allocated; }

    // Calls f(logical, physical) for every mapped cluster, in logical order.
    template <typename F>
    void for_each(F f) const {
        for (std::size_t c = 0; c < _chunks.size(); ++c) {
            if (!_chunks[c]) {
                continue;
            }
            for (uint32_t i = 0; i < kChunk; ++i) {
                uint32_t p = _chunks[c][i];
                if (p != kNoCluster) {
                    f(static_cast<uint32_t>((c << kChunkShift) + i), p);
                }
            }
        }
    }
    // The map as runs of consecutive logical clusters in consecutive physical clusters.
    std::vector<Extent> extents() const;

   private:
    uint32_t _clusters = 0;
    uint32_t _allocated = 0;
    std::vector<std::unique_ptr<uint32_t[]>> _chunks;
};

// One bit per data cluster.
class ClusterBitmap {
   public:
    ClusterBitmap() = default;
    explicit ClusterBitmap(uint32_t clusters)
        : _clusters(clusters), _words((uint64_t{clusters} + 63) / 64, 0) {}

    uint32_t size() const { return _clusters; }
    bool test(uint32_t i) const { return (_words[i >> 6] >> (i & 63)) & 1; }
    void set(uint32_t i) { _words[i >> 6] |= uint64_t{1} << (i & 63); }
    void clear(uint32_t i) { _words[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
    const std::vector<uint64_t>& words() const { return _words; }

   private:
    uint32_t _clusters = 0;
    std::vector<uint64_t> _words;
};

}  // namespace ms::lvs
