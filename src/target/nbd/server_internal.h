// Private state of the NBD server: exports, connections, and the server core they point back
// to. Ownership: the core owns exports (shared with the connections that use them); an export
// lists its connections so that unshare can close them from any thread (::shutdown on the
// socket). Data-path state (command slots, receive buffer, send batch) belongs to the
// connection's reactor only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "bdev/descriptor.h"
#include "core/async.h"
#include "core/dma_buf.h"
#include "core/frame_pool.h"
#include "core/net.h"
#include "core/reactor.h"
#include "target/live_tasks.h"
#include "target/nbd/codec.h"
#include "target/nbd/nbd_server.h"

namespace ms::nbd::detail {

class Connection;

struct Export {
    std::string name;
    std::string description;
    std::shared_ptr<BlockDevice> device;
    uint64_t size = 0;
    uint32_t block_size = 512;
    uint16_t tx_flags = 0;
    bool local = false;
    int nbd_index = -1;  // /dev/nbdN of a local export
    std::string uri;

    mutable std::mutex mu;  // guards everything below
    // Closed by unshare once no connection uses it (active == 0).
    std::unique_ptr<Descriptor> desc;
    bool removed = false;
    std::set<Connection*> conns;
    std::atomic<int> active{0};  // connections attached (using desc)
};

struct ServerCore {
    Runtime* runtime = nullptr;
    NbdServerOptions options;
    std::string advertised;
    uint16_t port = 0;

    std::atomic<bool> stopping{false};
    std::atomic<unsigned> next_reactor{0};

    mutable std::mutex mu;  // guards exports, conns
    std::map<std::string, std::shared_ptr<Export>> exports;
    std::set<Connection*> conns;

    // Tasks of the server still running (accept loops, connections); also signalled when an
    // export's `active` count drops.
    target::LiveTasks live;

    std::shared_ptr<Export> find_export(const std::string& name) const {
        std::lock_guard lk(mu);
        auto it = exports.find(name);
        return it == exports.end() ? nullptr : it->second;
    }
    ExportLimits limits_of(const Export& e) const {
        return ExportLimits{e.size, e.block_size, options.max_payload, e.tx_flags};
    }
    uint32_t preferred_block(const Export& e) const { return std::max<uint32_t>(4096, e.block_size); }
};

// A receive buffer of a connection. A write to a device without alignment needs runs straight
// from it (its payload is not copied into the slot's buffer); while such writes are running
// (`users`), the connection receives into another buffer rather than overwrite this one.
struct RxBuffer {
    explicit RxBuffer(std::size_t n) : bytes(std::make_unique<uint8_t[]>(n)), size(n) {}
    std::unique_ptr<uint8_t[]> bytes;
    std::size_t size;
    uint32_t users = 0;
};

// A request slot of a connection: preallocated, reused; it owns the reply header and the data
// buffer until the reply has been sent.
struct Slot {
    Request req;
    DmaBuf buf;             // kept between requests up to kKeepBuffer bytes
    uint32_t data_len = 0;  // bytes of buf the reply sends (reads)
    // A write running straight from the receive buffer: its payload, and the buffer it holds.
    uint8_t* payload = nullptr;
    RxBuffer* payload_rx = nullptr;
    alignas(8) uint8_t hdr[96];
};

// A coroutine that runs at once in its caller and frees itself when it ends. Requests run this
// way from the receive loop, so that the replies to every request of one receive leave in one
// send.
struct Started {
    struct promise_type {
        Started get_return_object() noexcept { return {}; }
        std::suspend_never initial_suspend() noexcept { return {}; }
        std::suspend_never final_suspend() noexcept { return {}; }
        void return_void() noexcept {}
        [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
        static void* operator new(std::size_t n) { return ms::detail::frame_alloc(n); }
        static void operator delete(void* p, std::size_t n) noexcept { ms::detail::frame_free(p, n); }
    };
};

class Connection : public std::enable_shared_from_this<Connection> {
   public:
    // `preset`: serve this export in the transmission phase at once (no handshake, simple
    // replies), as the kernel's driver expects; null: handshake first.
    Connection(ServerCore& core, Socket sock, std::shared_ptr<Export> preset);
    ~Connection();

