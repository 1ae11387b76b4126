// Little-endian encoding of the on-disk structures: a writer that appends to a byte vector and
// a bounds-checked reader over untrusted bytes. The reader never reads past its span: a read
// beyond the end returns zero and makes ok() false for good, so a decoder checks once at the
// end instead of before every field.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ms::lvs {

inline void put_le(uint8_t* p, uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        p[i] = static_cast<uint8_t>(v >> (8 * i));
    }
}

inline uint64_t get_le(const uint8_t* p, std::size_t n) {
    uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        v |= uint64_t{p[i]} << (8 * i);
    }
    return v;
}

inline void put_u32(std::span<uint8_t> b, std::size_t at, uint32_t v) {
    put_le(b.data() + at, v, 4);
}
inline void put_u64(std::span<uint8_t> b, std::size_t at, uint64_t v) {
    put_le(b.data() + at, v, 8);
}
inline uint32_t get_u32(std::span<const uint8_t> b, std::size_t at) {
    return static_cast<uint32_t>(get_le(b.data() + at, 4));
}
inline uint64_t get_u64(std::span<const uint8_t> b, std::size_t at) {
    return get_le(b.data() + at, 8);
}

class ByteWriter {
   public:
    explicit ByteWriter(std::vector<uint8_t>& out) : _out(out) {}

    void u8(uint8_t v) { _out.push_back(v); }
    void u16(uint16_t v) { put(v, 2); }
    void u32(uint32_t v) { put(v, 4); }
    void u64(uint64_t v) { put(v, 8); }
    void bytes(std::span<const uint8_t> b) { _out.insert(_out.end(), b.begin(), b.end()); }
    void bytes(std::string_view s) { _out.insert(_out.end(), s.begin(), s.end()); }
    std::size_t size() const { return _out.size(); }
    // Overwrites 4 bytes written earlier (a length known only afterwards).
    void patch_u32(std::size_t at, uint32_t v) { put_le(_out.data() + at, v, 4); }

   private:
    void put(uint64_t v, std::size_t n) {
        std::size_t at = _out.size();
        _out.resize(at + n);
        put_le(_out.data() + at, v, n);
    }
    std::vector<uint8_t>& _out;
};

class ByteReader {
   public:
    explicit ByteReader(std::span<const uint8_t> in) : _in(in) {}

    uint8_t u8() { return static_cast<uint8_t>(get(1)); }
    uint16_t u16() { return static_cast<uint16_t>(get(2)); }
    uint32_t u32() { return static_cast<uint32_t>(get(4)); }
    uint64_t u64() { return get(8); }
    // The next n bytes, or an empty span (and !ok()) if fewer remain.
    std::span<const uint8_t> bytes(std::size_t n) {
        if (!_ok || n > remaining()) {
            _ok = false;
            return {};
        }
        auto s = _in.subspan(_pos, n);
        _pos += n;
        return s;
    }
    std::string string(std::size_t n) {
        auto b = bytes(n);
        return std::string(b.begin(), b.end());
    }

    bool ok() const { return _ok; }
    std::size_t position() const { return _pos; }
    std::size_t remaining() const { return _in.size() - _pos; }
    bool at_end() const { return _pos == _in.size(); }

   private:
    uint64_t get(std::size_t n) {
        if (!_ok || n > remaining()) {
            _ok = false;
            return 0;
        }
        uint64_t v = get_le(_in.data() + _pos, n);
        _pos += n;
        return v;
    }
    std::span<const uint8_t> _in;
    std::size_t _pos = 0;
    bool _ok = true;
};

}  // namespace ms::lvs
