#include "core/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace ms {
namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // reflected Castagnoli polynomial

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables() {
    Tables t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) {
            c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
        }
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
        for (std::size_t s = 1; s < 8; ++s) {
            t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
        }
    }
    return t;
}

constexpr Tables kTables = make_tables();

uint32_t raw_table(const uint8_t* p, std::size_t n, uint32_t c) {
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);  // little-endian host (x86-64, aarch64)
        v ^= c;
        c = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
            kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^ kTables[2][(v >> 40) & 0xff] ^
            kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
        p += 8;
        n -= 8;
    }
    while (n-- > 0) {
        c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xff];
    }
    return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t raw_sse42_serial(const uint8_t* p, std::size_t n, uint32_t c) {
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c64 = _mm_crc32_u64(c64, v);
        p += 8;
        n -= 8;
    }
    c = static_cast<uint32_t>(c64);
    while (n-- > 0) {
        c = _mm_crc32_u8(c, *p++);
    }
    return c;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of 1: one dependent chain
// uses a third of it. Long buffers are cut in blocks of three equal parts whose CRCs run
// interleaved, then joined: the CRC register is linear over GF(2), so
// raw(c, A B) = shift_|B|(raw(c, A)) ^ raw(0, B), where shift_n(x) = raw(x, n zero bytes) is a
// 32x32 bit matrix, applied here with four 256-entry tables per part size.
struct Shift {
    std::array<std::array<uint32_t, 256>, 4> t{};
    uint32_t apply(uint32_t x) const {
        return t[0][x & 0xff] ^ t[1][(x >> 8) & 0xff] ^ t[2][(x >> 16) & 0xff] ^ t[3][x >> 24];
    }
};

constexpr std::size_t kLongPart = 4096;
constexpr std::size_t kShortPart = 256;

Shift make_shift(std::size_t n) {
    static const uint8_t kZeros[kLongPart] = {};
    uint32_t basis[32];
    for (int j = 0; j < 32; ++j) {
        basis[j] = raw_sse42_serial(kZeros, n, uint32_t{1} << j);
    }
    Shift s;
    for (int k = 0; k < 4; ++k) {
        for (uint32_t b = 0; b < 256; ++b) {
            uint32_t v = 0;
            for (int j = 0; j < 8; ++j) {
                if (b & (1u << j)) {
                    v ^= basis[8 * k + j];
                }
            }
            s.t[k][b] = v;
        }
    }
    return s;
}

// Whole blocks of 3 * part bytes from p; returns the bytes consumed.
__attribute__((target("sse4.2"))) std::size_t blocks3(const uint8_t* p, std::size_t n, std::size_t part,
                                                      const Shift& shift, uint32_t& c) {
    std::size_t done = 0;
    while (n - done >= 3 * part) {
        const uint8_t* a = p + done;
        uint64_t c0 = c;
        uint64_t c1 = 0;
        uint64_t c2 = 0;
        for (std::size_t i = 0; i < part; i += 8) {
            uint64_t v0;
            uint64_t v1;
            uint64_t v2;
            std::memcpy(&v0, a + i, 8);
            std::memcpy(&v1, a + part + i, 8);
            std::memcpy(&v2, a + 2 * part + i, 8);
            c0 = _mm_crc32_u64(c0, v0);
            c1 = _mm_crc32_u64(c1, v1);
            c2 = _mm_crc32_u64(c2, v2);
        }
        uint32_t x = shift.apply(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
        c = shift.apply(x) ^ static_cast<uint32_t>(c2);
        done += 3 * part;
    }
    return done;
}

uint32_t raw_sse42(const uint8_t* p, std::size_t n, uint32_t c) {
    if (n >= 3 * kShortPart) {
        static const Shift long_shift = make_shift(kLongPart);
        static const Shift short_shift = make_shift(kShortPart);
        std::size_t used = blocks3(p, n, kLongPart, long_shift, c);
        used += blocks3(p + used, n - used, kShortPart, short_shift, c);
        p += used;
        n -= used;
    }
    return raw_sse42_serial(p, n, c);
}

bool have_sse42() {
    static const bool has = __builtin_cpu_supports("sse4.2");
    return has;
}
#endif

}  // namespace

uint32_t crc32c_table(std::span<const uint8_t> data, uint32_t crc) {
    return ~raw_table(data.data(), data.size(), ~crc);
}

uint32_t crc32c(std::span<const uint8_t> data, uint32_t crc) {
#if defined(__x86_64__)
    if (have_sse42()) {
        return ~raw_sse42(data.data(), data.size(), ~crc);
    }
#endif
    return crc32c_table(data, crc);
}

}  // namespace ms
