#include "mayastor-client/size_format.h"

#include <fmt/format.h>

#include <array>
#include <string>

namespace ms::client {
namespace {

constexpr std::array<std::string_view, 6> kBinaryUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
constexpr std::array<std::string_view, 6> kDecimalUnits = {"KB", "MB", "GB", "TB", "PB", "EB"};

// base^(index + 1)
uint64_t unit_size(size_t index, uint64_t base) {
    uint64_t size = base;
    for (size_t i = 0; i < index; ++i) {
        size *= base;
    }
    return size;
}

}  // namespace

std::optional<Units> parse_units(std::string_view word) {
    if (word.empty()) {
        return Units::Default;
    }
    if (word == "i") {
        return Units::Binary;
    }
    if (word == "d") {
        return Units::Decimal;
    }
    if (word == "b") {
        return Units::Bytes;
    }
    return std::nullopt;
}

std::string format_scaled(uint64_t bytes, bool binary) {
    const uint64_t base = binary ? 1024 : 1000;
    const auto& names = binary ? kBinaryUnits : kDecimalUnits;
    for (size_t i = names.size(); i-- > 0;) {
        uint64_t unit = unit_size(i, base);
        if (bytes > unit) {
            return fmt::format("{:.2f} {}", static_cast<double>(bytes) / static_cast<double>(unit), names[i]);
        }
    }
    return fmt::format("{} B", bytes);
}

std::string format_human(uint64_t bytes) {
    if (bytes < 1000) {
        return fmt::format("{} B", bytes);
    }
    for (size_t i = 0; i < kBinaryUnits.size(); ++i) {
        double value = static_cast<double>(bytes) / static_cast<double>(unit_size(i, 1024));
        std::string text = fmt::format("{:.1f}", value);
        // Compare what is printed, so that 999.96 MiB becomes "1.0 GiB", not "1000.0 MiB".
        if (std::stod(text) < 1000.0 || i + 1 == kBinaryUnits.size()) {
            return fmt::format("{} {}", text, kBinaryUnits[i]);
        }
    }
    return fmt::format("{} B", bytes);  // not reached
}

std::string format_size(uint64_t bytes, Units units) {
    switch (units) {
        case Units::Binary:
            return format_scaled(bytes, true);
        case Units::Decimal:
            return format_scaled(bytes, false);
        case Units::Default:
        case Units::Bytes:
            break;
    }
    return std::to_string(bytes);
}

std::string format_size_human(uint64_t bytes, Units units) {
    if (units == Units::Default) {
        return format_human(bytes);
    }
    return format_size(bytes, units);
}

}  // namespace ms::client
