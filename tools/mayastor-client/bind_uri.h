// `-b/--bind`: the server address. Default http://127.0.0.1:10124; a missing scheme becomes http
// and a missing port 10124, so `-b 127.0.0.1:50051` and `-b host` both work.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ms::client {

inline constexpr std::string_view kDefaultBind = "http://127.0.0.1:10124";
inline constexpr int kDefaultPort = 10124;

struct Endpoint {
    std::string uri;     // normalised, e.g. "http://127.0.0.1:10124/"
    std::string target;  // gRPC channel target, "host:port"
};

// nullopt: not a usable address (no host, bad port, a scheme other than http/https, spaces...).
std::optional<Endpoint> parse_bind(std::string_view text);

}  // namespace ms::client
