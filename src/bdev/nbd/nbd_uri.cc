#include "bdev/nbd/nbd_uri.h"

#include <bit>

namespace ms::nbd_host {

std::string NbdServer::describe() const {
    if (unix_socket) {
        return "unix:" + socket_path;
    }
    bool v6 = host.find(':') != std::string::npos;
    return fmt::format("{}{}{}:{}", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

std::string NbdUriSpec::device_name() const {
    if (!server.unix_socket) {
        return fmt::format("nbd:{}/{}", server.describe(), export_name);
    }
    std::string path;
    for (char c : server.socket_path) {
        if (c == '%') {
            path += "%25";
        } else if (c == ']') {
            path += "%5D";
        } else {
            path.push_back(c);
        }
    }
    return fmt::format("nbd+unix:[{}]/{}", path, export_name);
}

Result<NbdUriSpec> parse_nbd_uri(const Uri& uri) {
    NbdUriSpec spec;
    const std::string text = uri.to_string();
    QueryParams params(uri);
    if (uri.scheme == "nbd") {
        if (uri.host.empty()) {
            return errorf(EINVAL, "'{}' has no host (expected nbd://HOST[:PORT]/EXPORT)", text);
        }
        spec.server.host = uri.host;
        spec.server.port = uri.port.value_or(kDefaultPort);
        if (params.take("socket")) {
            return errorf(EINVAL, "'{}': socket= is for nbd+unix:// URIs", text);
        }
    } else if (uri.scheme == "nbd+unix") {
        if (!uri.host.empty() || uri.port) {
            return errorf(EINVAL, "'{}' must not have a host (expected nbd+unix:///EXPORT?socket=PATH)",
                          text);
        }
        auto socket = params.take("socket");
        if (!socket || socket->empty()) {
            return errorf(EINVAL, "'{}' has no socket= parameter (expected nbd+unix:///EXPORT?socket=PATH)",
                          text);
        }
        if (socket->size() >= 108) {  // sizeof(sockaddr_un::sun_path)
            return errorf(EINVAL, "socket path '{}' in '{}' is too long", *socket, text);
        }
        spec.server.unix_socket = true;
        spec.server.socket_path = std::move(*socket);
    } else {
        return errorf(EINVAL, "'{}' is not an nbd:// or nbd+unix:// URI", text);
    }
    // The export name is the path without its leading '/' (RFC-style NBD URIs); it may be empty.
    spec.export_name = uri.path;
    if (!spec.export_name.empty() && spec.export_name.front() == '/') {
        spec.export_name.erase(0, 1);
    }
    if (spec.export_name.size() > kMaxExportName) {
        return errorf(EINVAL, "export name in '{}' is longer than {} bytes", text, kMaxExportName);
    }
    if (auto u = params.take("uuid")) {
        auto parsed = Uuid::parse(*u);
        if (!parsed) {
            return errorf(EINVAL, "bad uuid '{}' in '{}': {}", *u, text, parsed.error().message);
        }
        spec.uuid = *parsed;
    }
    struct Num {
        const char* key;
        uint32_t* out;
        uint64_t min;
        uint64_t max;
    };
    const Num nums[] = {
        {"timeout_ms", &spec.timeout_ms, 1, 3'600'000},
        {"reconnect_ms", &spec.reconnect_ms, 0, 3'600'000},
        {"connections", &spec.connections, 1, 256},
    };
    for (const Num& n : nums) {
        auto v = params.take_u64(n.key);
        if (!v) {
            return std::unexpected(v.error());
        }
        if (*v) {
            if (**v < n.min || **v > n.max) {
                return errorf(EINVAL, "{}={} is out of range [{}, {}] in '{}'", n.key, **v, n.min, n.max,
                              text);
            }
            *n.out = static_cast<uint32_t>(**v);
        }
    }
    auto bs = params.take_u64("blk_size");
    if (!bs) {
        return std::unexpected(bs.error());
    }
    if (*bs) {
        if (**bs < 512 || **bs > 65536 || !std::has_single_bit(**bs)) {
            return errorf(EINVAL, "blk_size={} in '{}' must be a power of two from 512 to 65536", **bs, text);
        }
        spec.blk_size = static_cast<uint32_t>(**bs);
    }
    if (Status st = params.finish(); !st) {
        return std::unexpected(st.error());
    }
    return spec;
}

}  // namespace ms::nbd_host
