// Import of a pool's metadata: which superblock copy to trust, which checkpoint image is
// current, and the replay of the log batches that follow it. Pure functions over the bytes
// of the metadata area (no I/O), so that the fuzzer drives exactly what an import runs.
// Every failure is an Error that says what is damaged and where (page and byte offset).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "lvs/format.h"
#include "lvs/pool_state.h"

namespace ms::lvs {

struct SuperblockProbe {
    Superblock sb;
    bool valid[2] = {false, false};
    std::vector<std::string> warnings;
};

// Reads the two superblock copies from the first two pages of the device. ENOMEDIUM if
// neither has a superblock's magic (no pool); EUCLEAN if no copy is valid or they disagree;
// ENOTSUP for a format this program does not know. One valid copy is enough (a warning
// names the other).
Result<SuperblockProbe> probe_superblocks(std::span<const uint8_t> first_pages);

// The device the pool is on must still have its block size and at least its size.
Status check_device(const Superblock& sb, uint32_t block_size, uint64_t device_bytes);

struct LoadedPool {
    Superblock sb;
    bool sb_valid[2] = {false, false};
    std::unique_ptr<PoolState> state;
    unsigned image_area = 0;  // area of the image the state started from
    uint64_t image_seq = 0;
    uint64_t next_seq = 1;  // sequence of the next log batch
    uint64_t log_tail = 0;  // page of the log area where it goes
    uint64_t batches = 0;   // batches replayed
    std::vector<std::string> warnings;
};

// `area`: the first sb.layout.metadata_pages() pages of the device (or more).
Result<LoadedPool> load_pool(const SuperblockProbe& probe, std::span<const uint8_t> area);

// probe_superblocks + load_pool on one buffer (the fuzzer's entry point).
Result<LoadedPool> load_metadata(std::span<const uint8_t> area);

}  // namespace ms::lvs
