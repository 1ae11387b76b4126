// What mayastor-perf runs: the workload spec from the command line (pattern, I/O size, queue
// depth, duration), its checks against a device, and the per-core offset generator.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ms::perf {

enum class Pattern { RandRead, RandWrite, Read, Write, ReadWrite };

// "randread", "randwrite", "read", "write", "rw".
Result<Pattern> parse_pattern(std::string_view name);
std::string_view to_string(Pattern p);
bool is_random(Pattern p);
bool writes(Pattern p);

// A byte count with an optional binary suffix: "4096", "4k", "128K", "1m", "1g". Non-zero.
Result<uint64_t> parse_size(std::string_view text);

struct WorkloadSpec {
    Pattern pattern = Pattern::RandRead;
    unsigned read_percent = 100;  // of I/Os that are reads; 0 or 100 unless pattern is rw
    uint64_t io_size = 4096;
    unsigned queue_depth = 32;  // per core and device
    std::chrono::nanoseconds duration = std::chrono::seconds(10);
    // Each I/O writes a pattern derived from its offset and reads it back to compare.
    bool verify = false;
};

inline constexpr unsigned kMaxQueueDepth = 4096;

// Checks that do not depend on a device (queue depth, read percentage, duration).
Status validate(const WorkloadSpec& spec);
// Checks against a device: the I/O size is a whole number of blocks and fits in the device.
Status validate_for_device(const WorkloadSpec& spec, std::string_view device, uint32_t block_size,
                           uint64_t size_bytes);

// splitmix64: a few cycles per number, a full 2^64 period, and statistically good enough to
// pick offsets; each core has its own, so there is no shared state.
class Rng {
   public:
    explicit Rng(uint64_t seed) : _state(seed) {}
    uint64_t next() {
        uint64_t z = (_state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) without a division (Lemire's multiply-shift).
    uint64_t below(uint64_t n) {
        return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
    }

   private:
    uint64_t _state;
};

// The offsets one core's workload visits, in units of whole I/Os ("slots" of io_size bytes):
// uniformly random, or sequential from `start` and wrapping around at the end of the device.
class OffsetGenerator {
   public:
    // `slots` = device size / io_size (>= 1); `start` < slots.
    OffsetGenerator(bool random, uint64_t slots, uint64_t start, uint64_t seed)
        : _random(random), _slots(slots), _next(start % slots), _rng(seed) {}

    // Index of the next I/O-sized slot; its byte offset is index * io_size.
    uint64_t next() {
        if (_random) {
            return _rng.below(_slots);
        }
        uint64_t i = _next;
        _next = i + 1 == _slots ? 0 : i + 1;
        return i;
    }

   private:
    bool _random;
    uint64_t _slots;
    uint64_t _next;
    Rng _rng;
};

// Decides read or write for each I/O of a workload.
class ReadWriteMix {
   public:
    explicit ReadWriteMix(unsigned read_percent, uint64_t seed)
        : _threshold(static_cast<uint32_t>((uint64_t{read_percent} << 32) / 100)),
          _all_reads(read_percent >= 100),
          _rng(seed) {}
    bool next_is_read() {
        if (_all_reads) {
            return true;
        }
        return static_cast<uint32_t>(_rng.next()) < _threshold;
    }

   private:
    uint32_t _threshold;
    bool _all_reads;
    Rng _rng;
};

}  // namespace ms::perf
