#include "bdev/nbd/nbd_device.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/log.h"
#include "core/reactor.h"

namespace ms::nbd_host {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint32_t kDefaultMaxPayload = 32u << 20;  // the NBD spec's advice without NBD_INFO_BLOCK_SIZE
constexpr uint64_t kMaxTrimChunk = 1u << 30;        // trim/zero lengths are 32-bit on the wire
constexpr std::size_t kMaxDirectIovecs = 16;
constexpr milliseconds kReconnectPause{100};

class NbdChannel final : public IoChannel {
   public:
    Reactor* reactor = nullptr;
    std::shared_ptr<Connection> conn;
    AsyncMutex connect_mutex;
    // A write completed on this channel's connection since its last flush (read by flushes on
    // other reactors when the server has no multi-conn).
    std::atomic<bool> dirty{false};
};

// One piece of a transfer: one NBD command.
struct Piece {
    uint8_t* buf;
    std::size_t length;
    uint64_t offset;
};

// The commands of one request, in flight together.
struct Join {
    std::size_t left = 0;
    Status first_error;
    WaitQueue done;
    void finish(Status st) {
        if (!st && first_error) {
            first_error = std::unexpected(st.error());
        }
        if (--left == 0) {
            done.wake_all();
        }
    }
};

Task<Status> transfer_one(Connection& conn, bool write, Piece p) {
    if (write) {
        co_return co_await conn.pwrite(p.buf, p.length, p.offset);
    }
    co_return co_await conn.pread(p.buf, p.length, p.offset);
}

Task<void> transfer_part(Connection* conn, bool write, Piece p, Join* join) {
    join->finish(co_await transfer_one(*conn, write, p));
}

// All pieces at once; the first error (if any).
Task<Status> transfer(Connection& conn, bool write, const std::vector<Piece>& pieces) {
    if (pieces.size() == 1) {
        co_return co_await transfer_one(conn, write, pieces.front());
    }
    Join join;
    join.left = pieces.size();
    for (const Piece& p : pieces) {
        Reactor::current()->spawn(transfer_part(&conn, write, p, &join));
    }
    while (join.left > 0) {
        co_await join.done.wait();
    }
    co_return join.first_error;
}

// [buf, buf + length) at `offset` cut into pieces of at most `max` bytes.
void cut(uint8_t* buf, std::size_t length, uint64_t offset, std::size_t max, std::vector<Piece>& out) {
    while (length > 0) {
        std::size_t n = std::min(length, max);
        out.push_back(Piece{buf, n, offset});
        buf += n;
        offset += n;
        length -= n;
    }
}

}  // namespace

class NbdDevice final : public BlockDevice {
   public:
    NbdDevice(NbdUriSpec spec, const ExportInfo& info, Geometry g, Uuid uuid, uint32_t max_payload)
        : BlockDevice(spec.device_name(), "NBD disk", g, uuid),
          _spec(std::move(spec)),
          _info(info),
          _max_payload(max_payload) {}

    const ExportInfo& info() const { return _info; }

    bool io_type_supported(IoType t) const override {
        switch (t) {
            case IoType::Unmap:
                return _info.can_trim && !_info.read_only;
            case IoType::WriteZeroes:
                return _info.can_zero && !_info.read_only;
            default:
                return true;
        }
    }

    Result<std::unique_ptr<IoChannel>> create_channel() override {
        std::lock_guard g(_mutex);
        if (_channels.size() >= _spec.connections) {
            return errorf(EBUSY, "{}: all {} connections (connections=) are in use by other reactors", name(),
                          _spec.connections);
        }
        auto ch = std::make_unique<NbdChannel>();
        ch->reactor = Reactor::current();
        _channels.push_back(ch.get());
        return std::unique_ptr<IoChannel>(std::move(ch));
    }

    Task<Status> submit(IoChannel& ch, IoRequest req) override {
        auto& c = static_cast<NbdChannel&>(ch);
        switch (req.type) {
            case IoType::Read:
            case IoType::Write:
                co_return co_await read_write(c, req);
            case IoType::Flush:
                co_return co_await flush(c);
            case IoType::Unmap:
            case IoType::WriteZeroes:
                co_return co_await trim_or_zero(c, req);
            case IoType::Reset:
                co_return co_await reset(c);
        }
        co_return make_error(EINVAL, "bad I/O type");
    }

