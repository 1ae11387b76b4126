// Admin commands of the target: Identify (controller, namespace, active namespace list,
// namespace identification descriptors), Get Log Page (error, SMART, firmware, changed
// namespaces, ANA, discovery), Get/Set Features, Keep Alive, Asynchronous Event Request, Abort
// and Mayastor's vendor snapshot command. Runs on the admin queue's reactor.
#include <algorithm>
#include <bit>
#include <cstring>

#include "core/log.h"
#include "target/nvmf/target_internal.h"

namespace ms::nvmf::detail {

using namespace ms::nvme;

namespace {

template <typename T>
void put(uint8_t* p, std::size_t off, T v) {
    std::memcpy(p + off, &v, sizeof v);
}

// ASCII, space padded, not terminated.
void put_padded(uint8_t* p, std::size_t off, std::size_t len, std::string_view s) {
    std::memset(p + off, ' ', len);
    std::memcpy(p + off, s.data(), std::min(len, s.size()));
}

void put_string(uint8_t* p, std::size_t off, std::size_t len, std::string_view s) {
    std::memcpy(p + off, s.data(), std::min(len - 1, s.size()));
}

// Copies [offset, offset + len) of `page` to `dst`, zeros past its end.
void copy_page(uint8_t* dst, const std::vector<uint8_t>& page, uint64_t offset, uint32_t len) {
    std::memset(dst, 0, len);
    if (offset < page.size()) {
        std::memcpy(dst, page.data() + offset, std::min<uint64_t>(len, page.size() - offset));
    }
}

constexpr std::string_view kFirmware = "0.1.0";

}  // namespace

std::string serial_for(const std::string& nqn) {
    // FNV-1a of the NQN: stable across restarts and builds.
    uint64_t h = 0xcbf29ce484222325ull;
    for (char ch : nqn) {
        h ^= static_cast<uint8_t>(ch);
        h *= 0x100000001b3ull;
    }
    return fmt::format("MS{:016x}", h);
}

Task<Response> Connection::exec_admin(Command* c) {
    _ctrl->last_activity = std::chrono::steady_clock::now();
    switch (static_cast<AdminOpc>(c->sqe.opcode)) {
        case AdminOpc::Identify:
            co_return identify(c);
        case AdminOpc::GetLogPage:
            co_return get_log_page(c);
        case AdminOpc::GetFeatures:
            co_return get_features(c);
        case AdminOpc::SetFeatures:
            co_return set_features(c);
        case AdminOpc::KeepAlive:
            co_return Response{};
        case AdminOpc::AsyncEventRequest:
            co_return async_event_request(c);
        case AdminOpc::Abort: {
            Response r;
            r.dw0 = 1;  // not aborted
            co_return r;
        }
        case AdminOpc::VendorCreateSnapshot: {
            if (_sub->discovery || !_sub->hooks.create_snapshot) {
                co_return generic(sc::kInvalidOpcode);
            }
            uint64_t t = c->sqe.cdw10 | (uint64_t{c->sqe.cdw11} << 32);
            auto hook = _sub->hooks.create_snapshot;
            ms::Status st = co_await hook(t);
            if (!st) {
                log::warn("nvmf: create snapshot on {} failed: {}", _sub->nqn, st.error().to_string());
                co_return generic(sc::kInternalError);
            }
            co_return Response{};
        }
        default:
            co_return generic(sc::kInvalidOpcode);
    }
}

void Connection::identify_controller(uint8_t* p) {
    const TargetOptions& o = _core.options;
    bool disc = _sub->discovery;
    put<uint16_t>(p, idctrl::kVid, 0);
    put<uint16_t>(p, idctrl::kSsvid, 0);
    put_padded(p, idctrl::kSn, 20, _sub->serial);
    put_padded(p, idctrl::kMn, 40, kModelNumber);
    put_padded(p, idctrl::kFr, 8, kFirmware);
    p[idctrl::kRab] = 6;
    p[idctrl::kCmic] = disc ? 0 : 0x0B;
    p[idctrl::kMdts] = static_cast<uint8_t>(std::countr_zero(std::max<uint32_t>(o.max_io_size, 4096) / 4096));
    put<uint16_t>(p, idctrl::kCntlid, _ctrl->cntlid);
    put<uint32_t>(p, idctrl::kVer, kVersion_1_3);
    put<uint32_t>(p, idctrl::kOaes, disc ? (1u << 31) : ((1u << 8) | (1u << 11)));
    p[idctrl::kCntrltype] = disc ? 2 : 1;
    p[idctrl::kAcl] = 3;
    p[idctrl::kAerl] = kAerLimit - 1;
    p[idctrl::kFrmw] = 0x3;  // slot 1 read-only, one slot
    p[idctrl::kLpa] = 0x4;   // extended data for Get Log Page (offsets)
    p[idctrl::kElpe] = 0;
    put<uint16_t>(p, idctrl::kKas, 10);
    if (!disc) {
        p[idctrl::kAnatt] = 10;
        p[idctrl::kAnacap] = 0x5F;
        put<uint32_t>(p, idctrl::kAnagrpmax, 1);
        put<uint32_t>(p, idctrl::kNanagrpid, 1);
    }
    p[idctrl::kSqes] = 0x66;
    p[idctrl::kCqes] = 0x44;
    put<uint16_t>(p, idctrl::kMaxcmd, static_cast<uint16_t>(o.max_queue_depth));
    put<uint32_t>(p, idctrl::kNn, disc ? 0 : kMaxNamespaces);
    put<uint16_t>(p, idctrl::kOncs, disc ? 0 : ((1u << 2) | (1u << 3)));
    p[idctrl::kVwc] = disc ? 0 : 1;
    put<uint32_t>(p, idctrl::kSgls, 1u | (1u << 20));  // SGLs, offsets in capsules; no keyed SGLs over TCP
    put<uint32_t>(p, idctrl::kMnan, disc ? 0 : kMaxNamespaces);
    put_string(p, idctrl::kSubnqn, 256, _sub->nqn);
    put<uint32_t>(p, idctrl::kIoccsz, (64 + o.in_capsule_data_size) / 16);
    put<uint32_t>(p, idctrl::kIorcsz, 1);
    put<uint16_t>(p, idctrl::kIcdoff, 0);
    p[idctrl::kFcatt] = 0;
    p[idctrl::kMsdbd] = 1;
}

Response Connection::identify(Command* c) {
    if (!ensure_buf(c, kIdentifySize)) {
        return generic(sc::kInternalError);
    }
    uint8_t* p = c->buf.data();
    std::memset(p, 0, kIdentifySize);
    uint8_t cns = c->sqe.cdw10 & 0xff;
    uint32_t nsid = c->sqe.nsid;
    Response r;
    r.data_len = kIdentifySize;
    switch (cns) {
        case cns::kController:
            identify_controller(p);
            return r;
        case cns::kNamespace: {
            if (_sub->discovery || nsid == 0 || nsid > kMaxNamespaces) {
                return generic(sc::kInvalidNamespaceOrFormat);
            }
            const Namespace* ns = find_ns(nsid);
            if (ns == nullptr) {
                return r;  // allocated but inactive: zeros
            }
            put<uint64_t>(p, idns::kNsze, ns->num_blocks);
            put<uint64_t>(p, idns::kNcap, ns->num_blocks);
            put<uint64_t>(p, idns::kNuse, ns->num_blocks);
            p[idns::kNlbaf] = 0;
            p[idns::kFlbas] = 0;
            p[idns::kNmic] = 1;
            p[idns::kDlfeat] = 0x1;
            put<uint32_t>(p, idns::kAnagrpid, 1);
            std::memcpy(p + idns::kNguid, ns->uuid.bytes().data(), 16);
            std::memcpy(p + idns::kEui64, ns->uuid.bytes().data(), 8);
            put<uint32_t>(p, idns::kLbaf0, ns->block_shift << 16);
            return r;
        }
        case cns::kActiveNamespaceList: {
            if (nsid >= 0xFFFFFFFE) {
                return generic(sc::kInvalidNamespaceOrFormat);
            }
            find_ns(1);  // refresh the snapshot
            std::size_t n = 0;
            if (!_sub->discovery) {
                for (const auto& ns : *_ns) {
                    if (ns->nsid > nsid && n < 1024) {
                        put<uint32_t>(p, 4 * n++, ns->nsid);
                    }
                }
            }
            return r;
        }
        case cns::kNamespaceIdDescriptors: {
            const Namespace* ns = _sub->discovery ? nullptr : find_ns(nsid);
            if (ns == nullptr) {
                return generic(sc::kInvalidNamespaceOrFormat);
            }
            p[0] = nidt::kNguid;
            p[1] = 16;
            std::memcpy(p + 4, ns->uuid.bytes().data(), 16);
            p[20] = nidt::kUuid;
            p[21] = 16;
            std::memcpy(p + 24, ns->uuid.bytes().data(), 16);
            return r;
        }
        default:
            return generic(sc::kInvalidField);
    }
}

void Connection::build_ana_log(std::vector<uint8_t>& out, bool rgo) {
    find_ns(1);
    std::vector<uint32_t> nsids;
    for (const auto& ns : *_ns) {
        nsids.push_back(ns->nsid);
    }
    out.assign(16 + 32 + (rgo ? 0 : 4 * nsids.size()), 0);
    uint8_t* p = out.data();
    uint64_t chg = _sub->ana_change_count.load();
    put<uint64_t>(p, 0, chg);
    put<uint16_t>(p, 8, 1);
    put<uint32_t>(p, 16, 1);
    put<uint32_t>(p, 20, rgo ? 0 : static_cast<uint32_t>(nsids.size()));
    put<uint64_t>(p, 24, chg);
    p[32] = _sub->ana_state.load();
    if (!rgo) {
        for (std::size_t i = 0; i < nsids.size(); ++i) {
            put<uint32_t>(p, 48 + 4 * i, nsids[i]);
        }
    }
}

void Connection::build_discovery_log(std::vector<uint8_t>& out) {
    std::vector<std::shared_ptr<Subsystem>> subs;
    {
        std::lock_guard lk(_core.mu);
        for (auto& [nqn, s] : _core.subsystems) {
            if (!s->discovery && s->host_allowed(_ctrl->host_nqn)) {
                subs.push_back(s);
            }
        }
    }
    std::size_t nrec = subs.size() * 2;
    out.assign(disc::kHeaderSize + nrec * disc::kEntrySize, 0);
    uint8_t* p = out.data();
    put<uint64_t>(p, disc::kGenctr, _core.genctr.load());
    put<uint64_t>(p, disc::kNumrec, nrec);
    put<uint16_t>(p, disc::kRecfmt, 0);
    std::size_t i = 0;
    for (const auto& s : subs) {
        for (uint16_t port_index = 0; port_index < 2; ++port_index) {
            uint8_t* e = p + disc::kHeaderSize + disc::kEntrySize * i++;
            e[disc::kTrtype] = disc::kTrtypeTcp;
            e[disc::kAdrfam] =
                _local_addr.find(':') != std::string::npos ? disc::kAdrfamIpv6 : disc::kAdrfamIpv4;
            e[disc::kSubtype] = disc::kSubtypeNvm;
            e[disc::kTreq] = 0x2;
            put<uint16_t>(e, disc::kPortid, port_index);
            put<uint16_t>(e, disc::kCntlid, kDynamicCntlid);
            put<uint16_t>(e, disc::kAsqsz, 32);
            put_padded(e, disc::kTrsvcid, 32, std::to_string(_core.ports[port_index]));
            put_string(e, disc::kSubnqn, 256, s->nqn);
            put_padded(e, disc::kTraddr, 256, _local_addr);
            e[disc::kTsas] = 0;
        }
    }
}

Response Connection::get_log_page(Command* c) {
    const Sqe& sqe = c->sqe;
    uint8_t lid = sqe.cdw10 & 0xff;
    uint64_t numd = ((uint64_t{sqe.cdw11 & 0xffff} << 16) | (sqe.cdw10 >> 16)) + 1;
    uint64_t len = numd * 4;
    uint64_t offset = sqe.cdw12 | (uint64_t{sqe.cdw13} << 32);
    if (len > _core.options.max_io_size || (offset & 3) != 0) {
        return generic(sc::kInvalidField);
    }
    auto len32 = static_cast<uint32_t>(len);
    if (!ensure_buf(c, len32)) {
        return generic(sc::kInternalError);
    }
    std::vector<uint8_t> page;
    bool disc = _sub->discovery;
    switch (lid) {
        case lid::kErrorInformation:
            page.assign(64, 0);
            break;
        case lid::kSmartHealth:
            page.assign(512, 0);
            put<uint16_t>(page.data(), 1, 273 + 25);  // composite temperature, kelvin
            page[3] = 100;                            // available spare
            page[4] = 10;                             // spare threshold
            break;
        case lid::kFirmwareSlot:
            page.assign(512, 0);
            page[0] = 1;
            put_padded(page.data(), 8, 8, kFirmware);
            break;
        case lid::kChangedNamespaceList:
            if (disc) {
                return status_only(Sct::CommandSpecific, csc::kInvalidLogPage);
            }
            page.assign(4096, 0);
            if (_ctrl->changed_ns_overflow) {
                put<uint32_t>(page.data(), 0, 0xFFFFFFFFu);
            } else {
                for (std::size_t i = 0; i < _ctrl->changed_ns.size() && i < 1024; ++i) {
                    put<uint32_t>(page.data(), 4 * i, _ctrl->changed_ns[i]);
                }
            }
            if (!(sqe.cdw10 & (1u << 15))) {  // RAE clear: the log is consumed
                _ctrl->changed_ns.clear();
                _ctrl->changed_ns_overflow = false;
            }
            break;
        case lid::kAna:
            if (disc) {
                return status_only(Sct::CommandSpecific, csc::kInvalidLogPage);
            }
            build_ana_log(page, (sqe.cdw10 & (1u << 8)) != 0);
            break;
        case lid::kDiscovery:
            if (!disc) {
                return status_only(Sct::CommandSpecific, csc::kInvalidLogPage);
            }
            build_discovery_log(page);
            if (offset > page.size()) {
                return generic(sc::kInvalidField);
            }
            break;
        default:
            return status_only(Sct::CommandSpecific, csc::kInvalidLogPage);
    }
    copy_page(c->buf.data(), page, offset, len32);
    Response r;
    r.data_len = len32;
    return r;
}

Response Connection::get_features(Command* c) {
    uint8_t f = c->sqe.cdw10 & 0xff;
    Response r;
    switch (f) {
        case fid::kNumberOfQueues:
            r.dw0 = (_ctrl->io_queues - 1) | ((_ctrl->io_queues - 1) << 16);
            return r;
        case fid::kKeepAliveTimer:
            r.dw0 = _ctrl->kato_ms;
            return r;
        case fid::kAsyncEventConfig:
            r.dw0 = _ctrl->aec;
            return r;
        case fid::kVolatileWriteCache:
            r.dw0 = _sub->discovery ? 0 : 1;
            return r;
        case fid::kArbitration:
        case fid::kPowerManagement:
        case fid::kTemperatureThreshold:
        case fid::kInterruptCoalescing:
            return r;
        default:
            return generic(sc::kInvalidField);
    }
}

Response Connection::set_features(Command* c) {
    uint8_t f = c->sqe.cdw10 & 0xff;
    uint32_t v = c->sqe.cdw11;
    if (c->sqe.cdw10 & (1u << 31)) {
        return status_only(Sct::CommandSpecific, csc::kFeatureIdNotSaveable);
    }
    Response r;
    switch (f) {
        case fid::kNumberOfQueues: {
            if ((v & 0xffff) == 0xffff || (v >> 16) == 0xffff) {
                return generic(sc::kInvalidField);
            }
            uint32_t want = std::max(v & 0xffff, v >> 16) + 1;
            _ctrl->io_queues = std::min(want, _core.options.max_io_queues);
            r.dw0 = (_ctrl->io_queues - 1) | ((_ctrl->io_queues - 1) << 16);
            return r;
        }
        case fid::kKeepAliveTimer:
            if (_ctrl->kato_ms == 0 && v != 0) {
                // No timer task runs for this controller: keep-alive cannot be turned on late.
                return generic(sc::kInvalidField);
            }
            _ctrl->kato_ms = v;
            return r;
        case fid::kAsyncEventConfig:
            _ctrl->aec = v;
            return r;
        case fid::kVolatileWriteCache:
        case fid::kArbitration:
        case fid::kPowerManagement:
        case fid::kTemperatureThreshold:
        case fid::kInterruptCoalescing:
            return r;
        default:
            return generic(sc::kInvalidField);
    }
}

Response Connection::async_event_request(Command* c) {
    if (_ctrl->aer_cids.size() >= kAerLimit) {
        return status_only(Sct::CommandSpecific, csc::kAsyncEventRequestLimitExceeded);
    }
    _ctrl->aer_cids.push_back(c->sqe.cid);
    Response r;
    r.no_response = true;
    if (_ctrl->pending_events != 0) {
        _ctrl->raise_event(0, 0);
    }
    return r;
}

// ---- controller events -------------------------------------------------------------------

void Controller::shutdown_all() {
    alive.store(false);
    std::vector<std::shared_ptr<Connection>> conns;
    {
        std::lock_guard lk(mu);
        conns = io_conns;
    }
    for (auto& c : conns) {
        c->shutdown();
    }
    // The admin connection: only touched on home; post if we are elsewhere.
    if (Reactor::current() == home) {
        if (auto a = admin.lock()) {
            a->shutdown();
        }
    } else {
        home->post([self = shared_from_this()] {
            if (auto a = self->admin.lock()) {
                a->shutdown();
            }
        });
    }
}

void Controller::refresh_namespaces() {
    std::vector<std::shared_ptr<Connection>> conns;
    {
        std::lock_guard lk(mu);
        conns = io_conns;
    }
    for (auto& c : conns) {
        c->post_refresh_namespaces();
    }
    home->post([self = shared_from_this()] {
        if (auto a = self->admin.lock()) {
            a->post_refresh_namespaces();
        }
    });
}

void Controller::post_event(uint32_t event, uint32_t nsid) {
    home->post([self = shared_from_this(), event, nsid] { self->raise_event(event, nsid); });
}

void Controller::raise_event(uint32_t event, uint32_t nsid) {
    if (event == kEventNsChanged && nsid != 0) {
        if (std::find(changed_ns.begin(), changed_ns.end(), nsid) == changed_ns.end()) {
            if (changed_ns.size() >= 1024) {
                changed_ns_overflow = true;
            } else {
                changed_ns.push_back(nsid);
            }
        }
    }
    if ((event & kEventNsChanged) && (aec & (1u << 8))) {
        pending_events |= kEventNsChanged;
    }
    if ((event & kEventAnaChanged) && (aec & (1u << 11))) {
        pending_events |= kEventAnaChanged;
    }
    auto conn = admin.lock();
    while (conn && alive.load() && pending_events != 0 && !aer_cids.empty()) {
        uint16_t cid = aer_cids.front();
        aer_cids.erase(aer_cids.begin());
        uint32_t dw0;
        if (pending_events & kEventNsChanged) {
            pending_events &= ~kEventNsChanged;
            dw0 = aen::kTypeNotice | (uint32_t{aen::kInfoNamespaceAttributeChanged} << 8) |
                  (uint32_t{lid::kChangedNamespaceList} << 16);
        } else {
            pending_events &= ~kEventAnaChanged;
            dw0 = aen::kTypeNotice | (uint32_t{aen::kInfoAnaChange} << 8) | (uint32_t{lid::kAna} << 16);
        }
        conn->send_event_response(cid, dw0);
    }
}

}  // namespace ms::nvmf::detail
