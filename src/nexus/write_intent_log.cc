// Write-intent log: one bit per region in 64-bit atomic words (see write_intent_log.h).
//
// Ordering: mark() uses relaxed fetch_or. A reader that must see every mark made before some
// event (the nexus reading the log when it brings a child back) gets that ordering from the
// event itself: the marks are made by writes that completed before the reader ran, and the
// completion reached the reader's reactor through a cross-core message (a release/acquire pair)
// or on the same thread. The counts and ranges are a snapshot; a mark racing with them may or
// may not be included.
#include "nexus/write_intent_log.h"

#include <bit>
#include <cassert>

namespace ms::nexus {

namespace {
constexpr uint64_t kBitsPerWord = 64;
}  // namespace

WriteIntentLog::WriteIntentLog(uint64_t num_blocks, uint64_t region_blocks)
    : _num_blocks(num_blocks),
      _region_blocks(region_blocks == 0 ? 1 : region_blocks),
      _regions((num_blocks + _region_blocks - 1) / _region_blocks),
      _num_words(static_cast<std::size_t>((_regions + kBitsPerWord - 1) / kBitsPerWord)) {
    assert(region_blocks > 0);
    _words = std::make_unique<std::atomic<uint64_t>[]>(_num_words);
    for (std::size_t i = 0; i < _num_words; ++i) {
        _words[i].store(0, std::memory_order_relaxed);
    }
}

void WriteIntentLog::mark(uint64_t offset_blocks, uint64_t num_blocks) {
    if (num_blocks == 0 || offset_blocks >= _num_blocks) {
        return;
    }
    uint64_t end = offset_blocks + num_blocks;
    if (end > _num_blocks || end < offset_blocks) {
        end = _num_blocks;
    }
    const uint64_t first = offset_blocks / _region_blocks;
    const uint64_t last = (end - 1) / _region_blocks;  // inclusive
    uint64_t r = first;
    while (r <= last) {
        const uint64_t word = r / kBitsPerWord;
        const uint64_t lo = r % kBitsPerWord;
        const uint64_t hi = std::min<uint64_t>(kBitsPerWord - 1, lo + (last - r));  // inclusive
        const uint64_t width = hi - lo + 1;
        const uint64_t bits = (width == kBitsPerWord ? ~uint64_t{0} : ((uint64_t{1} << width) - 1)) << lo;
        // Skip the atomic RMW when the bits are set already (the common case for hot regions).
        if ((_words[word].load(std::memory_order_relaxed) & bits) != bits) {
            _words[word].fetch_or(bits, std::memory_order_relaxed);
        }
        r += width;
    }
}

bool WriteIntentLog::is_dirty(uint64_t region) const {
    if (region >= _regions) {
        return false;
    }
    return (_words[region / kBitsPerWord].load(std::memory_order_relaxed) >> (region % kBitsPerWord)) & 1U;
}

uint64_t WriteIntentLog::dirty_regions() const {
    uint64_t n = 0;
    for (std::size_t i = 0; i < _num_words; ++i) {
        n += static_cast<uint64_t>(std::popcount(_words[i].load(std::memory_order_relaxed)));
    }
    return n;
}

uint64_t WriteIntentLog::dirty_blocks() const {
    uint64_t n = 0;
    for (const auto& [start, length] : dirty_ranges()) {
        n += length;
    }
    return n;
}

std::vector<std::pair<uint64_t, uint64_t>> WriteIntentLog::dirty_ranges() const {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (std::size_t i = 0; i < _num_words; ++i) {
        uint64_t w = _words[i].load(std::memory_order_relaxed);
        while (w != 0) {
            const uint64_t bit = static_cast<uint64_t>(std::countr_zero(w));
            w &= w - 1;
            const uint64_t region = i * kBitsPerWord + bit;
            const uint64_t start = region * _region_blocks;
            const uint64_t length = std::min(_region_blocks, _num_blocks - start);
            if (!out.empty() && out.back().first + out.back().second == start) {
                out.back().second += length;
            } else {
                out.emplace_back(start, length);
            }
        }
    }
    return out;
}

void WriteIntentLog::clear() {
    for (std::size_t i = 0; i < _num_words; ++i) {
        _words[i].store(0, std::memory_order_relaxed);
    }
}

}  // namespace ms::nexus
