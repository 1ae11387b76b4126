// BlockDevice: the one interface every device kind implements (SPDK's bdev function table as a
// C++ class). I/O is submitted through a per-core IoChannel, so a device keeps per-core state
// (a queue pair, an AIO context) without locks. Offsets and lengths here are in blocks and
// already validated by the Descriptor; the device only moves data.
#pragma once

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"

namespace ms {

class Reactor;

enum class IoType : uint8_t { Read, Write, Flush, Unmap, WriteZeroes, Reset };
inline constexpr std::size_t kIoTypeCount = 6;
std::string_view to_string(IoType t);

struct IoRequest {
    IoType type;
    uint64_t offset_blocks = 0;
    uint64_t num_blocks = 0;
    std::span<const iovec> iov;  // Read/Write only; total length = num_blocks * block_size
};

// Counters of one device, summed over its channels. Written by one reactor per channel
// (relaxed atomics, no contention); read by anyone.
struct IoStats {
    uint64_t num_read_ops = 0;
    uint64_t num_write_ops = 0;
    uint64_t bytes_read = 0;
    uint64_t bytes_written = 0;
    uint64_t num_unmap_ops = 0;
    uint64_t bytes_unmapped = 0;
    uint64_t num_errors = 0;
};

// Per-core state of a device, created on the reactor that uses it and used only there. It
// also holds that core's I/O counters (single writer, so relaxed atomics never contend).
class IoChannel {
   public:
    virtual ~IoChannel() = default;
    void record(const IoRequest& req, uint32_t block_size, bool ok);
    void add_to(IoStats& total) const;

   private:
    struct Counter {
        std::atomic<uint64_t> v{0};
        void add(uint64_t n) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
        uint64_t get() const { return v.load(std::memory_order_relaxed); }
    };
    Counter _read_ops, _write_ops, _bytes_read, _bytes_written, _unmap_ops, _bytes_unmapped, _errors;
};

struct Geometry {
    uint32_t block_size = 512;
    uint64_t num_blocks = 0;
    // Memory alignment the device needs for its buffers (O_DIRECT); 1 if none.
    uint32_t buf_align = 1;
    uint64_t size_bytes() const { return uint64_t{block_size} * num_blocks; }
};

class BlockDevice : public std::enable_shared_from_this<BlockDevice> {
   public:
    BlockDevice(std::string name, std::string product, Geometry geometry, Uuid uuid);
    virtual ~BlockDevice() = default;
    BlockDevice(const BlockDevice&) = delete;
    BlockDevice& operator=(const BlockDevice&) = delete;

    const std::string& name() const { return _name; }
    // Device kind for humans ("Malloc disk", "io_uring disk", ...).
    const std::string& product() const { return _product; }
    const Geometry& geometry() const { return _geometry; }
    uint32_t block_size() const { return _geometry.block_size; }
    uint64_t num_blocks() const { return _geometry.num_blocks; }
    const Uuid& uuid() const { return _uuid; }
    // The URI the device was created from, with uuid= added (empty if made in code).
    const std::string& uri() const { return _uri; }
    void set_uri(std::string uri) { _uri = std::move(uri); }

    virtual bool io_type_supported(IoType t) const = 0;
    // Makes the per-core state for the calling reactor; the default device needs none.
    virtual Result<std::unique_ptr<IoChannel>> create_channel() { return std::make_unique<IoChannel>(); }
    // Executes a validated request on the calling reactor through `ch` (from channel()).
    // `req.iov` must stay valid until the task completes.
    virtual Task<Status> submit(IoChannel& ch, IoRequest req) = 0;

    // The calling reactor's channel, created on first use; nullptr (with the error logged)
    // if it cannot be created. Must be called on a reactor.
    IoChannel* channel();
    static constexpr unsigned kMaxReactors = 256;
    // Called once when the device leaves the registry, on a reactor, after its last
    // descriptor is closed. Closes files, disconnects, frees memory.
    virtual Task<void> shutdown() { co_return; }

    // Mayastor's snapshot request for what stands behind the device (a remote replica behind
    // an nvmf:// device takes `<replica>-snap-<unix seconds>`); ENOTSUP by default. Any reactor.
    virtual Task<Status> create_snapshot(uint64_t unix_seconds);

    // Claims: one owner (a pool, a nexus) may claim a device; while claimed, only the owner
    // opens it read-write and nobody else can claim it.
    Status claim(const std::string& owner);
    void release_claim(const std::string& owner);
    std::string claimed_by() const;

    // Open descriptors; a device is destroyed only when none is open.
    int open_count() const { return _open_count.load(); }

    // Counters summed over every core's channel.
    IoStats stats() const;

   private:
    friend class Descriptor;
    std::string _name;
    std::string _product;
    Geometry _geometry;
    Uuid _uuid;
    std::string _uri;
    mutable std::mutex _claim_mutex;
    std::string _claimed_by;
    std::atomic<int> _open_count{0};
    // Written only by the owning reactor; published with release so stats() can read them.
    std::array<std::atomic<IoChannel*>, kMaxReactors> _channels{};
    std::vector<std::unique_ptr<IoChannel>> _owned_channels;
    std::mutex _channels_mutex;
};

}  // namespace ms