    Task<void> shutdown() override {
        _closed = true;
        Reactor* caller = Reactor::current();
        std::vector<NbdChannel*> channels;
        {
            std::lock_guard g(_mutex);
            channels = _channels;
        }
        for (NbdChannel* c : channels) {
            co_await switch_to(*c->reactor);
            auto guard = co_await c->connect_mutex.lock();
            if (c->conn) {
                c->conn->close("the device is being destroyed");
                co_await c->conn->wait_closed();
                c->conn.reset();
            }
        }
        co_await switch_to(*caller);
    }

   private:
    // The channel's connection, connected (again) if needed: concurrent callers wait for one
    // connect; attempts (each bounded by timeout_ms) go on for reconnect_ms, then EIO.
    Task<Result<std::shared_ptr<Connection>>> connection_of(NbdChannel& c) {
        if (c.conn && !c.conn->broken()) {
            co_return c.conn;
        }
        auto guard = co_await c.connect_mutex.lock();
        if (c.conn && !c.conn->broken()) {
            co_return c.conn;
        }
        if (_closed) {
            co_return errorf(EIO, "{}: the device is being destroyed", name());
        }
        if (c.conn) {
            co_await c.conn->wait_closed();
            c.conn.reset();
            warn_unflushed(c);
        }
        auto deadline = Clock::now() + milliseconds(_spec.reconnect_ms);
        Error last;
        while (true) {
            auto conn =
                co_await Connection::connect(_spec.server, _spec.export_name, milliseconds(_spec.timeout_ms));
            if (conn) {
                if (Status st = same_export((*conn)->info()); !st) {
                    (*conn)->close("the export changed");
                    co_await (*conn)->wait_closed();
                    co_return errorf(EIO, "{}: {}", name(), st.error().message);
                }
                c.conn = std::move(*conn);
                co_return c.conn;
            }
            last = conn.error();
            auto now = Clock::now();
            if (now >= deadline || _closed) {
                break;
            }
            if (!co_await sleep_for(std::min<Clock::duration>(kReconnectPause, deadline - now))) {
                break;
            }
        }
        co_return errorf(EIO, "{}: cannot connect: {}", name(), last.message);
    }

    // A connection that ends after writes it never flushed: a flush on the new connection does
    // not cover them (without multi-conn), and a server that crashed may have lost them. Like a
    // disk whose volatile cache is lost in a reset, nothing later reports it; the log does.
    void warn_unflushed(NbdChannel& c) {
        if (c.dirty.exchange(false) && _info.can_flush && !_info.read_only) {
            log::warn(
                "nbd host: {}: a connection ended after writes it had not flushed; they are as durable as "
                "the server made them",
                name());
        }
    }

    // A reconnect must reach the same export, not a different or resized one.
    Status same_export(const ExportInfo& now) const {
        if (now.size != _info.size) {
            return errorf(EIO, "the export's size changed from {} to {} bytes", _info.size, now.size);
        }
        if (now.read_only && !_info.read_only) {
            return make_error(EIO, "the export became read-only");
        }
        return ok();
    }

