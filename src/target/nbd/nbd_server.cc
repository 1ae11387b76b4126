// NbdServer: the listeners (TCP, optionally a Unix socket), the accept loop handing connections
// to the reactors round-robin, the thread-safe management of exports, and local devices (the
// kernel's NBD driver served over socket pairs).
#include "target/nbd/nbd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>

#include "core/log.h"
#include "target/accept_loop.h"
#include "target/nbd/kernel_nbd.h"
#include "target/nbd/server_internal.h"

namespace ms::nbd {

using detail::Connection;
using detail::Export;
using detail::ServerCore;

struct NbdServer::Impl {
    ServerCore core;
    Listener tcp;
    Listener unix_listener;
    bool has_unix = false;
    // Serialises share and unshare (they block; local devices call into the kernel).
    std::mutex mgmt_mu;
};

namespace {

Task<void> serve_connection(ServerCore* core, Socket sock, Reactor* target, std::shared_ptr<Export> preset) {
    co_await switch_to(*target);
    {
        auto conn = std::make_shared<Connection>(*core, std::move(sock), std::move(preset));
        if (core->stopping.load()) {
            conn->shutdown();
        }
        co_await Connection::serve(conn);
    }
    core->live.finished();
}

Task<void> accept_connections(ServerCore* core, Listener* l) {
    return target::accept_loop(
        *core->runtime, core->next_reactor, core->stopping, core->live, *l, "nbd",
        [core](Socket s, Reactor& r) { return serve_connection(core, std::move(s), &r, nullptr); });
}

// Closes every connection of `e` (their requests finish first), waits for them, then closes
// its descriptor. `e` is already out of the export table.
void close_export(ServerCore& core, Export& e) {
    {
        std::lock_guard lk(e.mu);
        e.removed = true;
        for (Connection* c : e.conns) {
            c->shutdown();
        }
    }
    while (!core.live.wait_for(std::chrono::seconds(10), [&] { return e.active.load() == 0; })) {
        log::warn("nbd: export {}: still waiting for {} connection(s) to finish", e.name, e.active.load());
    }
    std::lock_guard elk(e.mu);
    e.desc.reset();
}

void detach_local(Export& e) {
    if (e.local && e.nbd_index >= 0) {
        if (auto st = kernel_nbd_detach(e.nbd_index); !st) {
            log::warn("nbd: export {}: detaching /dev/nbd{}: {}", e.name, e.nbd_index,
                      st.error().to_string());
        }
        e.nbd_index = -1;
    }
}

}  // namespace

NbdServer::NbdServer(std::unique_ptr<Impl> impl) : _impl(std::move(impl)) {}

Result<std::unique_ptr<NbdServer>> NbdServer::start(Runtime& runtime, NbdServerOptions options) {
    if (options.max_payload < 4096 || options.max_payload > (1u << 30) || options.max_inflight == 0 ||
        options.max_inflight > 65536) {
        return errorf(EINVAL, "invalid NBD server options (max_payload {}, max_inflight {})",
                      options.max_payload, options.max_inflight);
    }
    auto impl = std::make_unique<Impl>();
    ServerCore& core = impl->core;
    core.runtime = &runtime;
    core.options = options;
    core.advertised =
        options.advertised_address.empty() ? first_non_loopback_ipv4() : options.advertised_address;
    auto l = Listener::listen_tcp(options.listen_address, options.port);
    if (!l) {
        return std::unexpected(l.error());
    }
    impl->tcp = std::move(*l);
    core.port = impl->tcp.port();
    if (!options.unix_socket.empty()) {
        auto u = Listener::listen_unix(options.unix_socket);
        if (!u) {
            return std::unexpected(u.error());
        }
        impl->unix_listener = std::move(*u);
        impl->has_unix = true;
    }
    Reactor& r0 = runtime.reactor(0);
    ServerCore* cp = &core;
    std::vector<Listener*> listeners{&impl->tcp};
    if (impl->has_unix) {
        listeners.push_back(&impl->unix_listener);
    }
    for (Listener* lp : listeners) {
        core.live.started();
        r0.post([cp, lp] { Reactor::current()->spawn(accept_connections(cp, lp)); });
    }
    log::info("nbd: server listening on {}:{}{}{}", options.listen_address, core.port,
              impl->has_unix ? " and " : "", options.unix_socket);
    return std::unique_ptr<NbdServer>(new NbdServer(std::move(impl)));
}

NbdServer::~NbdServer() {
    ServerCore& core = _impl->core;
    core.stopping.store(true);
    ::shutdown(_impl->tcp.fd(), SHUT_RDWR);
    if (_impl->has_unix) {
        ::shutdown(_impl->unix_listener.fd(), SHUT_RDWR);
    }
    std::vector<std::shared_ptr<Export>> all;
    {
        std::lock_guard lk(core.mu);
        for (auto& [n, e] : core.exports) {
            all.push_back(e);
        }
    }
    for (auto& e : all) {
        detach_local(*e);
    }
    {
        std::lock_guard lk(core.mu);
        for (Connection* c : core.conns) {
            c->shutdown();
        }
    }
    core.live.wait_idle();
    for (auto& e : all) {
        std::lock_guard lk(e->mu);
        e->desc.reset();
    }
    std::lock_guard lk(core.mu);
    core.exports.clear();
    if (_impl->has_unix) {
        ::unlink(core.options.unix_socket.c_str());
    }
}

uint16_t NbdServer::port() const {
    return _impl->core.port;
}

const std::string& NbdServer::advertised_address() const {
    return _impl->core.advertised;
}

std::string NbdServer::uri_for(const std::string& name) const {
    return fmt::format("nbd://{}:{}/{}", _impl->core.advertised, _impl->core.port, name);
}

uint16_t NbdServer::transmission_flags_for(const BlockDevice& device) {
    // Every connection to an export goes through the same device, whose completed writes are
    // visible to every channel: flushes on one connection cover writes made on another.
    uint16_t f = kTxHasFlags | kTxCanMultiConn;
    if (device.io_type_supported(IoType::Flush)) {
        f |= kTxSendFlush | kTxSendFua;
    }
    if (device.io_type_supported(IoType::Unmap)) {
        f |= kTxSendTrim;
    }
    if (device.io_type_supported(IoType::WriteZeroes)) {
        f |= kTxSendWriteZeroes;
    }
    return f;
}

Status NbdServer::serve_transmission(const std::string& name, int fd) {
    ServerCore& core = _impl->core;
    if (core.stopping.load()) {
        ::close(fd);
        return make_error(ESHUTDOWN, "NBD server is stopping");
    }
    auto e = core.find_export(name);
    if (!e) {
        ::close(fd);
        return errorf(ENOENT, "no NBD export named '{}'", name);
    }
    Reactor* r = &target::next_reactor(*core.runtime, core.next_reactor);
    core.live.started();
    ServerCore* cp = &core;
    // The posted function must be copyable: the socket travels as its fd.
    r->post([cp, r, fd, e] { Reactor::current()->spawn(serve_connection(cp, Socket(fd), r, e)); });
    return ok();
}

Result<std::string> NbdServer::share(target::ShareRequest req) {
    ServerCore& core = _impl->core;
    if (!req.device) {
        return errorf(EINVAL, "no device to share");
    }
    if (!req.options.allowed_hosts.empty()) {
        return errorf(EINVAL, "NBD cannot tell hosts apart: allowed hosts are not supported");
    }
    std::lock_guard mg(_impl->mgmt_mu);
    const std::string name = req.device->name();
    if (auto e = core.find_export(name)) {
        if (e->device == req.device) {
            return e->uri;
        }
        return errorf(EEXIST, "another device is exported over NBD as '{}'", name);
    }
    uint32_t bs = req.device->block_size();
    if (bs < 512 || bs > 65536 || !std::has_single_bit(bs)) {
        return errorf(EINVAL, "device {} has a block size NBD cannot export ({})", name, bs);
    }
    auto d = Descriptor::open(req.device, OpenMode::ReadWrite, req.claim_owner);
    if (!d) {
        return std::unexpected(d.error());
    }
    auto e = std::make_shared<Export>();
    e->name = name;
    e->description = req.device->product();
    e->device = req.device;
    e->size = req.device->geometry().size_bytes();
    e->block_size = bs;
    e->tx_flags = transmission_flags_for(*req.device);
    e->desc = std::move(*d);
    e->uri = uri_for(name);
    e->local = req.options.local_device;
    {
        std::lock_guard lk(core.mu);
        core.exports[name] = e;
    }
    if (!req.options.local_device) {
        log::info("nbd: exporting {} as {}", name, e->uri);
        return e->uri;
    }
    // The kernel speaks the transmission phase on socket pairs whose other ends we serve.
    std::size_t n = std::clamp<std::size_t>(core.options.local_connections, 1, core.runtime->size());
    std::vector<int> kernel_ends;
    Status served = ok();
    for (std::size_t i = 0; i < n && served; ++i) {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            served = errno_error(errno, "socketpair");
            break;
        }
        kernel_ends.push_back(sv[0]);
        served = serve_transmission(name, sv[1]);
    }
    Result<int> index = std::unexpected(Error{});
    if (served) {
        KernelAttach a;
        a.sockets = kernel_ends;
        a.size_bytes = e->size;
        a.block_size = bs;
        a.transmission_flags = e->tx_flags;
        index = kernel_nbd_attach(a);
    } else {
        index = std::unexpected(served.error());
    }
    for (int fd : kernel_ends) {
        ::close(fd);
    }
    if (!index) {
        {
            std::lock_guard lk(core.mu);
            core.exports.erase(name);
        }
        close_export(core, *e);
        return std::unexpected(index.error());
    }
    {
        std::lock_guard lk(core.mu);
        e->nbd_index = *index;
        e->uri = fmt::format("file:///dev/nbd{}", *index);
    }
    log::info("nbd: {} attached to the kernel as /dev/nbd{}", name, *index);
    return e->uri;
}

Status NbdServer::unshare(const std::string& device_name) {
    ServerCore& core = _impl->core;
    std::lock_guard mg(_impl->mgmt_mu);
    std::shared_ptr<Export> e;
    {
        std::lock_guard lk(core.mu);
        auto it = core.exports.find(device_name);
        if (it == core.exports.end()) {
            return ok();
        }
        e = it->second;
    }
    // The kernel first: it fails its own I/O and closes its sockets, which ends our side.
    detach_local(*e);
    {
        std::lock_guard lk(core.mu);
        core.exports.erase(device_name);
    }
    close_export(core, *e);
    log::info("nbd: {} no longer exported", device_name);
    return ok();
}

std::vector<target::ShareInfo> NbdServer::list() const {
    std::lock_guard lk(_impl->core.mu);
    std::vector<target::ShareInfo> out;
    for (auto& [n, e] : _impl->core.exports) {
        target::ShareInfo info;
        info.protocol = std::string(target::kNbd);
        info.device_name = e->name;
        info.uri = e->uri;
        info.local_device = e->local;
        out.push_back(std::move(info));
    }
    return out;
}

}  // namespace ms::nbd
