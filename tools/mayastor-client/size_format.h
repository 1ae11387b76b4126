// How mayastor-client prints sizes in tables, following `-u`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ms::client {

// `-u`: absent (Default), `i` (Binary), `d` (Decimal), `b` (Bytes).
enum class Units { Default, Binary, Decimal, Bytes };

std::optional<Units> parse_units(std::string_view word);

// The sheet's scaled form: the largest unit the value is strictly greater than, two decimals:
// "100.00 MiB", "1024.00 KiB" (exactly 1 MiB); values up to 1 KiB (1 KB) as "<n> B".
std::string format_scaled(uint64_t bytes, bool binary);

// The human form of the pool and replica tables (the project README's transcript): binary
// units, one decimal, the unit chosen so that the number shown stays below 1000 ("96.0 MiB";
// 1000 MiB is "1.0 GiB", not "1000.0 MiB"); below 1000 bytes "<n> B" ("0 B", "512 B").
std::string format_human(uint64_t bytes);

// Size cells of the generic tables: plain bytes unless `-u i` / `-u d`.
std::string format_size(uint64_t bytes, Units units);

// Size cells of `pool list` and `replica list`: human form unless `-u` says otherwise.
std::string format_size_human(uint64_t bytes, Units units);

}  // namespace ms::client