    Task<Status> read_write(NbdChannel& c, const IoRequest& req) {
        const bool write = req.type == IoType::Write;
        if (write && _info.read_only) {
            co_return errorf(EROFS, "{}: the export is read-only", name());
        }
        auto conn = co_await connection_of(c);
        if (!conn) {
            co_return std::unexpected(conn.error());
        }
        const uint64_t offset = req.offset_blocks * block_size();
        const uint64_t length = req.num_blocks * block_size();
        Status st;
        std::vector<Piece> pieces;
        if (req.iov.size() == 1 && length <= _max_payload) {
            // The common case: one command, nothing allocated.
            st = co_await transfer_one(**conn, write,
                                       Piece{static_cast<uint8_t*>(req.iov[0].iov_base), length, offset});
        } else if (req.iov.size() == 1 || direct_iovecs(req.iov)) {
            uint64_t at = offset;
            for (const iovec& v : req.iov) {
                cut(static_cast<uint8_t*>(v.iov_base), v.iov_len, at, _max_payload, pieces);
                at += v.iov_len;
            }
            st = co_await transfer(**conn, write, pieces);
        } else {
            // Many or odd-sized iovecs: one bounce buffer, as few commands as the payload allows.
            std::unique_ptr<uint8_t[]> bounce(new (std::nothrow) uint8_t[length]);
            if (!bounce) {
                co_return errorf(ENOMEM, "{}: no memory for a {}-byte bounce buffer", name(), length);
            }
            if (write) {
                uint8_t* p = bounce.get();
                for (const iovec& v : req.iov) {
                    std::memcpy(p, v.iov_base, v.iov_len);
                    p += v.iov_len;
                }
            }
            cut(bounce.get(), length, offset, _max_payload, pieces);
            st = co_await transfer(**conn, write, pieces);
            if (st && !write) {
                const uint8_t* p = bounce.get();
                for (const iovec& v : req.iov) {
                    std::memcpy(v.iov_base, p, v.iov_len);
                    p += v.iov_len;
                }
            }
        }
        if (st && write) {
            c.dirty.store(true, std::memory_order_relaxed);
        }
        co_return st;
    }

    bool direct_iovecs(std::span<const iovec> iov) const {
        if (iov.size() > kMaxDirectIovecs) {
            return false;
        }
        const uint32_t align = std::max<uint32_t>(_info.min_block, 1);
        return std::all_of(iov.begin(), iov.end(), [&](const iovec& v) { return v.iov_len % align == 0; });
    }

    Task<Status> trim_or_zero(NbdChannel& c, const IoRequest& req) {
        const bool zero = req.type == IoType::WriteZeroes;
        auto conn = co_await connection_of(c);
        if (!conn) {
            co_return std::unexpected(conn.error());
        }
        const uint64_t chunk = kMaxTrimChunk / block_size() * block_size();
        uint64_t offset = req.offset_blocks * block_size();
        uint64_t left = req.num_blocks * block_size();
        while (left > 0) {
            uint64_t n = std::min(left, chunk);
            Status st;
            if (zero) {
                st = co_await (*conn)->zero(n, offset);
            } else {
                st = co_await (*conn)->trim(n, offset);
            }
            if (!st) {
                co_return st;
            }
            offset += n;
            left -= n;
        }
        c.dirty.store(true, std::memory_order_relaxed);
        co_return ok();
    }

    // Flush of one channel's connection, on that channel's reactor.
    Task<Status> flush_channel(NbdChannel& c) {
        auto conn = co_await connection_of(c);
        if (!conn) {
            co_return std::unexpected(conn.error());
        }
        c.dirty.store(false, std::memory_order_relaxed);
        Status st = co_await (*conn)->flush();
        if (!st) {
            c.dirty.store(true, std::memory_order_relaxed);
        }
        co_return st;
    }

    static Task<void> flush_remote(NbdDevice* dev, NbdChannel* c, Reactor* home, Join* join) {
        co_await switch_to(*c->reactor);
        Status st = co_await dev->flush_channel(*c);
        co_await switch_to(*home);
        join->finish(std::move(st));
    }

    Task<Status> flush(NbdChannel& own) {
        std::vector<NbdChannel*> channels;
        {
            std::lock_guard g(_mutex);
            channels = _channels;
        }
        if (_info.read_only || !_info.can_flush) {
            co_return ok();  // nothing to flush, or a server without a write cache to flush
        }
        if (_info.can_multi_conn) {
            co_return co_await flush_channel(own);
        }
        // No multi-conn: every connection that has completed writes since its last flush.
        Join join;
        Reactor* home = Reactor::current();
        for (NbdChannel* c : channels) {
            if (c->dirty.load(std::memory_order_relaxed)) {
                ++join.left;
                home->spawn(flush_remote(this, c, home, &join));
            }
        }
        while (join.left > 0) {
            co_await join.done.wait();
        }
        co_return join.first_error;
    }

