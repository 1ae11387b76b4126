// Rebuild jobs of a nexus (one per destination child) and the LBA range locks they copy under.
#include "core/log.h"
#include "nexus/nexus_device.h"

namespace ms::nexus {

namespace {

std::atomic<uint32_t> g_rebuild_jobs{0};

Task<void> unlock_on(NexusChannel& c, uint64_t id) {
    c.unlock(id);
    co_return;
}

}  // namespace

uint32_t rebuild_jobs_in_process() {
    return g_rebuild_jobs.load(std::memory_order_relaxed);
}

// Released by the rebuild job when its segment is copied.
class NexusRangeLock final : public RangeLock {
   public:
    NexusRangeLock(std::shared_ptr<Nexus> nexus, uint64_t id) : _nexus(std::move(nexus)), _id(id) {}
    ~NexusRangeLock() override { _nexus->unlock_range(_id); }

   private:
    std::shared_ptr<Nexus> _nexus;
    uint64_t _id;
};

Task<std::unique_ptr<RangeLock>> Nexus::lock_range(uint64_t offset, uint64_t blocks) {
    const LockedRange range{++_next_lock_id, offset, blocks};
    {
        std::lock_guard g(_mutex);
        _locks.push_back(range);
    }
    co_await for_each_channel([range](NexusChannel& c) { return c.lock(range); });
    co_return std::make_unique<NexusRangeLock>(self(), range.id);
}

void Nexus::unlock_range(uint64_t id) {
    {
        std::lock_guard g(_mutex);
        std::erase_if(_locks, [id](const LockedRange& r) { return r.id == id; });
    }
    Reactor::current()->spawn(unlock_everywhere(self(), id));
}

Task<void> Nexus::unlock_everywhere(std::shared_ptr<Nexus>, uint64_t id) {
    co_await for_each_channel([id](NexusChannel& c) { return unlock_on(c, id); });
}

void Nexus::erase_rebuild_locked(const RebuildJob* job) {
    for (auto it = _rebuilds.begin(); it != _rebuilds.end(); ++it) {
        if (it->second.job.get() == job) {
            _rebuilds.erase(it);
            g_rebuild_jobs.fetch_sub(1, std::memory_order_relaxed);
            return;
        }
    }
}

Task<Status> Nexus::begin_rebuild(std::shared_ptr<NexusChild> dest) {
    if (!dest->out_of_sync()) {
        co_return errorf(EALREADY, "child '{}' of nexus '{}' is not out of sync", dest->uri(), name());
    }
    {
        std::lock_guard g(_mutex);
        if (_rebuilds.contains(dest->uri())) {
            co_return errorf(EALREADY, "child '{}' of nexus '{}' is being rebuilt", dest->uri(), name());
        }
    }
    std::shared_ptr<NexusChild> source;
    for (const auto& c : _children) {
        if (c != dest && c->is_open() && c->desc) {
            source = c;
            break;
        }
    }
    if (!source) {
        co_return errorf(ENODEV, "nexus '{}' has no open child to rebuild '{}' from", name(), dest->uri());
    }
    if (!dest->desc) {
        if (Status s = co_await reopen(*dest); !s) {
            co_return s;
        }
    }
    if (!dest->in_write_set) {
        dest->in_write_set = true;
        co_await apply_view(dest);
    }
    if (!dest->out_of_sync() || !dest->in_write_set || !source->is_open()) {
        co_return errorf(EIO, "nexus '{}': child '{}' or its source failed while the rebuild was starting",
                         name(), dest->uri());
    }
    // Every core now sends writes to the destination too; whatever it missed before is in its
    // write-intent log when that log has tracked it since it left, else everything is copied.
    RebuildTarget t;
    t.source = source->desc.get();
    t.destination = dest->desc.get();
    t.num_blocks = num_blocks();
    t.block_size = block_size();
    t.lock_range = [this](uint64_t offset, uint64_t blocks) { return lock_range(offset, blocks); };
    if (dest->wil && dest->wil_complete) {
        t.regions = dest->wil;
    }
    const bool partial = static_cast<bool>(t.regions);
    auto job = std::make_unique<RebuildJob>(std::move(t), _config.options.rebuild);
    RebuildJob* raw = job.get();
    const uint64_t id = ++_rebuild_ids;
    {
        std::lock_guard g(_mutex);
        _rebuilds.emplace(dest->uri(), RebuildEntry{dest, source, std::move(job), id});
        g_rebuild_jobs.fetch_add(1, std::memory_order_relaxed);
    }
    log::info("nexus '{}': {} rebuild of '{}' from '{}' started ({} blocks)", name(),
              partial ? "partial" : "full", dest->uri(), source->uri(), raw->stats().blocks_total);
    raw->start([this, dest, id](RebuildState state, const Error* error) {
        std::optional<Error> e;
        if (error != nullptr) {
            e = *error;
        }
        _home->spawn(finish_rebuild(self(), dest, id, state, std::move(e)));
    });
    co_return ok();
}

Task<void> Nexus::finish_rebuild(std::shared_ptr<Nexus>, std::shared_ptr<NexusChild> dest, uint64_t job_id,
                                 RebuildState state, std::optional<Error> error) {
    auto guard = co_await _op_lock.lock();
    {
        std::lock_guard g(_mutex);
        auto it = _rebuilds.find(dest->uri());
        if (it == _rebuilds.end() || it->second.id != job_id) {
            co_return;  // stopped, removed or closed meanwhile: handled there
        }
    }
    // The job has ended (on_done ran). A completed job stays listed until just before its child
    // opens: an observer sees either the job or an open child, never a gap, and an open child
    // never has a job. _op_lock keeps every other management call out meanwhile.
    auto forget_job = [&] {
        std::lock_guard g(_mutex);
        auto it = _rebuilds.find(dest->uri());
        if (it != _rebuilds.end() && it->second.id == job_id) {
            erase_rebuild_locked(it->second.job.get());
        }
    };
    if (state != RebuildState::Completed) {
        forget_job();
    }
    if (state == RebuildState::Completed && dest->out_of_sync() && dest->in_write_set) {
        // The store learns that the child is current before it serves a read.
        dest->promoting = true;
        Status s = co_await wait_persisted(note_health_change(false));
        const bool intact = dest->promoting && dest->out_of_sync() && dest->in_write_set;
        dest->promoting = false;
        forget_job();
        if (s && intact) {
            dest->set_state(ChildState::Open);
            dest->in_write_set = false;
            dest->wil.reset();
            dest->wil_complete = false;
            co_await apply_view(dest);
            log::info("nexus '{}': child '{}' rebuilt and open", name(), dest->uri());
        } else if (!s) {
            log::error("nexus '{}': child '{}' was rebuilt but the store did not record it: {}", name(),
                       dest->uri(), s.error().message);
        }
    } else if (state == RebuildState::Failed && dest->out_of_sync()) {
        log::error("nexus '{}': rebuild of '{}' failed: {}", name(), dest->uri(),
                   error ? error->message : std::string("unknown error"));
        (void)leave(*dest, ChildState::Faulted, FaultReason::RebuildFailed);
        co_await detach(dest);
    }
    forget_job();  // a completed job whose child changed meanwhile
}

Task<std::vector<std::shared_ptr<NexusChild>>> Nexus::cancel_rebuilds(std::shared_ptr<NexusChild> child) {
    std::vector<RebuildJob*> jobs;
    std::vector<std::shared_ptr<NexusChild>> orphans;
    {
        std::lock_guard g(_mutex);
        for (auto& [uri, e] : _rebuilds) {
            if (e.destination == child || e.source == child) {
                e.job->stop();
                jobs.push_back(e.job.get());
                if (e.source == child) {
                    orphans.push_back(e.destination);
                }
            }
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
    co_return orphans;
}

Task<Status> Nexus::start_rebuild(std::string uri) {
    auto guard = co_await _op_lock.lock();
    auto child = _closed ? nullptr : find_child(uri);
    if (!child) {
        co_return errorf(ENOENT, "nexus '{}' has no child '{}'", name(), uri);
    }
    co_return co_await begin_rebuild(child);
}

Task<Status> Nexus::stop_rebuild(std::string uri) {
    auto guard = co_await _op_lock.lock();
    RebuildJob* job = nullptr;
    {
        std::lock_guard g(_mutex);
        auto it = _rebuilds.find(uri);
        if (it == _rebuilds.end()) {
            co_return ok();
        }
        job = it->second.job.get();
        job->stop();
    }
    co_await job->wait();
    std::lock_guard g(_mutex);
    erase_rebuild_locked(job);
    co_return ok();
}

Task<Status> Nexus::pause_rebuild(std::string uri) {
    auto guard = co_await _op_lock.lock();
    std::lock_guard g(_mutex);
    auto it = _rebuilds.find(uri);
    if (it == _rebuilds.end()) {
        co_return errorf(ENOENT, "nexus '{}' has no rebuild job into '{}'", name(), uri);
    }
    co_return it->second.job->pause();
}

Task<Status> Nexus::resume_rebuild(std::string uri) {
    auto guard = co_await _op_lock.lock();
    std::lock_guard g(_mutex);
    auto it = _rebuilds.find(uri);
    if (it == _rebuilds.end()) {
        co_return errorf(ENOENT, "nexus '{}' has no rebuild job into '{}'", name(), uri);
    }
    co_return it->second.job->resume();
}

Result<RebuildState> Nexus::rebuild_state(const std::string& uri) const {
    std::lock_guard g(_mutex);
    auto it = _rebuilds.find(uri);
    if (it == _rebuilds.end()) {
        return errorf(ENOENT, "nexus '{}' has no rebuild job into '{}'", name(), uri);
    }
    return it->second.job->state();
}

Result<RebuildStats> Nexus::rebuild_stats(const std::string& uri) const {
    std::lock_guard g(_mutex);
    auto it = _rebuilds.find(uri);
    if (it == _rebuilds.end()) {
        return errorf(ENOENT, "nexus '{}' has no rebuild job into '{}'", name(), uri);
    }
    return it->second.job->stats();
}

}  // namespace ms::nexus
