#include "mayastor-client/size_parse.h"

#include <cctype>
#include <limits>
#include <string>

namespace ms::client {
namespace {

using u128 = unsigned __int128;

constexpr u128 kMax = std::numeric_limits<uint64_t>::max();
// Fraction digits beyond this many are ignored: with at most 17 of them, fraction * unit fits in
// 128 bits even for the zetta units, and what is dropped is far below one byte for any unit whose
// result fits in 64 bits.
constexpr size_t kMaxFractionDigits = 17;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}
bool is_space(char c) {
    return c == ' ' || c == '\t';
}

u128 power(u128 base, int exponent) {
    u128 r = 1;
    for (int i = 0; i < exponent; ++i) {
        r *= base;
    }
    return r;
}

// The multiplier a unit stands for; 0 if `unit` is not a unit.
u128 unit_multiplier(std::string_view unit, uint64_t bare_unit) {
    if (unit.empty()) {
        return bare_unit;
    }
    if (unit == "b") {
        return 1;
    }
    static constexpr std::string_view kLetters = "kmgtpez";
    auto letter = kLetters.find(unit[0]);
    if (letter == std::string_view::npos) {
        return 0;
    }
    int exponent = static_cast<int>(letter) + 1;
    auto suffix = unit.substr(1);
    if (suffix.empty() || suffix == "b") {
        return power(1000, exponent);
    }
    if (suffix == "i" || suffix == "ib") {
        return power(1024, exponent);
    }
    return 0;
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text, uint64_t bare_unit) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }

    size_t pos = 0;
    u128 whole = 0;
    size_t whole_digits = 0;
    while (pos < text.size() && is_digit(text[pos])) {
        whole = whole * 10 + static_cast<unsigned>(text[pos] - '0');
        if (whole > kMax) {
            return std::nullopt;
        }
        ++pos;
        ++whole_digits;
    }
    if (whole_digits == 0) {
        return std::nullopt;
    }
    u128 fraction = 0;
    u128 fraction_scale = 1;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        size_t digits = 0;
        while (pos < text.size() && is_digit(text[pos])) {
            if (digits < kMaxFractionDigits) {
                fraction = fraction * 10 + static_cast<unsigned>(text[pos] - '0');
                fraction_scale *= 10;
            }
            ++digits;
            ++pos;
        }
    }
    while (pos < text.size() && is_space(text[pos])) {
        ++pos;
    }
    std::string unit;
    for (; pos < text.size(); ++pos) {
        unit.push_back(lower(text[pos]));
    }
    u128 multiplier = unit_multiplier(unit, bare_unit);
    if (multiplier == 0) {
        return std::nullopt;
    }
    if (whole > kMax / multiplier) {
        return std::nullopt;
    }
    u128 bytes = whole * multiplier + fraction * multiplier / fraction_scale;
    if (bytes > kMax) {
        return std::nullopt;
    }
    return static_cast<uint64_t>(bytes);
}

}  // namespace ms::client
