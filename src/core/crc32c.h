// CRC-32C (Castagnoli), the checksum of pool metadata pages and of NVMe/TCP and iSCSI digests:
// the SSE4.2 instruction where the CPU has it (three interleaved streams on long buffers), a
// slicing-by-8 table otherwise. Same values as the iSCSI/ext4/SPDK crc32c:
// crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ms {

// CRC of `data` continued from `crc` (0 to start). Chaining holds:
// crc32c(b, crc32c(a)) == crc32c(a + b).
uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc = 0);

// The portable table implementation (exposed so tests can compare both).
uint32_t crc32c_table(std::span<const uint8_t> data, uint32_t crc = 0);

}  // namespace ms
