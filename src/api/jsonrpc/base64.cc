#include "api/jsonrpc/base64.h"

#include <array>

namespace ms::api {

namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> make_table() {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
        t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
    }
    return t;
}
constexpr auto kTable = make_table();

}  // namespace

std::string base64_encode(std::span<const uint8_t> data) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    std::size_t left = data.size() - i;
    if (left > 0) {
        uint32_t v = uint32_t{data[i]} << 16;
        if (left == 2) {
            v |= uint32_t{data[i + 1]} << 8;
        }
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += left == 2 ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

Result<std::vector<uint8_t>> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) {
        return errorf(EINVAL, "base64 text has {} characters, not a multiple of 4", text.size());
    }
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') {
        pad = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
    }
    std::vector<uint8_t> out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            char c = text[i + j];
            int8_t d = kTable[static_cast<uint8_t>(c)];
            if (c == '=' && last && j >= 4 - pad) {
                d = 0;
            } else if (d < 0) {
                return errorf(EINVAL, "invalid base64 character at offset {}", i + j);
            }
            v = (v << 6) | static_cast<uint32_t>(d);
        }
        out.push_back(static_cast<uint8_t>(v >> 16));
        if (!(last && pad == 2)) {
            out.push_back(static_cast<uint8_t>(v >> 8));
        }
        if (!(last && pad >= 1)) {
            out.push_back(static_cast<uint8_t>(v));
        }
    }
    return out;
}

}  // namespace ms::api
