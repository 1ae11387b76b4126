// One NVMe/TCP queue pair of our host: a TCP connection to a target, the ICReq/ICResp exchange,
// the fabrics Connect, and commands in flight on it (one slot per command ID). A receiver task
// reads the target's PDUs (responses, controller-to-host data, ready-to-transfer) and a
// watchdog fails the queue when a command or the connection setup takes longer than the
// timeout. Used on one reactor only (the one that connected it).
//
// Failure rule: when the connection breaks, a PDU is malformed or a command times out, the
// queue is "broken": every outstanding command completes at once with EIO, the socket is shut
// down, and later commands fail with EIO. Its owner decides whether to connect a new queue.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/async.h"
#include "core/net.h"
#include "core/status.h"
#include "core/task.h"
#include "core/uuid.h"
#include "nvme/pdu.h"
#include "nvme/spec.h"

namespace ms::nvmf_host {

struct QueueOptions {
    std::string host;
    uint16_t port = nvme::kReplicaPort;
    std::string subnqn;
    std::string hostnqn;
    Uuid hostid;
    uint16_t qid = 0;                        // 0 = admin queue
    uint16_t cntlid = nvme::kDynamicCntlid;  // I/O queues: the admin queue's controller ID
    uint32_t depth = 32;                     // entries; depth - 1 commands in flight
    uint32_t kato_ms = 0;                    // admin queue only
    bool hdgst = false;
    bool ddgst = false;
    std::chrono::milliseconds timeout{5000};  // per command and for the connection setup
};

enum class DataDir : uint8_t { None, ToHost, ToController };

// NVMe status -> errno: LBA out of range ERANGE, invalid field EINVAL, invalid opcode
// EOPNOTSUPP, host refused by Connect EACCES, everything else EIO.
Status status_to_result(const nvme::Cqe& cqe, std::string_view what);

// The part [offset, offset + length) of a scatter list.
void slice_iov(std::span<const iovec> in, uint64_t offset, uint64_t length, std::vector<iovec>& out);

class Queue : public std::enable_shared_from_this<Queue> {
   public:
    // TCP connect, ICReq/ICResp and fabrics Connect. Errors: the socket's (ECONNREFUSED...),
    // ENOENT (the target does not know the subsystem), EACCES (host not allowed), ETIMEDOUT.
    static Task<Result<std::shared_ptr<Queue>>> connect(QueueOptions options);

    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;
    ~Queue();

    // Runs one command: `sqe`'s cid and data pointer are filled here. Data goes in the capsule
    // when it fits the in-capsule size, else through R2T/H2CData; reads land in `iov` directly.
    // The completion, or an error: EIO when the queue is broken or breaks meanwhile.
    Task<Result<nvme::Cqe>> execute(nvme::Sqe sqe, DataDir dir, std::span<const iovec> iov);

    // Fails outstanding commands (EIO) and shuts the connection down; wait_closed() waits for
    // the receiver to exit. Idempotent.
    void close(std::string reason = "queue closed");
    Task<void> wait_closed();

    bool broken() const { return _broken; }
    const Error& error() const { return _error; }
    uint16_t cntlid() const { return _cntlid; }
    uint16_t qid() const { return _options.qid; }
    uint32_t max_h2c_data() const { return _max_h2c; }
    // Largest write carried in the capsule (I/O queues: IOCCSZ * 16 - 64).
    void set_in_capsule_limit(uint32_t bytes) { _in_capsule_max = bytes; }
    // Called once when the queue breaks (not when closed on purpose).
    void on_broken(std::function<void(const Error&)> fn) { _on_broken = std::move(fn); }

   private:
    struct Slot {
        bool busy = false;
        bool done = false;
        DataDir dir = DataDir::None;
        std::span<const iovec> iov;
        uint32_t length = 0;
        uint32_t received = 0;
        uint32_t h2c_active = 0;  // H2CData senders still using `iov`
        std::chrono::steady_clock::time_point deadline;
        std::coroutine_handle<> waiter;
        Result<nvme::Cqe> result;
    };
    struct SlotAwaiter {
        Slot& s;
        bool await_ready() noexcept { return s.done; }
        void await_suspend(std::coroutine_handle<> h) { s.waiter = h; }
        void await_resume() noexcept {}
    };
    // Buffered reading of the socket: headers come from a buffer, large data goes straight
    // into the caller's memory.
    class Reader {
       public:
        explicit Reader(Socket& s) : _sock(s), _buf(64 * 1024) {}
        Task<Status> read(std::span<uint8_t> out);

       private:
        Socket& _sock;
        std::vector<uint8_t> _buf;
        std::size_t _begin = 0;
        std::size_t _end = 0;
    };

    Queue(Socket sock, QueueOptions options);
    Task<Status> handshake();
    Task<Status> fabrics_connect();
    Task<Result<nvme::tcp::Pdu>> read_pdu_header(uint8_t* hdr, const char* what);
    Task<Status> receive_one();
    Task<Status> receive_c2h(const nvme::tcp::Pdu& pdu);
    Task<Status> send_pdu(std::span<const uint8_t> header, std::span<const iovec> data);
    static Task<void> send_loop(std::shared_ptr<Queue> self);
    Task<void> send_h2c(uint16_t cid, uint16_t ttag, uint32_t offset, uint32_t length);
    void complete(Slot& s, Result<nvme::Cqe> r);
    void fail(Error e);
    static Task<void> receive_loop(std::shared_ptr<Queue> self);
    static Task<void> watchdog(std::shared_ptr<Queue> self);
    static Task<void> h2c_task(std::shared_ptr<Queue> self, uint16_t cid, uint16_t ttag, uint32_t offset,
                               uint32_t length);

    Socket _sock;
    QueueOptions _options;
    Reader _reader;
    nvme::tcp::ConnectionParams _params;
    uint32_t _max_h2c = 128 * 1024;
    uint32_t _in_capsule_max = 8192;
    uint16_t _cntlid = 0;
    bool _connected = false;  // fabrics Connect done
    std::chrono::steady_clock::time_point _setup_deadline;
    std::vector<Slot> _slots;
    std::vector<uint16_t> _free;
    WaitQueue _slot_waiters;
    // Sending (see send_pdu()): PDUs queued this loop turn, and those of the sendmsg in flight,
    // each with the sender waiting for it and where its status goes.
    struct SendWaiter {
        std::coroutine_handle<> h;
        Status* result;
    };
    bool _sending = false;
    std::vector<iovec> _tx;
    std::vector<SendWaiter> _tx_waiters;
    std::vector<iovec> _tx_out;
    std::vector<SendWaiter> _tx_out_waiters;
    std::vector<iovec> _rx_part;  // receive_c2h's slice of the command's buffer
    bool _broken = false;
    bool _closing = false;
    Error _error;
    bool _receiver_running = false;
    int _rx_cid = -1;  // command whose data the receiver is reading now
    WaitQueue _receiver_done;
    std::function<void(const Error&)> _on_broken;
};

}  // namespace ms::nvmf_host
