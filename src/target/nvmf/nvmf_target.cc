// NvmfTarget: listeners on the replica and nexus ports, the accept loop handing connections to
// the reactors round-robin, and the thread-safe management of subsystems, namespaces, ANA
// state and allow-lists.
#include "target/nvmf/nvmf_target.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <bit>

#include "core/log.h"
#include "target/accept_loop.h"
#include "target/nvmf/target_internal.h"

namespace ms::nvmf {

using detail::Connection;
using detail::Controller;
using detail::Namespace;
using detail::NamespaceTable;
using detail::Subsystem;
using detail::TargetCore;

std::string nqn_for(std::string_view device_name) {
    return fmt::format("{}{}", nvme::kMayastorNqnPrefix, device_name);
}

bool detail::Subsystem::host_allowed(const std::string& host) const {
    std::lock_guard lk(mu);
    return allowed_hosts.empty() ||
           std::find(allowed_hosts.begin(), allowed_hosts.end(), host) != allowed_hosts.end();
}

struct NvmfTarget::Impl {
    TargetCore core;
    Listener listeners[2];
};

namespace {

bool valid_nqn(const std::string& nqn) {
    if (nqn.size() < 5 || nqn.size() > nvme::kNqnMaxLength || !nqn.starts_with("nqn.")) {
        return false;
    }
    return std::all_of(nqn.begin(), nqn.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

Task<void> serve_connection(TargetCore* core, Socket sock, Reactor* target) {
    co_await switch_to(*target);
    {
        auto conn = std::make_shared<Connection>(*core, std::move(sock));
        if (core->stopping.load()) {
            conn->shutdown();
        }
        co_await Connection::serve(conn);
    }
    core->live.finished();
}

Task<void> accept_connections(TargetCore* core, Listener* l) {
    return target::accept_loop(
        *core->runtime, core->next_reactor, core->stopping, core->live, *l, "nvmf",
        [core](Socket s, Reactor& r) { return serve_connection(core, std::move(s), &r); });
}

Result<std::shared_ptr<const Namespace>> make_namespace(uint32_t nsid, std::shared_ptr<BlockDevice> device,
                                                        const std::string& claim_owner) {
    if (!device) {
        return errorf(EINVAL, "no device");
    }
    uint32_t bs = device->block_size();
    if (bs < 512 || !std::has_single_bit(bs)) {
        return errorf(EINVAL, "device {} has an unsupported block size {}", device->name(), bs);
    }
    auto d = Descriptor::open(device, OpenMode::ReadWrite, claim_owner);
    if (!d) {
        return std::unexpected(d.error());
    }
    auto ns = std::make_shared<Namespace>();
    ns->nsid = nsid;
    ns->desc = std::shared_ptr<Descriptor>(std::move(*d));
    ns->device_name = device->name();
    ns->uuid = device->uuid();
    ns->block_size = bs;
    ns->block_shift = static_cast<uint32_t>(std::countr_zero(bs));
    ns->num_blocks = device->num_blocks();
    return ns;
}

void publish(Subsystem& s, NamespaceTable table) {
    // Caller holds s.mu.
    std::sort(table.begin(), table.end(), [](const auto& a, const auto& b) { return a->nsid < b->nsid; });
    s.namespaces = std::make_shared<NamespaceTable>(std::move(table));
    s.ns_version.fetch_add(1, std::memory_order_release);
}

std::vector<std::shared_ptr<Controller>> controllers_of(Subsystem& s) {
    std::lock_guard lk(s.mu);
    std::vector<std::shared_ptr<Controller>> out;
    for (auto& [id, c] : s.controllers) {
        out.push_back(c);
    }
    return out;
}

}  // namespace

NvmfTarget::NvmfTarget(std::unique_ptr<Impl> impl) : _impl(std::move(impl)) {}

Result<std::unique_ptr<NvmfTarget>> NvmfTarget::start(Runtime& runtime, TargetOptions options) {
    if (options.max_io_size < 4096 || !std::has_single_bit(options.max_io_size) ||
        options.max_queue_depth < 2 || options.max_queue_depth > 65536 || options.max_io_queues == 0 ||
        options.max_h2c_data < 4096 || options.max_h2c_data % 4 != 0 ||
        options.in_capsule_data_size % 16 != 0) {
        return errorf(EINVAL, "invalid NVMe/TCP target options");
    }
    auto impl = std::make_unique<Impl>();
    TargetCore& core = impl->core;
    core.runtime = &runtime;
    core.options = options;
    core.advertised =
        options.advertised_address.empty() ? first_non_loopback_ipv4() : options.advertised_address;
    uint16_t want[2] = {options.replica_port, options.nexus_port};
    for (int i = 0; i < 2; ++i) {
        auto l = Listener::listen_tcp(options.listen_address, want[i]);
        if (!l) {
            return std::unexpected(l.error());
        }
        impl->listeners[i] = std::move(*l);
        core.ports[i] = impl->listeners[i].port();
    }
    // The discovery subsystem.
    auto d = std::make_shared<Subsystem>();
    d->nqn = std::string(nvme::kDiscoveryNqn);
    d->discovery = true;
    d->serial = detail::serial_for(d->nqn);
    core.subsystems[d->nqn] = d;

    Reactor& r0 = runtime.reactor(0);
    for (auto& l : impl->listeners) {
        core.live.started();
        Listener* lp = &l;
        TargetCore* cp = &core;
        r0.post([cp, lp] { Reactor::current()->spawn(accept_connections(cp, lp)); });
    }
    log::info("nvmf: target listening on {}:{} and {}:{}", options.listen_address, core.ports[0],
              options.listen_address, core.ports[1]);
    return std::unique_ptr<NvmfTarget>(new NvmfTarget(std::move(impl)));
}

NvmfTarget::~NvmfTarget() {
    TargetCore& core = _impl->core;
    core.stopping.store(true);
    for (auto& l : _impl->listeners) {
        ::shutdown(l.fd(), SHUT_RDWR);
    }
    {
        std::lock_guard lk(core.mu);
        for (Connection* c : core.conns) {
            c->shutdown();
        }
    }
    core.live.wait_idle();
    std::lock_guard lk(core.mu);
    core.subsystems.clear();
}

uint16_t NvmfTarget::replica_port() const {
    return _impl->core.ports[0];
}

uint16_t NvmfTarget::nexus_port() const {
    return _impl->core.ports[1];
}

const std::string& NvmfTarget::advertised_address() const {
    return _impl->core.advertised;
}

std::string NvmfTarget::uri_for(const std::string& nqn) const {
    return fmt::format("nvmf://{}:{}/{}", _impl->core.advertised, _impl->core.ports[0], nqn);
}

Result<std::string> NvmfTarget::add_subsystem(SubsystemSpec spec) {
    TargetCore& core = _impl->core;
    if (!spec.device) {
        return errorf(EINVAL, "no device to share");
    }
    std::string nqn = spec.nqn.empty() ? nqn_for(spec.device->name()) : spec.nqn;
    if (!valid_nqn(nqn) || nqn == nvme::kDiscoveryNqn) {
        return errorf(EINVAL, "invalid NQN '{}'", nqn);
    }
    if (spec.min_cntlid == 0 || spec.min_cntlid > spec.max_cntlid || spec.max_cntlid > nvme::kMaxCntlid) {
        return errorf(EINVAL, "invalid controller ID range {}-{}", spec.min_cntlid, spec.max_cntlid);
    }
    std::lock_guard lk(core.mu);
    if (auto it = core.subsystems.find(nqn); it != core.subsystems.end()) {
        auto table = it->second->ns_snapshot();
        bool same = !table->empty() && (*table)[0]->desc->device_ptr() == spec.device;
        if (same) {
            return nqn;
        }
        return errorf(EEXIST, "subsystem {} exists with another device", nqn);
    }
    auto ns = make_namespace(1, spec.device, spec.claim_owner);
    if (!ns) {
        return std::unexpected(ns.error());
    }
    auto s = std::make_shared<Subsystem>();
    s->nqn = nqn;
    s->hooks = std::move(spec.hooks);
    s->min_cntlid = spec.min_cntlid;
    s->max_cntlid = spec.max_cntlid;
    s->next_cntlid = spec.min_cntlid;
    s->serial = detail::serial_for(nqn);
    s->ana_state.store(static_cast<uint8_t>(spec.ana_state));
    s->allowed_hosts = std::move(spec.allowed_hosts);
    {
        std::lock_guard slk(s->mu);
        publish(*s, NamespaceTable{*ns});
    }
    core.subsystems[nqn] = s;
    core.genctr.fetch_add(1);
    log::info("nvmf: subsystem {} added (device {})", nqn, (*ns)->device_name);
    return nqn;
}

Status NvmfTarget::remove_subsystem(const std::string& nqn) {
    TargetCore& core = _impl->core;
    std::shared_ptr<Subsystem> s;
    {
        std::lock_guard lk(core.mu);
        auto it = core.subsystems.find(nqn);
        if (it == core.subsystems.end() || it->second->discovery) {
            return ok();
        }
        s = it->second;
        core.subsystems.erase(it);
        core.genctr.fetch_add(1);
    }
    {
        std::lock_guard lk(s->mu);
        s->removed = true;
    }
    for (auto& c : controllers_of(*s)) {
        c->shutdown_all();
    }
    // Wait for its connections to finish their commands and let go of the descriptors.
    (void)core.live.wait_for(std::chrono::seconds(30), [&] { return s->connections.load() == 0; });
    {
        std::lock_guard lk(s->mu);
        publish(*s, {});
    }
    log::info("nvmf: subsystem {} removed", nqn);
    return ok();
}

bool NvmfTarget::has_subsystem(const std::string& nqn) const {
    auto s = _impl->core.find_subsystem(nqn);
    return s && !s->discovery;
}

Result<uint32_t> NvmfTarget::add_namespace(const std::string& nqn, std::shared_ptr<BlockDevice> device,
                                           std::string claim_owner) {
    auto s = _impl->core.find_subsystem(nqn);
    if (!s || s->discovery) {
        return errorf(ENOENT, "no subsystem {}", nqn);
    }
    uint32_t nsid = 0;
    {
        std::lock_guard lk(s->mu);
        NamespaceTable table = *s->namespaces;
        for (uint32_t id = 1; id <= detail::kMaxNamespaces && nsid == 0; ++id) {
            if (std::none_of(table.begin(), table.end(), [id](const auto& n) { return n->nsid == id; })) {
                nsid = id;
            }
        }
        if (nsid == 0) {
            return errorf(ENOSPC, "subsystem {} has no free namespace ID", nqn);
        }
        auto ns = make_namespace(nsid, std::move(device), claim_owner);
        if (!ns) {
            return std::unexpected(ns.error());
        }
        table.push_back(*ns);
        publish(*s, std::move(table));
    }
    for (auto& c : controllers_of(*s)) {
        c->post_event(detail::kEventNsChanged, nsid);
    }
    return nsid;
}

Status NvmfTarget::remove_namespace(const std::string& nqn, uint32_t nsid) {
    auto s = _impl->core.find_subsystem(nqn);
    if (!s || s->discovery) {
        return errorf(ENOENT, "no subsystem {}", nqn);
    }
    {
        std::lock_guard lk(s->mu);
        NamespaceTable table = *s->namespaces;
        auto it = std::find_if(table.begin(), table.end(), [nsid](const auto& n) { return n->nsid == nsid; });
        if (it == table.end()) {
            return errorf(ENOENT, "subsystem {} has no namespace {}", nqn, nsid);
        }
        table.erase(it);
        publish(*s, std::move(table));
    }
    for (auto& c : controllers_of(*s)) {
        c->refresh_namespaces();
        c->post_event(detail::kEventNsChanged, nsid);
    }
    return ok();
}

Result<nvme::AnaState> NvmfTarget::ana_state(const std::string& nqn) const {
    auto s = _impl->core.find_subsystem(nqn);
    if (!s || s->discovery) {
        return errorf(ENOENT, "no subsystem {}", nqn);
    }
    return static_cast<nvme::AnaState>(s->ana_state.load());
}

Status NvmfTarget::set_ana_state(const std::string& nqn, nvme::AnaState state) {
    auto s = _impl->core.find_subsystem(nqn);
    if (!s || s->discovery) {
        return errorf(ENOENT, "no subsystem {}", nqn);
    }
    switch (state) {
        case nvme::AnaState::Optimized:
        case nvme::AnaState::NonOptimized:
        case nvme::AnaState::Inaccessible:
        case nvme::AnaState::PersistentLoss:
        case nvme::AnaState::Change:
            break;
        default:
            return errorf(EINVAL, "invalid ANA state {}", static_cast<int>(state));
    }
    if (s->ana_state.exchange(static_cast<uint8_t>(state)) == static_cast<uint8_t>(state)) {
        return ok();
    }
    s->ana_change_count.fetch_add(1);
    for (auto& c : controllers_of(*s)) {
        c->post_event(detail::kEventAnaChanged);
    }
    return ok();
}

Status NvmfTarget::set_allowed_hosts(const std::string& nqn, std::vector<std::string> hosts) {
    auto s = _impl->core.find_subsystem(nqn);
    if (!s || s->discovery) {
        return errorf(ENOENT, "no subsystem {}", nqn);
    }
    std::lock_guard lk(s->mu);
    s->allowed_hosts = std::move(hosts);
    _impl->core.genctr.fetch_add(1);
    return ok();
}

std::vector<SubsystemInfo> NvmfTarget::subsystems() const {
    std::vector<std::shared_ptr<Subsystem>> subs;
    {
        std::lock_guard lk(_impl->core.mu);
        for (auto& [n, s] : _impl->core.subsystems) {
            if (!s->discovery) {
                subs.push_back(s);
            }
        }
    }
    std::vector<SubsystemInfo> out;
    for (auto& s : subs) {
        SubsystemInfo info;
        info.nqn = s->nqn;
        info.ana_state = static_cast<nvme::AnaState>(s->ana_state.load());
        std::lock_guard lk(s->mu);
        for (const auto& ns : *s->namespaces) {
            info.namespaces.push_back(NamespaceInfo{ns->nsid, ns->device_name, ns->uuid});
        }
        info.allowed_hosts = s->allowed_hosts;
        for (auto& [id, c] : s->controllers) {
            std::lock_guard clk(c->mu);
            info.controllers.push_back(
                ControllerInfo{id, c->host_nqn, static_cast<uint32_t>(c->qids.size())});
        }
        out.push_back(std::move(info));
    }
    return out;
}

Result<std::string> NvmfTarget::share(target::ShareRequest req) {
    if (req.options.local_device) {
        return errorf(ENOTSUP,
                      "NVMe-oF cannot attach a device to this machine's kernel (no local nvme-tcp host)");
    }
    SubsystemSpec spec;
    spec.device = std::move(req.device);
    spec.claim_owner = std::move(req.claim_owner);
    spec.allowed_hosts = std::move(req.options.allowed_hosts);
    spec.hooks.create_snapshot = std::move(req.options.create_snapshot);
    auto nqn = add_subsystem(std::move(spec));
    if (!nqn) {
        return std::unexpected(nqn.error());
    }
    return uri_for(*nqn);
}

Status NvmfTarget::unshare(const std::string& device_name) {
    return remove_subsystem(nqn_for(device_name));
}

std::vector<target::ShareInfo> NvmfTarget::list() const {
    std::vector<target::ShareInfo> out;
    for (auto& s : subsystems()) {
        if (s.namespaces.empty() || s.nqn != nqn_for(s.namespaces[0].device_name)) {
            continue;  // not made by share() (a test's own subsystem)
        }
        out.push_back(target::ShareInfo{std::string(target::kNvmf), s.namespaces[0].device_name,
                                        uri_for(s.nqn), s.allowed_hosts, false});
    }
    return out;
}

Result<target::PathState> NvmfTarget::path_state(const std::string& device_name) const {
    auto state = ana_state(nqn_for(device_name));
    if (!state) {
        return std::unexpected(state.error());
    }
    switch (*state) {
        case nvme::AnaState::Optimized:
            return target::PathState::Optimized;
        case nvme::AnaState::NonOptimized:
            return target::PathState::NonOptimized;
        default:
            return target::PathState::Inaccessible;
    }
}

Status NvmfTarget::set_path_state(const std::string& device_name, target::PathState state) {
    nvme::AnaState ana = nvme::AnaState::Optimized;
    switch (state) {
        case target::PathState::Optimized:
            break;
        case target::PathState::NonOptimized:
            ana = nvme::AnaState::NonOptimized;
            break;
        case target::PathState::Inaccessible:
            ana = nvme::AnaState::Inaccessible;
            break;
    }
    return set_ana_state(nqn_for(device_name), ana);
}

}  // namespace ms::nvmf
