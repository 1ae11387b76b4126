// The one URI parser: scheme://[host][:port]/path?key=value&... with percent-decoding.
// Used for device URIs (malloc:///m0?size_mb=64, nvmf://host:4420/nqn, aio:///dev/sdb) and
// anything else that names a resource.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace ms {

struct Uri {
    std::string scheme;  // lower case
    std::string host;    // without brackets for IPv6 literals
    std::optional<uint16_t> port;
    std::string path;                                        // percent-decoded, begins with '/' unless empty
    std::vector<std::pair<std::string, std::string>> query;  // percent-decoded, in order

    // Re-encodes the URI (query in stored order).
    std::string to_string() const;
};

// Parses `text`. Control characters, spaces, bad %-escapes, bad ports, an empty or malformed
// scheme, and a query key given twice are errors (EINVAL) that name the problem.
Result<Uri> parse_uri(std::string_view text);

std::string percent_encode(std::string_view s, bool keep_slash);

// Consumes a URI's query parameters one by one; finish() rejects whatever nobody asked for.
class QueryParams {
   public:
    explicit QueryParams(const Uri& uri);

    std::optional<std::string> take(std::string_view key);
    // An unsigned decimal (or 0x-hex) integer; a present but malformed value is an error.
    Result<std::optional<uint64_t>> take_u64(std::string_view key);
    Result<std::optional<bool>> take_bool(std::string_view key);
    // EINVAL naming the first parameter that was not taken.
    Status finish() const;

   private:
    std::string _uri_text;
    std::vector<std::pair<std::string, std::string>> _left;
};

}  // namespace ms
