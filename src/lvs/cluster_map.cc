#include "lvs/cluster_map.h"

#include <algorithm>

namespace ms::lvs {

ClusterMap::ClusterMap(uint32_t clusters)
    : _clusters(clusters), _chunks((uint64_t{clusters} + kChunk - 1) >> kChunkShift) {}

void ClusterMap::set(uint32_t k, uint32_t physical) {
    auto& c = _chunks[k >> kChunkShift];
    if (!c) {
        c = std::make_unique<uint32_t[]>(kChunk);
        std::fill(c.get(), c.get() + kChunk, kNoCluster);
    }
    uint32_t& slot = c[k & (kChunk - 1)];
    if (slot == kNoCluster) {
        ++_allocated;
    }
    slot = physical;
}

void ClusterMap::clear(uint32_t k) {
    auto& c = _chunks[k >> kChunkShift];
    if (c && c[k & (kChunk - 1)] != kNoCluster) {
        c[k & (kChunk - 1)] = kNoCluster;
        --_allocated;
    }
}

std::vector<Extent> ClusterMap::extents() const {
    std::vector<Extent> out;
    for_each([&](uint32_t l, uint32_t p) {
        if (!out.empty()) {
            Extent& last = out.back();
            if (last.logical + last.count == l && last.physical + last.count == p) {
                ++last.count;
                return;
            }
        }
        out.push_back({l, p, 1});
    });
    return out;
}

}  // namespace ms::lvs
