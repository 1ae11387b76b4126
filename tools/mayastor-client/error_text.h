// How mayastor-client reports a failed call: the v0.8 client's text on stderr,
//   Error: GrpcStatus { source: Status { code: NotFound, message: "<server message>" } }
// (Rust debug rendering: code in CamelCase, message quoted and escaped).
#pragma once

#include <string>
#include <string_view>

namespace ms::client {

// CamelCase name of a gRPC status code (grpc::StatusCode value): "NotFound", "Internal".
std::string status_code_name(int code);

// `text` as Rust's Debug prints a str: in double quotes, with \" \\ \n \r \t \0 and \u{..} escapes.
std::string debug_quoted(std::string_view text);

// The whole first line, without a newline.
std::string grpc_error_text(int code, std::string_view message);

}  // namespace ms::client
