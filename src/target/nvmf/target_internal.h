// Private state of the NVMe/TCP target: subsystems with their namespaces and controllers, the
// connections (one per queue), and the target core they all point back to. Ownership:
// the core owns subsystems; a subsystem owns its namespaces (shared with the queues that use
// them) and lists its controllers; a controller lists its queues' connections so that it can
// close them from any thread (::shutdown on the socket). Data-path state (per-queue command
// slots, the receive buffer) belongs to the connection's reactor only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bdev/descriptor.h"
#include "core/async.h"
#include "core/dma_buf.h"
#include "core/frame_pool.h"
#include "core/net.h"
#include "core/reactor.h"
#include "nvme/pdu.h"
#include "target/live_tasks.h"
#include "target/nvmf/nvmf_target.h"

namespace ms::nvmf::detail {

inline constexpr uint32_t kMaxNamespaces = 32;
inline constexpr uint32_t kAerLimit = 4;  // AERL + 1
inline constexpr uint32_t kEventNsChanged = 1u << 0;
inline constexpr uint32_t kEventAnaChanged = 1u << 1;

struct Namespace {
    uint32_t nsid = 0;
    std::shared_ptr<Descriptor> desc;
    std::string device_name;
    Uuid uuid;
    uint32_t block_size = 512;
    uint32_t block_shift = 9;
    uint64_t num_blocks = 0;
};
// Sorted by nsid; published as an immutable snapshot.
using NamespaceTable = std::vector<std::shared_ptr<const Namespace>>;

class Controller;
class Connection;
struct TargetCore;

struct Subsystem {
    std::string nqn;
    bool discovery = false;
    SubsystemHooks hooks;
    uint16_t min_cntlid = nvme::kMinCntlid;
    uint16_t max_cntlid = nvme::kMaxCntlid;
    std::string serial;
    std::atomic<uint8_t> ana_state{static_cast<uint8_t>(nvme::AnaState::Optimized)};
    std::atomic<uint64_t> ana_change_count{1};
    // Bumped (under mu) whenever `namespaces` changes; queues re-read the snapshot when it moves.
    std::atomic<uint64_t> ns_version{1};
    // Connections of this subsystem still running (remove_subsystem waits for 0).
    std::atomic<int> connections{0};

    mutable std::mutex mu;  // guards everything below
    std::shared_ptr<const NamespaceTable> namespaces = std::make_shared<NamespaceTable>();
    std::vector<std::string> allowed_hosts;
    std::map<uint16_t, std::shared_ptr<Controller>> controllers;
    uint16_t next_cntlid = nvme::kMinCntlid;
    bool removed = false;

    std::shared_ptr<const NamespaceTable> ns_snapshot() const {
        std::lock_guard lk(mu);
        return namespaces;
    }
    bool host_allowed(const std::string& host) const;
};

// One controller (dynamic model): created by Connect on an admin queue, lives on the admin
// queue's reactor (`home`). Admin state below "home only" is touched only there; I/O queues
// on other reactors read only the immutable fields and `alive`.
class Controller : public std::enable_shared_from_this<Controller> {
   public:
    TargetCore* core = nullptr;
    std::shared_ptr<Subsystem> sub;
    uint16_t cntlid = 0;
    std::string host_nqn;
    Reactor* home = nullptr;
    std::atomic<bool> alive{true};

    // ---- home only
    uint32_t cc = 0;
    uint32_t csts = 0;
    uint32_t kato_ms = 0;
    std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
    uint32_t io_queues = 0;  // granted (Number of Queues), 1's based
    uint32_t aec = 0x900;    // async event config: namespace attribute + ANA change notices
    std::vector<uint16_t> aer_cids;
    uint32_t pending_events = 0;
    std::vector<uint32_t> changed_ns;
    bool changed_ns_overflow = false;
    std::weak_ptr<Connection> admin;

    // ---- any thread, under mu
    std::mutex mu;
    std::vector<std::shared_ptr<Connection>> io_conns;
    std::set<uint16_t> qids;

    // Any thread: marks the controller dead and closes every queue's socket.
    void shutdown_all();
    // Any thread: every queue of the controller drops its namespace snapshot.
    void refresh_namespaces();
    // Any thread: raise an asynchronous event (posted to `home`).
    void post_event(uint32_t event, uint32_t nsid = 0);
    // Home only.
    void raise_event(uint32_t event, uint32_t nsid);
};

struct TargetCore {
    Runtime* runtime = nullptr;
    TargetOptions options;
    std::string advertised;
    uint16_t ports[2] = {0, 0};  // replica, nexus

    std::atomic<bool> stopping{false};
    std::atomic<uint64_t> genctr{1};
    std::atomic<unsigned> next_reactor{0};

    mutable std::mutex mu;  // guards subsystems, conns
    std::map<std::string, std::shared_ptr<Subsystem>> subsystems;
    std::set<Connection*> conns;

    // Tasks of the target still running (accept loops, connections, keep-alive timers).
    target::LiveTasks live;