    // The connection's whole life, on its reactor.
    static Task<void> serve(std::shared_ptr<Connection> self);
    // Any thread: stop the connection (its requests finish, then it goes away).
    void shutdown();

   private:
    Task<void> run();
    // ---- receiving
    Task<bool> fill(std::size_t n);
    // n bytes to dst: what the receive buffer holds, the rest straight from the socket (with
    // whatever follows landing in the receive buffer).
    Task<bool> read_into(uint8_t* dst, std::size_t n);
    Task<bool> skip(std::size_t n);
    uint8_t* rx_data() { return _rx->bytes.get(); }
    // Makes the receive buffer writable from _rx_tail with at least `n` bytes of room (n <= its
    // size); a buffer that running writes still use is left to them and another takes its place.
    void rx_make_room(std::size_t n);
    void release_payload(Slot* s);
    // ---- handshake (handshake.cc); true when the transmission phase begins
    Task<bool> handshake();
    Task<bool> send_now(std::vector<uint8_t>& bytes);
    // One option: its replies go to `out`; the result says what follows.
    enum class Next { Options, Transmission, Close };
    Next option(const OptionHeader& h, std::span<const uint8_t> data, std::vector<uint8_t>& out);
    void info_replies(uint32_t option, const Export& e, const InfoRequest& req, std::vector<uint8_t>& out);
    bool attach(std::shared_ptr<Export> e);
    void detach();
    // ---- transmission
    Task<void> transmission();
    Slot* alloc_slot();
    void release_slot(Slot* s);
    bool ensure_buf(Slot* s, std::size_t len);
    Started execute(Slot* s);
    void reply(Slot* s, uint32_t error, const char* why);
    void queue(Slot* s, const iovec* iov, int n);
    void flush();
    static Task<void> send_loop(std::shared_ptr<Connection> self);

    ServerCore& _core;
    Socket _sock;
    Reactor* _home = nullptr;
    std::string _peer;

    std::shared_ptr<Export> _export;
    Descriptor* _desc = nullptr;  // _export->desc while attached
    ExportLimits _limits;
    bool _structured = false;
    bool _no_zeroes = false;
    bool _preset = false;

    std::unique_ptr<RxBuffer> _rx;
    std::vector<std::unique_ptr<RxBuffer>> _rx_held;   // replaced while writes still used them
    std::vector<std::unique_ptr<RxBuffer>> _rx_spare;  // free for the next replacement
    bool _direct_writes = false;  // the device takes any buffer: writes run from the receive buffer
    std::size_t _rx_head = 0;
    std::size_t _rx_tail = 0;
    unsigned _parsed = 0;  // requests parsed since the last receive from the socket
    // Receive coalescing (fill()): whether the last receive was delayed, and how many receives
    // are left before it is tried again after one that did not pay.
    static constexpr unsigned kCoalesceGain = 8;
    static constexpr unsigned kCoalesceBackoff = 256;
    bool _last_delayed = false;
    unsigned _coalesce_backoff = 0;

    std::vector<std::unique_ptr<Slot>> _slots;
    std::vector<Slot*> _free;
    WaitQueue _slot_freed;
    uint32_t _inflight = 0;  // requests executing (not yet replied)
    WaitQueue _drained;

    // Sending: replies queue into _batch (iovecs) and _batch_slots (slots to release once the
    // batch is sent). While the receive loop parses what one receive brought (_rx_busy), replies
    // only queue: the loop flushes them before it waits for more data.
    bool _rx_busy = false;
    bool _sending = false;
    std::vector<iovec> _batch;
    std::vector<Slot*> _batch_slots;
    std::vector<iovec> _out;
    std::vector<Slot*> _out_slots;
    WaitQueue _send_idle;
    std::atomic<bool> _closing{false};
    bool _send_failed = false;
};

}  // namespace ms::nbd::detail
