// JSON-RPC 2.0 over a stream socket, the parts both ends share: error codes, how an error value
// becomes a JSON-RPC error, and framing. Messages are JSON objects (or batch arrays) written one
// after the other; the server ends each response with a newline, and neither end needs one.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ms::api::jsonrpc {

using json = nlohmann::json;

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

// Largest message either end accepts (a 1 MiB bdev_write is 1.4 MiB of base64).
inline constexpr std::size_t kMaxMessageBytes = 4 << 20;
// Deepest nesting accepted (the parser recurses).
inline constexpr std::size_t kMaxDepth = 64;

// The JSON-RPC error code of an error value: EINVAL is "invalid params" (-32602), any other
// errno its negative (ENOENT -2, EEXIST -17, ...).
int error_code(const Error& e);

json make_response(const json& id, json result);
json make_error_response(const json& id, int code, std::string_view message);
json make_request(const json& id, std::string_view method, const json* params);

// Splits a byte stream into top-level JSON values (objects or arrays). Finds where a value ends
// by counting brackets outside strings; the value itself is checked by the parser later.
class JsonStream {
   public:
    enum class Next { NeedMore, Message, Broken };

    explicit JsonStream(std::size_t max_bytes = kMaxMessageBytes, std::size_t max_depth = kMaxDepth)
        : _max_bytes(max_bytes), _max_depth(max_depth) {}

    void append(std::string_view bytes) { _buf.append(bytes); }
    // The next complete value into `out`; Broken (with `why`) when the stream cannot be framed:
    // a value that is not an object or array, nesting deeper than max_depth, or a message larger
    // than max_bytes. After Broken the stream is unusable.
    Next next(std::string& out, std::string& why);
    // Bytes buffered but not yet returned (whitespace excluded only once scanned).
    std::size_t buffered() const { return _buf.size(); }

   private:
    std::string _buf;
    std::size_t _pos = 0;  // scan position in _buf (the message starts at 0 once found)
    bool _started = false;
    bool _in_string = false;
    bool _escape = false;
    std::size_t _depth = 0;
    std::size_t _max_bytes;
    std::size_t _max_depth;
};

}  // namespace ms::api::jsonrpc