    // Reconnects the calling reactor's connection.
    Task<Status> reset(NbdChannel& c) {
        {
            auto guard = co_await c.connect_mutex.lock();
            if (c.conn) {
                c.conn->close("reset");
                co_await c.conn->wait_closed();
                c.conn.reset();
                warn_unflushed(c);
            }
        }
        auto conn = co_await connection_of(c);
        if (!conn) {
            co_return std::unexpected(conn.error());
        }
        co_return ok();
    }

    NbdUriSpec _spec;
    ExportInfo _info;
    uint32_t _max_payload;
    std::atomic<bool> _closed{false};
    std::mutex _mutex;
    std::vector<NbdChannel*> _channels;
};

namespace {

Task<Result<std::shared_ptr<BlockDevice>>> create_nbd_device(Uri uri) {
    auto spec = parse_nbd_uri(uri);
    if (!spec) {
        co_return std::unexpected(spec.error());
    }
    const std::string name = spec->device_name();
    auto conn = co_await Connection::connect(spec->server, spec->export_name, milliseconds(spec->timeout_ms));
    if (!conn) {
        co_return errorf(conn.error().code, "{}: {}", name, conn.error().message);
    }
    const ExportInfo info = (*conn)->info();
    (*conn)->close("creation done");
    co_await (*conn)->wait_closed();
    conn->reset();

    // The block size: blk_size=, else the server's minimum block size, at least 512.
    if (info.min_block > 65536 || (info.min_block != 0 && !std::has_single_bit(info.min_block))) {
        co_return errorf(EINVAL, "{}: the server's minimum block size {} is not a power of two up to 64 KiB",
                         name, info.min_block);
    }
    uint32_t bs = std::max<uint32_t>(512, info.min_block);
    if (spec->blk_size) {
        if (*spec->blk_size < info.min_block) {
            co_return errorf(EINVAL, "{}: blk_size={} is smaller than the server's minimum block size {}",
                             name, *spec->blk_size, info.min_block);
        }
        bs = *spec->blk_size;
    }
    if (info.size < bs) {
        co_return errorf(EINVAL, "{}: the export ({} bytes) is smaller than one {}-byte block", name,
                         info.size, bs);
    }
    if (info.size % bs != 0) {
        log::warn("nbd host: {}: the last {} bytes of the export are not a whole block and are not used",
                  name, info.size % bs);
    }
    uint32_t max_payload =
        info.max_block != 0 ? std::min(info.max_block, kDefaultMaxPayload) : kDefaultMaxPayload;
    max_payload = std::max(max_payload / bs * bs, bs);
    Geometry g{bs, info.size / bs, 1};
    Uuid uuid = spec->uuid.value_or(Uuid::generate());
    log::info(
        "nbd host: {}: {} bytes, {}-byte blocks (server minimum {}, preferred {}, maximum {}), {}{}{}{}{}{}",
        name, info.size, bs, info.min_block, info.preferred_block, info.max_block,
        info.read_only ? "read-only" : "read-write", info.can_flush ? ", flush" : "",
        info.can_fua ? ", fua" : "", info.can_trim ? ", trim" : "", info.can_zero ? ", write zeroes" : "",
        info.can_multi_conn ? ", multi-conn" : "");
    co_return std::shared_ptr<BlockDevice>(std::make_shared<NbdDevice>(*spec, info, g, uuid, max_payload));
}

}  // namespace

DeviceFactory nbd_device_factory() {
    DeviceFactory f;
    f.name_of = [](const Uri& uri) -> std::string {
        auto spec = parse_nbd_uri(uri);
        return spec ? spec->device_name() : std::string();
    };
    f.create = [](const Uri& uri) { return create_nbd_device(uri); };
    return f;
}

bool is_nbd_device(const BlockDevice& dev) {
    return dynamic_cast<const NbdDevice*>(&dev) != nullptr;
}

std::optional<ExportInfo> nbd_export_info(const BlockDevice& dev) {
    const auto* d = dynamic_cast<const NbdDevice*>(&dev);
    if (d == nullptr) {
        return std::nullopt;
    }
    return d->info();
}

}  // namespace ms::nbd_host
