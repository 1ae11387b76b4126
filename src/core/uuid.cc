#include "core/uuid.h"

#include <random>

namespace ms {

Uuid Uuid::generate() {
    // Seeded with 256 bits: a single random_device word would allow only 2^32 sequences, and
    // two threads or processes drawing the same seed would generate the same UUIDs.
    thread_local std::mt19937_64 rng = [] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
        return std::mt19937_64(seq);
    }();
    std::array<uint8_t, 16> b;
    uint64_t hi = rng();
    uint64_t lo = rng();
    for (int i = 0; i < 8; ++i) {
        b[i] = static_cast<uint8_t>(hi >> (i * 8));
        b[8 + i] = static_cast<uint8_t>(lo >> (i * 8));
    }
    b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return Uuid(b);
}

Result<Uuid> Uuid::parse(std::string_view text) {
    if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-') {
        return errorf(EINVAL, "invalid uuid '{}'", text);
    }
    std::array<uint8_t, 16> b{};
    int nibble = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            continue;
        }
        char c = text[i];
        int v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            return errorf(EINVAL, "invalid uuid '{}'", text);
        }
        b[nibble / 2] = static_cast<uint8_t>(b[nibble / 2] | (nibble % 2 == 0 ? v << 4 : v));
        ++nibble;
    }
    return Uuid(b);
}

std::string Uuid::to_string() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    s.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            s.push_back('-');
        }
        s.push_back(kHex[_bytes[i] >> 4]);
        s.push_back(kHex[_bytes[i] & 0xf]);
    }
    return s;
}

bool Uuid::is_nil() const {
    for (auto v : _bytes) {
        if (v != 0) {
            return false;
        }
    }
    return true;
}

}  // namespace ms
