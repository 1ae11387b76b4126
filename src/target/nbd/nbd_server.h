// The NBD server: exports BlockDevices under their names over NBD (fixed newstyle handshake,
// structured replies, many requests in flight per connection, many connections per export) on a
// TCP port and optionally a Unix socket, and, with ShareOptions::local_device, attaches an
// export to this machine's kernel NBD driver (/dev/nbdN, see kernel_nbd.h).
//
// Connections are accepted on reactor 0 and spread round-robin over all reactors; each
// connection lives on one reactor, without locks on its I/O path. Management calls
// (ShareServer's) are thread-safe and block; make them from non-reactor threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "target/nbd/protocol.h"
#include "target/share_server.h"

namespace ms::nbd {

struct NbdServerOptions {
    // Address the TCP listener binds ("0.0.0.0" = all IPv4 addresses).
    std::string listen_address = "0.0.0.0";
    uint16_t port = kDefaultPort;  // 0 = pick a free port (tests)
    // Also listen on this Unix socket path (empty: no Unix socket).
    std::string unix_socket;
    // Address put in the URIs share() returns (nbd://<advertised>:<port>/<name>); empty = the
    // first non-loopback IPv4 address of the machine, or 127.0.0.1.
    std::string advertised_address;
    // Largest read or write payload (NBD_INFO_BLOCK_SIZE maximum); a write above it closes the
    // connection, a read above it fails with NBD_EINVAL.
    uint32_t max_payload = 32u << 20;
    // Requests a connection runs at once; further requests wait in the socket.
    uint32_t max_inflight = 128;
    // Receive coalescing: a connection whose last receive brought two requests or more (a
    // client that pipelines) starts its next receive this long after it has sent its replies,
    // so that it receives, runs and answers together what such a client sends one request per
    // TCP segment (fio's nbd engine, libnbd). 0 receives at once. It adds up to this much
    // latency to a request, and saves a receive, a send and a wake-up on both sides per request
    // it groups (docs/performance.md, "NBD export"); a delayed receive that groups fewer than 8
    // (a client with few requests in flight) turns it off for the next 256 receives, so that
    // such clients do not pay the wait. Off by default: measured here it lowers CPU per I/O at
    // queue depth 32 but costs IOPS and latency at depths 8-16 (docs/performance.md).
    uint32_t coalesce_us = 0;
    // Connections (socket pairs) a local_device share gives the kernel: min(reactors, this).
    uint32_t local_connections = 4;
};

class NbdServer final : public target::ShareServer {
   public:
    // Binds the listener(s) (EADDRINUSE etc. as errors) and starts accepting on `runtime`.
    static Result<std::unique_ptr<NbdServer>> start(Runtime& runtime, NbdServerOptions options);
    // Stops the listeners, detaches local devices, closes every connection (their outstanding
    // I/O completes first) and every export's descriptor. Waits.
    ~NbdServer() override;

    std::string_view protocol() const override { return target::kNbd; }
    // Exports req.device under its name; returns nbd://<advertised>:<port>/<name>, or
    // file:///dev/nbdN with options.local_device. allowed_hosts must be empty (NBD cannot tell
    // hosts apart: EINVAL). The same device again -> its URI; another device under a name that
    // is exported -> EEXIST. local_device without the kernel attach built in -> ENOTSUP.
    Result<std::string> share(target::ShareRequest req) override;
    Status unshare(const std::string& device_name) override;
    std::vector<target::ShareInfo> list() const override;

    uint16_t port() const;
    const std::string& advertised_address() const;
    // nbd://<advertised>:<port>/<name>
    std::string uri_for(const std::string& name) const;

    // Serves `fd`, a connected stream socket whose peer speaks the transmission phase already
    // (as the kernel's NBD driver does: no handshake, simple replies), for the export `name`.
    // Takes ownership of fd (closed on error too). This is how local_device serves the
    // kernel's sockets; tests use it with a socket pair. ENOENT for an unknown export.
    Status serve_transmission(const std::string& name, int fd);

    // Transmission flags the server advertises for `device` (what it supports).
    static uint16_t transmission_flags_for(const BlockDevice& device);

   private:
    struct Impl;
    explicit NbdServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> _impl;
};

}  // namespace ms::nbd
