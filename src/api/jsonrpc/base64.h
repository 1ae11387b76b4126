// Base64 (RFC 4648, standard alphabet, with padding) for the JSON-RPC I/O methods.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ms::api {

std::string base64_encode(std::span<const uint8_t> data);
// Strict: only the standard alphabet, length a multiple of 4, '=' only as final padding.
// EINVAL naming the first problem.
Result<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace ms::api
