#include "store/file_record.h"

#include <array>
#include <cstring>

namespace ms::store {

namespace {

constexpr std::string_view kMagic = "MSKVREC1";
constexpr char kHex[] = "0123456789ABCDEF";

bool is_plain(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;  // lower case is not produced by encode, so it is not accepted either
}

class Fnv1a64 {
   public:
    void add(std::string_view bytes) {
        for (unsigned char c : bytes) {
            _h = (_h ^ c) * 0x100000001b3ULL;
        }
    }
    uint64_t value() const { return _h; }

   private:
    uint64_t _h = 0xcbf29ce484222325ULL;
};

void put_le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
}

uint64_t get_le(std::string_view in, std::size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
        v |= uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
    }
    return v;
}

uint64_t record_checksum(std::string_view lengths, std::string_view key, std::string_view value) {
    Fnv1a64 h;
    h.add(lengths);
    h.add(key);
    h.add(value);
    return h.value();
}

}  // namespace

std::string encode_prefix(std::string_view prefix) {
    std::string out;
    out.reserve(prefix.size());
    for (unsigned char c : prefix) {
        if (is_plain(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        }
    }
    return out;
}

Result<std::string> encode_key(std::string_view key) {
    if (key.empty()) {
        return make_error(EINVAL, "the key is empty");
    }
    std::string out = encode_prefix(key);
    if (out.size() > kMaxEncodedKey) {
        return errorf(ENAMETOOLONG,
                      "key is too long for the file store ({} bytes as a file name, at most {})", out.size(),
                      kMaxEncodedKey);
    }
    return out;
}

Result<std::string> decode_key(std::string_view encoded) {
    std::string out;
    out.reserve(encoded.size());
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        char c = encoded[i];
        if (c == '%') {
            bool whole = i + 2 < encoded.size();
            int hi = whole ? hex_value(encoded[i + 1]) : -1;
            int lo = whole ? hex_value(encoded[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return errorf(EINVAL, "'{}' is not an encoded key (bad %XX at {})", encoded, i);
            }
            unsigned char b = static_cast<unsigned char>(hi * 16 + lo);
            if (is_plain(b)) {
                return errorf(EINVAL, "'{}' is not an encoded key (%{:02X} needs no escape)", encoded, b);
            }
            out.push_back(static_cast<char>(b));
            i += 2;
        } else if (is_plain(static_cast<unsigned char>(c))) {
            out.push_back(c);
        } else {
            return errorf(EINVAL, "'{}' is not an encoded key (byte 0x{:02x} at {})", encoded,
                          static_cast<unsigned char>(c), i);
        }
    }
    if (out.empty()) {
        return errorf(EINVAL, "'{}' is not an encoded key (empty)", encoded);
    }
    return out;
}

std::string encode_record(std::string_view key, std::string_view value) {
    std::string out;
    out.reserve(kRecordHeaderSize + key.size() + value.size());
    out.append(kMagic);
    put_le(out, key.size(), 4);
    put_le(out, value.size(), 8);
    uint64_t sum = record_checksum(std::string_view(out).substr(8, 12), key, value);
    put_le(out, sum, 8);
    out.append(key);
    out.append(value);
    return out;
}

Result<std::pair<std::string, std::string>> decode_record(std::string_view bytes) {
    if (bytes.size() < kRecordHeaderSize) {
        return errorf(EBADMSG, "not a store record: {} bytes, shorter than the {}-byte header", bytes.size(),
                      kRecordHeaderSize);
    }
    if (bytes.substr(0, kMagic.size()) != kMagic) {
        return make_error(EBADMSG, "not a store record: bad magic (expected MSKVREC1)");
    }
    uint64_t key_len = get_le(bytes, 8, 4);
    uint64_t value_len = get_le(bytes, 12, 8);
    uint64_t body = bytes.size() - kRecordHeaderSize;
    if (key_len > body || value_len != body - key_len) {
        return errorf(EBADMSG,
                      "corrupt store record: key {} + value {} bytes, but {} bytes follow the header",
                      key_len, value_len, body);
    }
    std::string_view key = bytes.substr(kRecordHeaderSize, key_len);
    std::string_view value = bytes.substr(kRecordHeaderSize + key_len);
    uint64_t stored = get_le(bytes, 20, 8);
    uint64_t actual = record_checksum(bytes.substr(8, 12), key, value);
    if (stored != actual) {
        return errorf(EBADMSG, "corrupt store record: checksum {:016x}, computed {:016x}", stored, actual);
    }
    return std::pair{std::string(key), std::string(value)};
}

}  // namespace ms::store
