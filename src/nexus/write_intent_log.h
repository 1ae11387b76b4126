// Write-intent log: which regions of a nexus a child missed while it was offline or faulted for
// a transient reason, so that bringing it back copies only those regions (partial rebuild).
// One bit per region of `region_blocks` blocks. mark() is called on the I/O path from any
// reactor: it is lock-free (atomic fetch_or on 64-bit words) and touches only the words of the
// regions written. Marks are relaxed: a reader sees every mark of the writes that completed
// before it looked, because their completions reached it through a message or thread handoff
// (release/acquire); marks racing with a read may or may not be seen. Kept in memory: after a
// restart of the process a stale child is rebuilt in full (the store records that it is stale,
// not what it missed).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace ms::nexus {

class WriteIntentLog {
   public:
    // `region_blocks` > 0; the last region may be short.
    WriteIntentLog(uint64_t num_blocks, uint64_t region_blocks);

    // Records that blocks [offset_blocks, offset_blocks + num_blocks) changed. Thread-safe.
    void mark(uint64_t offset_blocks, uint64_t num_blocks);
    bool is_dirty(uint64_t region) const;
    // Dirty regions / blocks they cover (the last region counted by its real length).
    uint64_t dirty_regions() const;
    uint64_t dirty_blocks() const;
    // Dirty block ranges [start, start + length), adjacent regions merged, in order.
    std::vector<std::pair<uint64_t, uint64_t>> dirty_ranges() const;
    void clear();

    uint64_t num_blocks() const { return _num_blocks; }
    uint64_t region_blocks() const { return _region_blocks; }
    uint64_t regions() const { return _regions; }

   private:
    uint64_t _num_blocks;
    uint64_t _region_blocks;
    uint64_t _regions;
    std::unique_ptr<std::atomic<uint64_t>[]> _words;
    std::size_t _num_words;
};

}  // namespace ms::nexus
