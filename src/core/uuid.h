// 128-bit UUIDs in the canonical 8-4-4-4-12 text form; new ones are random (version 4).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ms {

class Uuid {
   public:
    Uuid() = default;
    explicit Uuid(const std::array<uint8_t, 16>& bytes) : _bytes(bytes) {}

    static Uuid generate();
    static Result<Uuid> parse(std::string_view text);

    std::string to_string() const;
    bool is_nil() const;
    const std::array<uint8_t, 16>& bytes() const { return _bytes; }

    friend bool operator==(const Uuid&, const Uuid&) = default;
    friend auto operator<=>(const Uuid&, const Uuid&) = default;

   private:
    std::array<uint8_t, 16> _bytes{};
};

}  // namespace ms
