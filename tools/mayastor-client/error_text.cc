#include "mayastor-client/error_text.h"

#include <fmt/format.h>

#include <array>

namespace ms::client {

std::string status_code_name(int code) {
    static constexpr std::array<std::string_view, 17> kNames = {
        "Ok",       "Cancelled",      "Unknown",          "InvalidArgument",   "DeadlineExceeded",
        "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
        "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
        "DataLoss", "Unauthenticated"};
    if (code >= 0 && static_cast<size_t>(code) < kNames.size()) {
        return std::string(kNames[static_cast<size_t>(code)]);
    }
    return "Unknown";
}

std::string debug_quoted(std::string_view text) {
    std::string out = "\"";
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        switch (ch) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\0':
                out += "\\0";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += fmt::format("\\u{{{:x}}}", c);
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
    return out;
}

std::string grpc_error_text(int code, std::string_view message) {
    return fmt::format("Error: GrpcStatus {{ source: Status {{ code: {}, message: {} }} }}",
                       status_code_name(code), debug_quoted(message));
}

}  // namespace ms::client