    std::shared_ptr<Subsystem> find_subsystem(const std::string& nqn) const {
        std::lock_guard lk(mu);
        auto it = subsystems.find(nqn);
        return it == subsystems.end() ? nullptr : it->second;
    }
};

// A command slot of a queue: preallocated, reused.
struct Command {
    uint16_t index = 0;
    bool in_use = false;
    nvme::Sqe sqe{};
    DmaBuf buf;              // data in either direction
    uint32_t incapsule = 0;  // in-capsule data bytes received into buf
    bool digest_error = false;
    // R2T / H2CData state.
    bool awaiting_h2c = false;
    uint32_t h2c_total = 0;
    uint32_t h2c_received = 0;
    bool h2c_failed = false;
    std::coroutine_handle<> waiter;
    // Header of the PDU this command sends (response, R2T, C2HData) and its data digest.
    alignas(8) uint8_t hdr[nvme::tcp::kMaxHeaderSize];
    uint8_t ddgst[4];
};

struct Response {
    nvme::Status status;
    uint32_t dw0 = 0;
    uint32_t dw1 = 0;
    uint32_t data_len = 0;     // bytes of cmd.buf to send to the host (C2HData), 0 if none
    bool no_response = false;  // AER: answered later
};

inline Response status_only(nvme::Sct sct, uint8_t sc, bool dnr = true) {
    Response r;
    r.status = nvme::Status{sct, sc, dnr};
    return r;
}
inline Response generic(uint8_t sc) {
    return status_only(nvme::Sct::Generic, sc, sc != nvme::sc::kSuccess);
}

// A coroutine that runs at once in its caller (no wait for a later loop turn) and frees itself
// when it ends; whoever starts it counts it. Commands run this way from the receive loop, so
// that the responses to every PDU of one receive leave in one send.
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
    Connection(TargetCore& core, Socket sock);
    ~Connection();

    // The connection's whole life, on its reactor.
    static Task<void> serve(std::shared_ptr<Connection> self);
    // Any thread: stop the connection (its commands finish, then it goes away).
    void shutdown();
    // Home reactor: answer an AER (spawned as a command of this connection).
    void send_event_response(uint16_t cid, uint32_t dw0);

    bool is_admin() const { return _qid == 0; }
    // Any thread: make the queue drop its namespace snapshot (so that a removed namespace's
    // descriptor closes without waiting for the queue's next command).
    void post_refresh_namespaces();

   private:
    Task<void> run();
    Task<bool> fill(std::size_t n);
    Task<bool> read_into(uint8_t* dst, std::size_t n);
    Task<bool> skip(std::size_t n);
    Task<bool> handshake();
    Task<void> terminate(const nvme::tcp::PduError& e, std::span<const uint8_t> header);
    Task<bool> on_capsule(const nvme::tcp::Pdu& pdu);
    Task<bool> on_h2c_data(const nvme::tcp::Pdu& pdu, std::span<const uint8_t> header);
    Command* alloc_command();
    void release_command(Command* c);
    Started execute(Command* c);
    Task<void> event_response(uint16_t cid, uint32_t dw0);
    // Queues `iov` for sending; awaiting the result waits until it has been sent (or the
    // connection failed). The memory `iov` points to must stay valid until then.
    struct SendWait {
        std::vector<std::coroutine_handle<>>* waiters;  // null: nothing to wait for
        bool await_ready() const noexcept { return waiters == nullptr; }
        void await_suspend(std::coroutine_handle<> h) { waiters->push_back(h); }
        void await_resume() const noexcept {}
    };
    SendWait send(std::span<iovec> iov);
    void flush();
    static Task<void> send_loop(std::shared_ptr<Connection> self);
    Task<void> respond(Command* c, const Response& r);
    Task<bool> receive_h2c(Command* c, uint32_t len);
    bool ensure_buf(Command* c, std::size_t len);

    // Fabrics and queues.
    Task<Response> exec_fabrics(Command* c);
    Response connect(Command* c);
    Response property_get(Command* c);
    Response property_set(Command* c);
    void detach();

    // Admin (admin.cc).
    Task<Response> exec_admin(Command* c);
    Response identify(Command* c);
    Response get_log_page(Command* c);
    Response get_features(Command* c);
    Response set_features(Command* c);
    Response async_event_request(Command* c);
    void identify_controller(uint8_t* p);
    void build_discovery_log(std::vector<uint8_t>& out);
    void build_ana_log(std::vector<uint8_t>& out, bool rgo);

    // NVM (io.cc).
    Task<Response> exec_io(Command* c);
    const Namespace* find_ns(uint32_t nsid);
    Task<Response> io_read_write(Command* c, const Namespace& ns, bool write);
    Task<Response> io_dsm(Command* c, const Namespace& ns);
    Task<std::optional<Response>> receive_host_data(Command* c, uint32_t len);

    TargetCore& _core;
    Socket _sock;
    Reactor* _home = nullptr;
    std::string _peer;
    std::string _local_addr;
    uint16_t _local_port = 0;
    nvme::tcp::ConnectionParams _params;

    std::shared_ptr<Subsystem> _sub;
    std::shared_ptr<Controller> _ctrl;
    uint16_t _qid = 0xFFFF;  // none until Connect
    uint32_t _sqsize = 1;    // entries (1's based)
    uint32_t _sqhd = 0;
    std::shared_ptr<const NamespaceTable> _ns;
    uint64_t _ns_version = 0;

    std::vector<uint8_t> _rx;
    std::size_t _rx_head = 0;
    std::size_t _rx_tail = 0;

    std::vector<std::unique_ptr<Command>> _cmds;
    std::vector<Command*> _free;

    // Sending (see send()). While the receive loop is busy parsing what one receive brought
    // (_rx_busy), sends only queue: the loop flushes them before it waits for more data.
    bool _rx_busy = false;
    bool _sending = false;
    std::vector<iovec> _batch;
    std::vector<std::coroutine_handle<>> _batch_waiters;
    std::vector<iovec> _out;
    std::vector<std::coroutine_handle<>> _out_waiters;
    std::atomic<bool> _closing{false};
    bool _send_failed = false;
    uint32_t _inflight = 0;
    WaitQueue _drained;
};

std::string serial_for(const std::string& nqn);

}  // namespace ms::nvmf::detail
