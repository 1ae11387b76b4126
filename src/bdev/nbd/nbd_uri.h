// The nbd:// and nbd+unix:// device URIs: what they name (a server and an export) and the
// tuning parameters. Pure parsing, no I/O; see docs/nbd.md for the forms and the names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"
#include "core/uri.h"
#include "core/uuid.h"

namespace ms::nbd_host {

inline constexpr uint16_t kDefaultPort = 10809;      // IANA's NBD port
inline constexpr std::size_t kMaxExportName = 4096;  // NBD_MAX_STRING

// Where an NBD server is: TCP host and port, or a Unix socket path.
struct NbdServer {
    bool unix_socket = false;
    std::string host;              // TCP only; an IPv6 address without brackets
    uint16_t port = kDefaultPort;  // TCP only
    std::string socket_path;       // Unix only
    std::string describe() const;  // "127.0.0.1:10809" or "unix:/run/nbd.sock", for messages
};

struct NbdUriSpec {
    NbdServer server;
    std::string export_name;           // may be empty (the server's default export)
    std::optional<Uuid> uuid;          // uuid=; else a random one
    uint32_t timeout_ms = 5000;        // per command, and for connecting
    uint32_t reconnect_ms = 1000;      // how long a later I/O keeps trying to connect again
    uint32_t connections = 64;         // most connections (one per reactor that does I/O)
    std::optional<uint32_t> blk_size;  // override of the block size the server suggests

    // Unambiguous device name: "nbd:HOST:PORT/EXPORT" ("nbd:[v6]:PORT/EXPORT") for TCP and
    // "nbd+unix:[PATH]/EXPORT" for a Unix socket ('%' and ']' in PATH percent-encoded, so the
    // first ']' ends the path).
    std::string device_name() const;
};

// nbd://HOST[:PORT][/EXPORT][?params] or nbd+unix:///[EXPORT]?socket=PATH[&params]. Unknown
// parameters, bad values and malformed URIs are EINVAL naming the problem.
Result<NbdUriSpec> parse_nbd_uri(const Uri& uri);

}  // namespace ms::nbd_host
