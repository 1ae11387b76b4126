#include "perf/job.h"

#include <cstring>

#include "core/reactor.h"

namespace ms::perf {
namespace {

using Clock = std::chrono::steady_clock;

// Devices that complete inline (malloc, null) never suspend the slot, so the reactor would
// never run anything else: every this many I/Os a slot checks whether the reactor has turned
// since, and yields if not.
constexpr unsigned kStarvationCheckEvery = 64;

uint64_t ns_between(Clock::time_point a, Clock::time_point b) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Resumes Job::run once the last slot has finished.
struct AllSlotsDone {
    unsigned& running;
    std::coroutine_handle<>& waiter;
    bool await_ready() const noexcept { return running == 0; }
    void await_suspend(std::coroutine_handle<> h) noexcept { waiter = h; }
    void await_resume() const noexcept {}
};

}  // namespace

void fill_pattern(std::span<uint8_t> buf, uint64_t offset, uint64_t seed) {
    // Each 8-byte word is a hash of its byte position on the device: a misplaced, stale or
    // torn block shows up, and writers of the same offset always write the same bytes.
    std::size_t i = 0;
    for (; i + 8 <= buf.size(); i += 8) {
        uint64_t w = mix64(seed ^ (offset + i));
        std::memcpy(buf.data() + i, &w, 8);
    }
    if (i < buf.size()) {
        uint64_t w = mix64(seed ^ (offset + i));
        std::memcpy(buf.data() + i, &w, buf.size() - i);
    }
}

Task<Status> prefill(Descriptor& desc) {
    constexpr uint64_t kChunk = 1 << 20;
    const uint64_t size = desc.size_bytes();
    const uint64_t chunk = std::min(kChunk - kChunk % desc.block_size(), size);
    auto buf = desc.dma_malloc(chunk);
    if (!buf) {
        co_return std::unexpected(buf.error());
    }
    buf->fill(0xa5);
    for (uint64_t offset = 0; offset < size; offset += chunk) {
        iovec v{buf->data(), std::min(chunk, size - offset)};
        if (Status s = co_await desc.writev(offset, {&v, 1}); !s) {
            co_return errorf(s.error().code, "prefill of '{}': {}", desc.device().name(), s.error().message);
        }
    }
    co_return ok();
}

Result<std::unique_ptr<Job>> Job::create(Descriptor& desc, const WorkloadSpec& spec, unsigned index,
                                         unsigned jobs_on_device, uint64_t seed, uint64_t pattern_seed) {
    if (Status s = validate(spec); !s) {
        return std::unexpected(s.error());
    }
    if (Status s = validate_for_device(spec, desc.device().name(), desc.block_size(), desc.size_bytes());
        !s) {
        return std::unexpected(s.error());
    }
    uint64_t slots = desc.size_bytes() / spec.io_size;
    // Sequential streams of the jobs sharing a device start evenly spread over it.
    auto start =
        static_cast<uint64_t>(static_cast<unsigned __int128>(slots) * index / std::max(1u, jobs_on_device));
    OffsetGenerator offsets(is_random(spec.pattern), slots, start, seed);
    unsigned read_percent =
        spec.pattern == Pattern::ReadWrite ? spec.read_percent : (writes(spec.pattern) ? 0 : 100);
    ReadWriteMix mix(read_percent, mix64(seed + 1));

    std::unique_ptr<Job> job(new Job(desc, spec, offsets, mix, pattern_seed));
    job->_slots.resize(spec.queue_depth);
    for (Slot& slot : job->_slots) {
        auto buf = desc.dma_malloc(spec.io_size);
        if (!buf) {
            return std::unexpected(buf.error());
        }
        slot.buf = std::move(*buf);
        slot.buf.fill(0x5a);  // what plain writes write
        slot.iov = slot.buf.iov();
        if (spec.verify) {
            auto vbuf = desc.dma_malloc(spec.io_size);
            if (!vbuf) {
                return std::unexpected(vbuf.error());
            }
            slot.verify_buf = std::move(*vbuf);
            slot.verify_iov = slot.verify_buf.iov();
        }
    }
    return job;
}

Job::Job(Descriptor& desc, const WorkloadSpec& spec, OffsetGenerator offsets, ReadWriteMix mix,
         uint64_t pattern_seed)
    : _desc(desc),
      _spec(spec),
      _blocks_per_io(spec.io_size / desc.block_size()),
      _offsets(offsets),
      _mix(mix),
      _pattern_seed(pattern_seed) {}

Task<void> Job::run() {
    Reactor* reactor = Reactor::current();
    auto start = Clock::now();
    _deadline = start + _spec.duration;
    _running = static_cast<unsigned>(_slots.size());
    for (Slot& slot : _slots) {
        reactor->spawn(_spec.verify ? run_verify_slot(slot) : run_slot(slot));
    }
    co_await AllSlotsDone{_running, _waiter};
    _result.elapsed = Clock::now() - start;
    _result.bytes = _result.ios() * _spec.io_size;
}

void Job::slot_done() {
    if (--_running == 0 && _waiter) {
        Reactor::current()->schedule(std::exchange(_waiter, {}));
    }
}

void Job::fail(std::string what) {
    if (_result.first_failure.empty()) {
        _result.first_failure = std::move(what);
    }
    _stop = true;
}

Task<void> Job::run_slot(Slot& slot) {
    const ReactorStats& reactor_stats = Reactor::current()->stats();
    uint64_t loops_seen = reactor_stats.loops;
    unsigned until_check = kStarvationCheckEvery;
    const std::span<const iovec> iov(&slot.iov, 1);
    LatencyHistogram& latency = *_result.latency;

    // One clock read per I/O: the end of one I/O is the start of the slot's next.
    auto t0 = Clock::now();
    while (!_stop && t0 < _deadline) {
        bool read = _mix.next_is_read();
        IoRequest req{read ? IoType::Read : IoType::Write, _offsets.next() * _blocks_per_io, _blocks_per_io,
                      iov};
        Status s = co_await _desc.submit(req);
        auto t1 = Clock::now();
        latency.record(ns_between(t0, t1));
        if (!s) {
            ++_result.errors;
            fail(fmt::format("{} at block {}: {}", read ? "read" : "write", req.offset_blocks,
                             s.error().to_string()));
            break;
        }
        ++(read ? _result.reads : _result.writes);
        t0 = t1;
        if (--until_check == 0) {
            until_check = kStarvationCheckEvery;
            if (reactor_stats.loops == loops_seen) {
                co_await yield();
                t0 = Clock::now();
            }
            loops_seen = reactor_stats.loops;
        }
    }
    slot_done();
}

Task<void> Job::run_verify_slot(Slot& slot) {
    const ReactorStats& reactor_stats = Reactor::current()->stats();
    uint64_t loops_seen = reactor_stats.loops;
    const std::span<const iovec> write_iov(&slot.iov, 1);
    const std::span<const iovec> read_iov(&slot.verify_iov, 1);
    LatencyHistogram& latency = *_result.latency;
    const uint32_t bs = _desc.block_size();

    while (!_stop && Clock::now() < _deadline) {
        uint64_t block = _offsets.next() * _blocks_per_io;
        uint64_t offset = block * bs;
        fill_pattern(slot.buf.span(), offset, _pattern_seed);

        auto t0 = Clock::now();
        Status s = co_await _desc.submit(IoRequest{IoType::Write, block, _blocks_per_io, write_iov});
        auto t1 = Clock::now();
        latency.record(ns_between(t0, t1));
        if (!s) {
            ++_result.errors;
            fail(fmt::format("write at offset {}: {}", offset, s.error().to_string()));
            break;
        }
        ++_result.writes;

        s = co_await _desc.submit(IoRequest{IoType::Read, block, _blocks_per_io, read_iov});
        auto t2 = Clock::now();
        latency.record(ns_between(t1, t2));
        if (!s) {
            ++_result.errors;
            fail(fmt::format("read at offset {}: {}", offset, s.error().to_string()));
            break;
        }
        ++_result.reads;

        if (std::memcmp(slot.buf.data(), slot.verify_buf.data(), _spec.io_size) != 0) {
            ++_result.mismatches;
            std::size_t at = 0;
            while (slot.buf.data()[at] == slot.verify_buf.data()[at]) {
                ++at;
            }
            fail(
                fmt::format("data mismatch at byte {} of the {}-byte I/O at offset {} of '{}': wrote "
                            "{:#04x}, read {:#04x}",
                            at, _spec.io_size, offset, _desc.device().name(), slot.buf.data()[at],
                            slot.verify_buf.data()[at]));
            break;
        }
        if (reactor_stats.loops == loops_seen) {
            co_await yield();
        }
        loops_seen = reactor_stats.loops;
    }
    slot_done();
}

}  // namespace ms::perf
