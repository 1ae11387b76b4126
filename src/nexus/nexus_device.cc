// Creating a nexus over its children, its channels, what it reports, and closing it.
#include "nexus/nexus_device.h"

#include <algorithm>
#include <set>

#include "bdev/device_factory.h"
#include "bdev/device_registry.h"
#include "core/log.h"
#include "nexus/child_device.h"
#include "nexus/fan_out.h"
#include "store/kv_store.h"

namespace ms::nexus {

namespace {

constexpr uint32_t type_bit(IoType t) {
    return 1u << static_cast<unsigned>(t);
}

Task<void> release_children(std::string owner, std::vector<std::shared_ptr<NexusChild>> children) {
    for (auto& c : children) {
        co_await release_child(owner, c);
    }
}

Task<Status> visit_channel(NexusChannel* ch, const std::function<Task<void>(NexusChannel&)>* fn) {
    co_await switch_to(ch->reactor());
    co_await (*fn)(*ch);
    co_return ok();
}

}  // namespace

Task<Result<std::shared_ptr<Nexus>>> Nexus::create(NexusConfig config, std::vector<std::string> uris) {
    const std::string name = config.name;
    if (name.empty()) {
        co_return make_error(EINVAL, "a nexus needs a name");
    }
    if (config.size == 0) {
        co_return errorf(EINVAL, "nexus '{}': size 0", name);
    }
    if (uris.empty()) {
        co_return errorf(EINVAL, "nexus '{}' needs at least one child", name);
    }
    if (uris.size() > kMaxChildren) {
        co_return errorf(EINVAL, "nexus '{}': {} children, at most {}", name, uris.size(), kMaxChildren);
    }
    if (std::set<std::string>(uris.begin(), uris.end()).size() != uris.size()) {
        co_return errorf(EINVAL, "nexus '{}': a child URI is given twice", name);
    }
    if (DeviceRegistry::instance().lookup(name)) {
        co_return errorf(EEXIST, "a device named '{}' exists already", name);
    }
    std::optional<HealthRecord> record;
    if (config.store) {
        auto got = co_await config.store->get(health_record_key(config.uuid));
        if (!got) {
            co_return errorf(got.error().code, "nexus '{}': reading its store record: {}", name,
                             got.error().message);
        }
        if (got->has_value()) {
            auto decoded = decode_health_record(**got);
            if (!decoded) {
                co_return errorf(EUCLEAN, "nexus '{}': its store record is damaged: {}", name,
                                 decoded.error().message);
            }
            record = std::move(*decoded);
        }
    }

    std::vector<std::shared_ptr<NexusChild>> children;
    Status status = ok();
    for (const auto& uri : uris) {
        auto child = co_await open_child(name, uri);
        if (!child) {
            status = std::unexpected(child.error());
            break;
        }
        children.push_back(std::move(*child));
    }
    Geometry g;
    if (status) {
        g.block_size = children.front()->device->block_size();
        g.buf_align = 1;
        for (const auto& c : children) {
            g.buf_align = std::max(g.buf_align, c->device->geometry().buf_align);
            if (Status s = check_child_geometry(*c->device, c->uri(), g.block_size, config.size); !s) {
                status = std::move(s);
                break;
            }
        }
    }
    if (status && config.size % g.block_size != 0) {
        status = errorf(EINVAL, "nexus '{}': size {} is not a multiple of the {}-byte block size", name,
                        config.size, g.block_size);
    }
    if (status && record) {
        std::size_t current = 0;
        for (const auto& c : children) {
            current += record->is_current(c->uri()) ? 1 : 0;
        }
        if (current == 0) {
            status = errorf(EUCLEAN, "nexus '{}': the store records every given child as stale", name);
        }
    }
    if (!status) {
        co_await release_children(name, std::move(children));
        co_return std::unexpected(status.error());
    }
    g.num_blocks = config.size / g.block_size;
    for (auto& c : children) {
        if (!record || record->is_current(c->uri())) {
            c->set_state(ChildState::Open);
        } else {
            c->set_state(ChildState::Faulted, FaultReason::OutOfSync);
        }
        c->spec = c->wanted_view();
    }

    auto nexus = std::make_shared<Nexus>(std::move(config), g, children);
    if (Status s = DeviceRegistry::instance().add(nexus); !s) {
        co_await release_children(name, std::move(children));
        co_return std::unexpected(s.error());
    }
    if (nexus->_config.store) {
        Status s = co_await nexus->_config.store->put(health_record_key(nexus->uuid()),
                                                      encode_health_record(nexus->record()));
        co_await switch_to(*nexus->_home);
        if (!s) {
            (void)DeviceRegistry::instance().remove(name);
            co_await release_children(name, std::move(children));
            co_return errorf(s.error().code, "nexus '{}': writing its store record: {}", name,
                             s.error().message);
        }
    }
    // Children the record calls stale are rebuilt from a current one.
    {
        auto guard = co_await nexus->_op_lock.lock();
        for (auto& c : children) {
            if (c->out_of_sync()) {
                if (Status s = co_await nexus->begin_rebuild(c); !s) {
                    log::error("nexus '{}': cannot start rebuilding stale child '{}': {}", name, c->uri(),
                               s.error().message);
                }
            }
        }
    }
    log::info("nexus '{}' created: {} bytes, {} children", name, nexus->_config.size, children.size());
    co_return nexus;
}

Nexus::Nexus(NexusConfig config, Geometry geometry, std::vector<std::shared_ptr<NexusChild>> children)
    : BlockDevice(config.name, "Nexus", geometry, config.uuid),
      _home(Reactor::current()),
      _config(std::move(config)),
      _region_blocks(std::max<uint64_t>(_config.options.wil_region_bytes / geometry.block_size, 1)),
      _children(std::move(children)) {
    update_io_types();
}

Nexus::~Nexus() = default;

void Nexus::update_io_types() {
    uint32_t types = type_bit(IoType::Read) | type_bit(IoType::Write) | type_bit(IoType::Flush);
    for (IoType t : {IoType::Unmap, IoType::WriteZeroes, IoType::Reset}) {
        bool all = true;
        for (const auto& c : _children) {
            all &= c->state() == ChildState::Destroying || c->device->io_type_supported(t);
        }
        if (all) {
            types |= type_bit(t);
        }
    }
    _io_types.store(types, std::memory_order_release);
}

bool Nexus::io_type_supported(IoType t) const {
    return (_io_types.load(std::memory_order_acquire) & type_bit(t)) != 0;
}

Result<std::unique_ptr<IoChannel>> Nexus::create_channel() {
    std::lock_guard g(_mutex);
    std::vector<std::pair<NexusChild*, ViewSpec>> views;
    for (const auto& c : _children) {
        if (!c->spec.removed) {
            views.emplace_back(c.get(), c->spec);
        }
    }
    auto ch = std::make_unique<NexusChannel>(*Reactor::current(), std::move(views), _locks);
    _channels.push_back(ch.get());
    return std::unique_ptr<IoChannel>(std::move(ch));
}

Task<void> Nexus::for_each_channel(std::function<Task<void>(NexusChannel&)> fn) {
    std::vector<NexusChannel*> channels;
    {
        std::lock_guard g(_mutex);
        channels = _channels;
    }
    std::vector<Status> results(channels.size());
    co_await all_of(std::span<Status>(results),
                    [&](std::size_t i) { return visit_channel(channels[i], &fn); });
}

NexusInfo Nexus::info() const {
    std::lock_guard g(_mutex);
    NexusInfo info;
    info.name = name();
    info.uuid = uuid();
    info.size = _config.size;
    info.block_size = block_size();
    info.rebuilds = rebuild_jobs_in_process();
    std::size_t open = 0;
    for (const auto& c : _children) {
        if (c->state() == ChildState::Destroying) {
            continue;
        }
        ChildInfo ci;
        ci.uri = c->uri();
        ci.state = c->state();
        ci.reason = c->reason();
        if (auto it = _rebuilds.find(c->uri()); it != _rebuilds.end()) {
            ci.rebuild_progress = static_cast<int32_t>(it->second.job->stats().progress);
        }
        open += ci.state == ChildState::Open ? 1 : 0;
        info.children.push_back(std::move(ci));
    }
    info.state = open == 0                      ? NexusState::Faulted
                 : open == info.children.size() ? NexusState::Online
                                                : NexusState::Degraded;
    return info;
}

Task<Status> Nexus::close(bool remove_record) {
    auto guard = co_await _op_lock.lock();
    if (_closed) {
        co_return ok();
    }
    if (auto removed = DeviceRegistry::instance().remove(name()); !removed) {
        co_return errorf(removed.error().code, "nexus '{}' cannot be closed: {}", name(),
                         removed.error().message);
    }
    _closed = true;
    // Rebuilds end first: their copies use the children's descriptors.
    std::vector<RebuildJob*> jobs;
    {
        std::lock_guard g(_mutex);
        for (auto& [uri, e] : _rebuilds) {
            e.job->stop();
            jobs.push_back(e.job.get());
        }
    }
    for (RebuildJob* j : jobs) {
        co_await j->wait();
    }
    {
        std::lock_guard g(_mutex);
        for (RebuildJob* j : jobs) {
            erase_rebuild_locked(j);
        }
    }
    // The record's last change is written (or given up on) before it may be removed.
    _closing = true;
    while (_writer_running) {
        co_await _writer_done.wait();
    }
    std::vector<std::shared_ptr<NexusChild>> children;
    {
        std::lock_guard g(_mutex);
        children = _children;
    }
    for (auto& c : children) {
        c->set_state(ChildState::Closed);
    }
    co_await release_children(name(), children);
    Status result = ok();
    if (remove_record && _config.store) {
        result = co_await _config.store->remove(health_record_key(uuid()));
        co_await switch_to(*_home);
        if (!result) {
            log::error("nexus '{}': cannot remove its store record: {}", name(), result.error().message);
        }
    }
    // Messages this nexus posted to its channels run before the channels can go.
    co_await for_each_channel([](NexusChannel&) -> Task<void> { co_return; });
    log::info("nexus '{}' closed", name());
    co_return result;
}

}  // namespace ms::nexus
