// The file store's on-disk formats, pure (bytes in, values out; no I/O):
//  - a key's file name: bytes [A-Za-z0-9_-] as they are, every other byte as %XX (upper-case
//    hex), then ".kv". The encoding keeps prefixes: key k starts with p iff encode(k) starts
//    with encode(p), so list(prefix) filters names without decoding every one.
//  - a record (the file's content): a 28-byte header then the key and the value.
//      0  "MSKVREC1"   magic and format version
//      8  u32 LE       key length
//     12  u64 LE       value length
//     20  u64 LE       FNV-1a 64 of bytes 8..19, the key and the value
//     28  key bytes, then value bytes; the file ends exactly there.
//    The key is kept inside too, so that a file renamed by hand is caught.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"

namespace ms::store {

inline constexpr std::string_view kRecordSuffix = ".kv";
inline constexpr std::string_view kTempSuffix = ".tmp";
// A file name is at most 255 bytes; the temp name (encoded key + ".tmp") is the longest.
inline constexpr std::size_t kMaxEncodedKey = 255 - kTempSuffix.size();
inline constexpr std::size_t kRecordHeaderSize = 28;

// The encoded key, without suffix. EINVAL for an empty key, ENAMETOOLONG past kMaxEncodedKey.
Result<std::string> encode_key(std::string_view key);
// Encoding of a prefix (any length, empty allowed): for matching names.
std::string encode_prefix(std::string_view prefix);
// The key an encoded name (without suffix) stands for; EINVAL if it is not a valid encoding.
Result<std::string> decode_key(std::string_view encoded);

std::string encode_record(std::string_view key, std::string_view value);
// {key, value} of a record; EBADMSG saying what is wrong (bad magic, lengths that disagree with
// the size, checksum mismatch).
Result<std::pair<std::string, std::string>> decode_record(std::string_view bytes);

}  // namespace ms::store
