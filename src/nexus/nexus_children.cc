// Changing a nexus's children: fault, offline, online, add, remove; and taking a child out of
// I/O on every core before its descriptor is closed.
#include "core/log.h"
#include "nexus/child_device.h"
#include "nexus/nexus_device.h"

namespace ms::nexus {

std::shared_ptr<NexusChild> Nexus::find_child(std::string_view uri) const {
    for (const auto& c : _children) {
        if (c->uri() == uri && c->state() != ChildState::Destroying) {
            return c;
        }
    }
    return nullptr;
}

std::shared_ptr<NexusChild> Nexus::shared_child(const NexusChild* child) const {
    for (const auto& c : _children) {
        if (c.get() == child) {
            return c;
        }
    }
    return nullptr;
}

std::size_t Nexus::open_children() const {
    std::size_t n = 0;
    for (const auto& c : _children) {
        n += c->is_open() ? 1 : 0;
    }
    return n;
}

std::size_t Nexus::live_children() const {
    std::size_t n = 0;
    for (const auto& c : _children) {
        n += c->state() != ChildState::Destroying ? 1 : 0;
    }
    return n;
}

void Nexus::start_log(NexusChild& child) {
    child.wil = std::make_shared<WriteIntentLog>(num_blocks(), _region_blocks);
    child.wil_complete = true;
}

uint64_t Nexus::leave(NexusChild& child, ChildState state, FaultReason reason) {
    const bool was_current = child.is_open() || child.promoting;
    if (child.is_open()) {
        start_log(child);
    }
    child.in_write_set = false;
    child.promoting = false;
    child.set_state(state, reason);
    return was_current ? note_health_change(true) : 0;
}

Task<void> Nexus::apply_view(std::shared_ptr<NexusChild> child) {
    const ViewSpec spec = child->wanted_view();
    {
        std::lock_guard g(_mutex);
        child->spec = spec;
    }
    NexusChild* raw = child.get();
    co_await for_each_channel([raw, spec](NexusChannel& c) { return c.apply(raw, spec); });
}

Task<void> Nexus::detach(std::shared_ptr<NexusChild> child) {
    auto orphans = co_await cancel_rebuilds(child);
    co_await apply_view(child);
    if (!child->spec.readable && !child->spec.writable) {
        child->desc.reset();
    }
    for (auto& d : orphans) {
        if (d != child && d->out_of_sync() && find_child(d->uri()) == d) {
            if (Status s = co_await begin_rebuild(d); !s) {
                log::warn("nexus '{}': rebuild into '{}' lost its source and cannot restart: {}", name(),
                          d->uri(), s.error().message);
            }
        }
    }
}

Task<void> Nexus::retire(std::shared_ptr<Nexus>, std::shared_ptr<NexusChild> child) {
    auto guard = co_await _op_lock.lock();
    if (_closed || !child || find_child(child->uri()) != child) {
        co_return;
    }
    if (child->is_open() || (child->out_of_sync() && child->in_write_set)) {
        co_return;  // back in service since it failed
    }
    co_await detach(child);
}

Task<Status> Nexus::reopen(NexusChild& child) {
    child.desc.reset();
    auto desc = Descriptor::open(child.device, OpenMode::ReadWrite, name());
    if (!desc) {
        child.set_state(ChildState::Faulted, FaultReason::CantOpen);
        co_return errorf(desc.error().code, "nexus '{}': cannot reopen child '{}': {}", name(), child.uri(),
                         desc.error().message);
    }
    child.desc = std::move(*desc);
    co_return ok();
}

Task<Status> Nexus::fault_child(std::string uri) {
    auto guard = co_await _op_lock.lock();
    auto child = _closed ? nullptr : find_child(uri);
    if (!child) {
        co_return errorf(ENOENT, "nexus '{}' has no child '{}'", name(), uri);
    }
    if (live_children() < 2) {
        co_return errorf(EBUSY, "nexus '{}' has a single child: it cannot be faulted", name());
    }
    if (child->is_open() && open_children() <= 1) {
        co_return errorf(EBUSY, "child '{}' is the last healthy child of nexus '{}'", uri, name());
    }
    const uint64_t v = leave(*child, ChildState::Faulted, FaultReason::AdminCommand);
    co_await detach(child);
    co_return co_await wait_persisted(v);
}

Task<Status> Nexus::offline_child(std::string uri) {
    auto guard = co_await _op_lock.lock();
    auto child = _closed ? nullptr : find_child(uri);
    if (!child) {
        co_return errorf(ENOENT, "nexus '{}' has no child '{}'", name(), uri);
    }
    if (child->state() == ChildState::Closed) {
        co_return ok();
    }
    if (child->is_open() && open_children() <= 1) {
        co_return errorf(EBUSY, "child '{}' is the last healthy child of nexus '{}'", uri, name());
    }
    const uint64_t v = leave(*child, ChildState::Closed, FaultReason::None);
    co_await detach(child);
    co_return co_await wait_persisted(v);
}

Task<Status> Nexus::online_child(std::string uri) {
    auto guard = co_await _op_lock.lock();
    auto child = _closed ? nullptr : find_child(uri);
    if (!child) {
        co_return errorf(ENOENT, "nexus '{}' has no child '{}'", name(), uri);
    }
    if (child->is_open()) {
        co_return errorf(EALREADY, "child '{}' of nexus '{}' is open", uri, name());
    }
    bool rebuilding = false;
    {
        std::lock_guard g(_mutex);
        rebuilding = _rebuilds.contains(uri);
    }
    if (rebuilding) {
        co_return errorf(EALREADY, "child '{}' of nexus '{}' is being rebuilt", uri, name());
    }
    if (!(child->out_of_sync() && child->in_write_set && child->desc)) {
        if (Status s = co_await reopen(*child); !s) {
            co_return s;
        }
    }
    child->set_state(ChildState::Faulted, FaultReason::OutOfSync);
    co_return co_await begin_rebuild(child);
}

Task<Result<ChildInfo>> Nexus::add_child(std::string uri, bool norebuild) {
    auto guard = co_await _op_lock.lock();
    if (_closed) {
        co_return errorf(ENOENT, "nexus '{}' is closed", name());
    }
    if (find_child(uri)) {
        co_return errorf(EEXIST, "'{}' is already a child of nexus '{}'", uri, name());
    }
    if (live_children() >= kMaxChildren) {
        co_return errorf(EINVAL, "nexus '{}' has {} children, the most it can have", name(), kMaxChildren);
    }
    auto opened = co_await open_child(name(), uri);
    if (!opened) {
        co_return std::unexpected(opened.error());
    }
    std::shared_ptr<NexusChild> child = *opened;
    if (Status s = check_child_geometry(*child->device, uri, block_size(), _config.size); !s) {
        co_await release_child(name(), child);
        co_return std::unexpected(s.error());
    }
    child->set_state(ChildState::Faulted, FaultReason::OutOfSync);
    {
        std::lock_guard g(_mutex);
        child->spec = child->wanted_view();
        _children.push_back(child);
    }
    update_io_types();
    if (Status s = co_await wait_persisted(note_health_change(false)); !s) {
        {
            std::lock_guard g(_mutex);
            std::erase(_children, child);
        }
        update_io_types();
        co_await release_child(name(), child);
        co_return std::unexpected(s.error());
    }
    if (!norebuild) {
        if (Status s = co_await begin_rebuild(child); !s) {
            log::error("nexus '{}': cannot start rebuilding new child '{}': {}", name(), uri,
                       s.error().message);
            (void)leave(*child, ChildState::Faulted, FaultReason::RebuildFailed);
            co_await detach(child);
        }
    }
    ChildInfo info;
    info.uri = uri;
    info.state = child->state();
    info.reason = child->reason();
    {
        std::lock_guard g(_mutex);
        if (auto it = _rebuilds.find(uri); it != _rebuilds.end()) {
            info.rebuild_progress = static_cast<int32_t>(it->second.job->stats().progress);
        }
    }
    co_return info;
}

Task<Status> Nexus::remove_child(std::string uri) {
    auto guard = co_await _op_lock.lock();
    auto child = _closed ? nullptr : find_child(uri);
    if (!child) {
        co_return ok();
    }
    if (live_children() <= 1) {
        co_return errorf(EINVAL, "child '{}' is the last child of nexus '{}'", uri, name());
    }
    auto orphans = co_await cancel_rebuilds(child);
    const bool was_current = child->is_open() || child->promoting;
    child->in_write_set = false;
    child->promoting = false;
    child->set_state(ChildState::Destroying);
    const uint64_t v = note_health_change(was_current);
    co_await apply_view(child);
    {
        std::lock_guard g(_mutex);
        std::erase(_children, child);
    }
    update_io_types();
    co_await release_child(name(), child);
    for (auto& d : orphans) {
        if (d != child && d->out_of_sync() && find_child(d->uri()) == d) {
            if (Status s = co_await begin_rebuild(d); !s) {
                log::warn("nexus '{}': rebuild into '{}' lost its source and cannot restart: {}", name(),
                          d->uri(), s.error().message);
            }
        }
    }
    co_return co_await wait_persisted(v);
}

}  // namespace ms::nexus
