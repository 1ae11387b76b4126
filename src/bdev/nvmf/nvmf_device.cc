#include "bdev/nvmf/nvmf_device.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "bdev/nvmf/controller_entry.h"
#include "core/log.h"
#include "core/reactor.h"

namespace ms::nvmf_host {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uint32_t kAdminQueueDepth = 32;
constexpr uint64_t kMaxBlocksPerCommand = 65536;  // NLB is 16 bits, 0's based
constexpr uint32_t kDefaultMaxTransfer = 1024 * 1024;

// One host ID per process: every queue of every controller presents the same host.
const Uuid& process_host_id() {
    static const Uuid id = Uuid::generate();
    return id;
}

std::string default_host_nqn() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
        return fmt::format("{}host:{}", nvme::kMayastorNqnPrefix, process_host_id().to_string());
    }
    return fmt::format("{}host:{}", nvme::kMayastorNqnPrefix, name);
}

template <typename T>
T load_le(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::string ascii_field(const uint8_t* p, std::size_t n) {
    std::string s(reinterpret_cast<const char*>(p), n);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
        s.pop_back();
    }
    return s;
}

// A command whose NVMe status must be success.
Task<Result<nvme::Cqe>> run(Queue& q, nvme::Sqe sqe, DataDir dir, std::span<const iovec> iov,
                            std::string what) {
    auto r = co_await q.execute(sqe, dir, iov);
    if (!r) {
        co_return std::unexpected(r.error());
    }
    if (Status st = status_to_result(*r, what); !st) {
        co_return std::unexpected(st.error());
    }
    co_return r;
}

Task<Result<uint64_t>> property_get(Queue& q, uint32_t offset, bool eight_bytes) {
    nvme::Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::FabricsCommand);
    sqe.nsid = static_cast<uint8_t>(nvme::FabricsType::PropertyGet);
    sqe.cdw10 = eight_bytes ? 1 : 0;
    sqe.cdw11 = offset;
    std::span<const iovec> none;
    auto r = co_await run(q, sqe, DataDir::None, none, fmt::format("Property Get {:#x}", offset));
    if (!r) {
        co_return std::unexpected(r.error());
    }
    co_return uint64_t{r->dw0} | (eight_bytes ? uint64_t{r->dw1} << 32 : 0);
}

Task<Status> property_set(Queue& q, uint32_t offset, uint32_t value) {
    nvme::Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::FabricsCommand);
    sqe.nsid = static_cast<uint8_t>(nvme::FabricsType::PropertySet);
    sqe.cdw10 = 0;
    sqe.cdw11 = offset;
    sqe.cdw12 = value;
    std::span<const iovec> none;
    auto r = co_await run(q, sqe, DataDir::None, none, fmt::format("Property Set {:#x}", offset));
    if (!r) {
        co_return std::unexpected(r.error());
    }
    co_return ok();
}

Task<Status> identify(Queue& q, uint8_t cns, uint32_t nsid, std::vector<uint8_t>& buf) {
    buf.assign(nvme::kIdentifySize, 0);
    nvme::Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::Identify);
    sqe.nsid = nsid;
    sqe.cdw10 = cns;
    iovec v{buf.data(), buf.size()};
    auto r = co_await run(q, sqe, DataDir::ToHost, std::span<const iovec>(&v, 1),
                          fmt::format("Identify CNS {}", cns));
    if (!r) {
        co_return std::unexpected(r.error());
    }
    co_return ok();
}

// What create learns from the controller.
struct ControllerData {
    uint32_t max_queue_entries = 0;  // CAP.MQES + 1
    uint32_t version = 0;
    uint32_t max_transfer = kDefaultMaxTransfer;
    uint32_t in_capsule = 0;  // I/O queue in-capsule data bytes
    uint16_t oncs = 0;
    std::string model;
    std::string serial;
    std::string subnqn;
    uint64_t num_blocks = 0;
    uint32_t block_size = 0;
    std::array<uint8_t, 16> nguid{};
    uint32_t io_queues = 0;
};

Task<Result<ControllerData>> init_controller(Queue& admin, const NvmfUriSpec& spec) {
    ControllerData d;
    auto cap = co_await property_get(admin, nvme::prop::kCap, true);
    if (!cap) {
        co_return std::unexpected(cap.error());
    }
    d.max_queue_entries = static_cast<uint32_t>(*cap & 0xffff) + 1;
    uint64_t ready_timeout_ms = std::max<uint64_t>(((*cap >> 24) & 0xff) * 500, spec.timeout_ms);
    auto vs = co_await property_get(admin, nvme::prop::kVs, false);
    if (!vs) {
        co_return std::unexpected(vs.error());
    }
    d.version = static_cast<uint32_t>(*vs);
    // CC: EN, NVM command set, 4 KiB pages, 64-byte SQEs, 16-byte CQEs.
    uint32_t cc = 1u | (6u << 16) | (4u << 20);
    if (Status st = co_await property_set(admin, nvme::prop::kCc, cc); !st) {
        co_return std::unexpected(st.error());
    }
    auto deadline = Clock::now() + milliseconds(ready_timeout_ms);
    while (true) {
        auto csts = co_await property_get(admin, nvme::prop::kCsts, false);
        if (!csts) {
            co_return std::unexpected(csts.error());
        }
        if ((*csts & 0x2) != 0) {
            co_return errorf(EIO, "controller fatal status (CSTS {:#x})", *csts);
        }
        if ((*csts & 0x1) != 0) {
            break;
        }
        if (Clock::now() > deadline) {
            co_return errorf(ETIMEDOUT, "controller not ready after {} ms", ready_timeout_ms);
        }
        if (!co_await sleep_for(milliseconds(10))) {
            co_return errorf(ECANCELED, "shutting down");
        }
    }
    std::vector<uint8_t> buf;
    if (Status st = co_await identify(admin, nvme::cns::kController, 0, buf); !st) {
        co_return std::unexpected(st.error());
    }
    uint8_t mdts = buf[nvme::idctrl::kMdts];
    if (mdts != 0 && mdts < 20) {
        d.max_transfer = std::min<uint64_t>(uint64_t{4096} << mdts, 16u << 20);
    }
    uint32_t ioccsz = load_le<uint32_t>(&buf[nvme::idctrl::kIoccsz]);
    d.in_capsule = ioccsz * 16 > 64 ? std::min<uint32_t>(ioccsz * 16 - 64, 1 << 20) : 0;
    d.oncs = load_le<uint16_t>(&buf[nvme::idctrl::kOncs]);
    d.model = ascii_field(&buf[nvme::idctrl::kMn], 40);
    d.serial = ascii_field(&buf[nvme::idctrl::kSn], 20);
    d.subnqn = std::string(reinterpret_cast<const char*>(&buf[nvme::idctrl::kSubnqn]),
                           strnlen(reinterpret_cast<const char*>(&buf[nvme::idctrl::kSubnqn]), 256));
    if (Status st = co_await identify(admin, nvme::cns::kNamespace, 1, buf); !st) {
        co_return std::unexpected(st.error());
    }
    d.num_blocks = load_le<uint64_t>(&buf[nvme::idns::kNsze]);
    uint8_t fmt_index = buf[nvme::idns::kFlbas] & 0xf;
    uint32_t lbaf = load_le<uint32_t>(&buf[nvme::idns::kLbaf0 + 4 * fmt_index]);
    uint32_t lbads = (lbaf >> 16) & 0xff;
    if (d.num_blocks == 0 || lbads < 9 || lbads > 16) {
        co_return errorf(ENODEV, "namespace 1 of '{}' is not usable (size {} blocks, LBADS {})", spec.subnqn,
                         d.num_blocks, lbads);
    }
    d.block_size = 1u << lbads;
    std::memcpy(d.nguid.data(), &buf[nvme::idns::kNguid], 16);

    nvme::Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::SetFeatures);
    sqe.cdw10 = nvme::fid::kNumberOfQueues;
    sqe.cdw11 = (spec.io_queues - 1) | ((spec.io_queues - 1) << 16);
    std::span<const iovec> none;
    auto nq = co_await run(admin, sqe, DataDir::None, none, "Set Features (Number of Queues)");
    if (!nq) {
        co_return std::unexpected(nq.error());
    }
    uint32_t granted = std::min(nq->dw0 & 0xffff, nq->dw0 >> 16) + 1;
    d.io_queues = std::min(spec.io_queues, granted);
    if (spec.kato_ms > 0) {
        nvme::Sqe ka{};
        ka.opcode = static_cast<uint8_t>(nvme::AdminOpc::SetFeatures);
        ka.cdw10 = nvme::fid::kKeepAliveTimer;
        ka.cdw11 = spec.kato_ms;
        auto r = co_await run(admin, ka, DataDir::None, none, "Set Features (Keep Alive Timer)");
        if (!r) {
            log::debug("nvmf host: {} (KATO was also given in Connect)", r.error().message);
        }
    }
    co_return d;
}

class NvmfChannel final : public IoChannel {
   public:
    Reactor* reactor = nullptr;
    uint16_t qid = 0;
    std::shared_ptr<Queue> queue;
    AsyncMutex connect_mutex;
};

Task<void> keep_alive_loop(std::shared_ptr<Queue> admin, std::shared_ptr<ControllerEntry> entry,
                           uint32_t interval_ms) {
    auto next = Clock::now() + milliseconds(interval_ms);
    std::span<const iovec> none;
    while (!entry->closed && !admin->broken()) {
        if (!co_await sleep_for(milliseconds(std::min<uint32_t>(50, interval_ms)))) {
            break;
        }
        if (entry->closed || Clock::now() < next) {
            continue;
        }
        nvme::Sqe sqe{};
        sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::KeepAlive);
        auto r = co_await admin->execute(sqe, DataDir::None, none);
        if (r && !nvme::Status::decode(r->status).ok()) {
            log::warn("nvmf host: {}: Keep Alive failed: {}", entry->name,
                      status_to_result(*r, "Keep Alive").error().message);
        }
        next = Clock::now() + milliseconds(interval_ms);
    }
}

}  // namespace

class NvmfDevice final : public BlockDevice {
   public:
    NvmfDevice(NvmfUriSpec spec, const ControllerData& data, Uuid uuid, std::shared_ptr<Queue> admin,
               std::shared_ptr<ControllerEntry> entry)
        : BlockDevice(spec.device_name(), "NVMe disk", Geometry{data.block_size, data.num_blocks, 1}, uuid),
          _spec(std::move(spec)),
          _data(data),
          _admin(std::move(admin)),
          _entry(std::move(entry)),
          _home(Reactor::current()) {}

    bool io_type_supported(IoType t) const override {
        switch (t) {
            case IoType::Unmap:
                return (_data.oncs & (1u << 2)) != 0;
            case IoType::WriteZeroes:
                return (_data.oncs & (1u << 3)) != 0;
            default:
                return true;
        }
    }

    Result<std::unique_ptr<IoChannel>> create_channel() override {
        std::lock_guard g(_mutex);
        if (_next_qid > _data.io_queues) {
            return errorf(EBUSY, "{}: all {} I/O queues granted by the controller are in use", name(),
                          _data.io_queues);
        }
        auto ch = std::make_unique<NvmfChannel>();
        ch->reactor = Reactor::current();
        ch->qid = static_cast<uint16_t>(_next_qid++);
        _io_channels.push_back(ch.get());
        return std::unique_ptr<IoChannel>(std::move(ch));
    }

    Task<Status> submit(IoChannel& ch, IoRequest req) override {
        auto& c = static_cast<NvmfChannel&>(ch);
        if (req.type == IoType::Reset) {
            co_return co_await reset(c);
        }
        auto q = co_await queue_of(c);
        if (!q) {
            co_return std::unexpected(q.error());
        }
        switch (req.type) {
            case IoType::Read:
            case IoType::Write:
                co_return co_await read_write(**q, req);
            case IoType::Flush:
                co_return co_await flush(**q);
            case IoType::WriteZeroes:
                co_return co_await write_zeroes(**q, req);
            case IoType::Unmap:
                co_return co_await unmap(**q, req);
            case IoType::Reset:
                break;
        }
        co_return make_error(EINVAL, "bad I/O type");
    }

    Task<void> shutdown() override {
        _entry->state = ControllerState::Unconfiguring;
        _entry->closed = true;
        Reactor* caller = Reactor::current();
        std::vector<NvmfChannel*> channels;
        {
            std::lock_guard g(_mutex);
            channels = _io_channels;
        }
        for (NvmfChannel* c : channels) {
            co_await switch_to(*c->reactor);
            auto guard = co_await c->connect_mutex.lock();
            if (c->queue) {
                c->queue->close("the device is being destroyed");
                co_await c->queue->wait_closed();
                c->queue.reset();
            }
        }
        co_await switch_to(*_home);
        if (!_admin->broken()) {
            // Normal shutdown notification (CC.SHN = 01b); the answer does not matter.
            uint32_t cc = 1u | (6u << 16) | (4u << 20) | (1u << 14);
            Status st = co_await property_set(*_admin, nvme::prop::kCc, cc);
            (void)st;
        }
        _admin->close("the device is being destroyed");
        co_await _admin->wait_closed();
        co_await switch_to(*caller);
        _entry->state = ControllerState::Unconfigured;
        unregister_controller(_entry);
    }

    // The vendor admin command 0xC0 (Unix seconds in cdw10/cdw11): the remote replica's
    // subsystem takes the snapshot.
    Task<Status> create_snapshot(uint64_t unix_seconds) override {
        nvme::Sqe sqe{};
        sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::VendorCreateSnapshot);
        sqe.cdw10 = static_cast<uint32_t>(unix_seconds & 0xffffffffu);
        sqe.cdw11 = static_cast<uint32_t>(unix_seconds >> 32);
        std::span<uint8_t> no_data;  // not a braced list inside co_await (GCC 12)
        auto cqe = co_await admin_command(sqe, DataDir::None, no_data);
        if (!cqe) {
            co_return std::unexpected(cqe.error());
        }
        co_return status_to_result(*cqe, fmt::format("snapshot through '{}'", name()));
    }

    Task<Result<nvme::Cqe>> admin_command(nvme::Sqe sqe, DataDir dir, std::span<uint8_t> data) {
        Reactor* caller = Reactor::current();
        co_await switch_to(*_home);
        iovec v{data.data(), data.size()};
        std::span<const iovec> iov;
        if (dir != DataDir::None && !data.empty()) {
            iov = std::span<const iovec>(&v, 1);
        } else {
            dir = DataDir::None;
        }
        auto r = co_await _admin->execute(sqe, dir, iov);
        co_await switch_to(*caller);
        co_return r;
    }

   private:
    QueueOptions io_options(uint16_t qid) const {
        QueueOptions o;
        o.host = _spec.host;
        o.port = _spec.port;
        o.subnqn = _spec.subnqn;
        o.hostnqn = _spec.hostnqn;
        o.hostid = process_host_id();
        o.qid = qid;
        o.cntlid = _admin->cntlid();
        o.depth = std::min(_spec.queue_depth, _data.max_queue_entries);
        o.hdgst = _spec.hdgst;
        o.ddgst = _spec.ddgst;
        o.timeout = milliseconds(_spec.timeout_ms);
        return o;
    }

    // The channel's queue, connected (again) if needed: concurrent callers wait for one
    // connect; attempts go on for reconnect_ms before the I/O fails with EIO.
    Task<Result<std::shared_ptr<Queue>>> queue_of(NvmfChannel& c) {
        if (c.queue && !c.queue->broken()) {
            co_return c.queue;
        }
        auto guard = co_await c.connect_mutex.lock();
        if (c.queue && !c.queue->broken()) {
            co_return c.queue;
        }
        if (_entry->closed) {
            co_return errorf(EIO, "{}: the device is being destroyed", name());
        }
        if (c.queue) {
            co_await c.queue->wait_closed();
            c.queue.reset();
        }
        auto deadline = Clock::now() + milliseconds(_spec.reconnect_ms);
        Error last;
        while (true) {
            auto q = co_await Queue::connect(io_options(c.qid));
            if (q) {
                (*q)->set_in_capsule_limit(_data.in_capsule);
                std::shared_ptr<ControllerEntry> entry = _entry;
                (*q)->on_broken([entry](const Error&) { entry->state = ControllerState::Faulted; });
                c.queue = std::move(*q);
                if (!_admin->broken()) {
                    _entry->state = ControllerState::Running;
                }
                co_return c.queue;
            }
            last = q.error();
            auto now = Clock::now();
            if (now >= deadline || _entry->closed) {
                break;
            }
            auto pause = std::min<Clock::duration>(milliseconds(100), deadline - now);
            if (!co_await sleep_for(pause)) {
                break;
            }
        }
        _entry->state = ControllerState::Faulted;
        co_return errorf(EIO, "{}: cannot connect I/O queue {}: {}", name(), c.qid, last.message);
    }

    Task<Status> reset(NvmfChannel& c) {
        {
            auto guard = co_await c.connect_mutex.lock();
            if (c.queue) {
                c.queue->close("reset");
                co_await c.queue->wait_closed();
                c.queue.reset();
            }
        }
        auto q = co_await queue_of(c);
        if (!q) {
            co_return std::unexpected(q.error());
        }
        co_return ok();
    }

    static nvme::Sqe rw_sqe(bool write, uint64_t slba, uint64_t blocks) {
        nvme::Sqe sqe{};
        sqe.opcode = static_cast<uint8_t>(write ? nvme::NvmOpc::Write : nvme::NvmOpc::Read);
        sqe.nsid = 1;
        sqe.cdw10 = static_cast<uint32_t>(slba);
        sqe.cdw11 = static_cast<uint32_t>(slba >> 32);
        sqe.cdw12 = static_cast<uint32_t>(blocks - 1);
        return sqe;
    }

    // The commands of one split transfer, in flight together.
    struct Join {
        std::size_t left = 0;
        Status first_error;
        WaitQueue done;
    };

    // One read or write command; the error message is only built on failure (hot path).
    static Task<Status> rw_one(Queue& q, bool write, uint64_t slba, uint64_t blocks,
                               std::span<const iovec> iov, const std::string& device) {
        auto r = co_await q.execute(rw_sqe(write, slba, blocks),
                                    write ? DataDir::ToController : DataDir::ToHost, iov);
        if (!r) {
            co_return std::unexpected(r.error());
        }
        if (nvme::Status::decode(r->status).ok()) {
            co_return ok();
        }
        co_return status_to_result(
            *r, fmt::format("{} of {} blocks at {} on {}", write ? "write" : "read", blocks, slba, device));
    }

    static Task<void> rw_part(Queue* q, bool write, uint64_t slba, uint64_t blocks, std::vector<iovec> part,
                              const std::string* device, Join* join) {
        Status st = co_await rw_one(*q, write, slba, blocks, part, *device);
        if (!st && join->first_error) {
            join->first_error = std::unexpected(st.error());
        }
        if (--join->left == 0) {
            join->done.wake_all();
        }
    }

    Task<Status> read_write(Queue& q, const IoRequest& req) {
        bool write = req.type == IoType::Write;
        uint32_t bs = block_size();
        uint64_t max_blocks =
            std::max<uint64_t>(1, std::min<uint64_t>(_data.max_transfer / bs, kMaxBlocksPerCommand));
        if (req.num_blocks <= max_blocks) {
            co_return co_await rw_one(q, write, req.offset_blocks, req.num_blocks, req.iov, name());
        }
        // Larger than MDTS: one command per MDTS-sized piece, all in flight at once.
        Join join;
        uint64_t done = 0;
        while (done < req.num_blocks) {
            uint64_t n = std::min(max_blocks, req.num_blocks - done);
            std::vector<iovec> part;
            slice_iov(req.iov, done * bs, n * bs, part);
            ++join.left;
            Reactor::current()->spawn(
                rw_part(&q, write, req.offset_blocks + done, n, std::move(part), &name(), &join));
            done += n;
        }
        while (join.left > 0) {
            co_await join.done.wait();
        }
        co_return join.first_error;
    }

    Task<Status> flush(Queue& q) {
        nvme::Sqe sqe{};
        sqe.opcode = static_cast<uint8_t>(nvme::NvmOpc::Flush);
        sqe.nsid = 1;
        std::span<const iovec> none;
        auto r = co_await run(q, sqe, DataDir::None, none, fmt::format("flush of {}", name()));
        if (!r) {
            co_return std::unexpected(r.error());
        }
        co_return ok();
    }

    Task<Status> write_zeroes(Queue& q, const IoRequest& req) {
        std::span<const iovec> none;
        uint64_t done = 0;
        while (done < req.num_blocks) {
            uint64_t n = std::min(kMaxBlocksPerCommand, req.num_blocks - done);
            uint64_t slba = req.offset_blocks + done;
            nvme::Sqe sqe{};
            sqe.opcode = static_cast<uint8_t>(nvme::NvmOpc::WriteZeroes);
            sqe.nsid = 1;
            sqe.cdw10 = static_cast<uint32_t>(slba);
            sqe.cdw11 = static_cast<uint32_t>(slba >> 32);
            sqe.cdw12 = static_cast<uint32_t>(n - 1);
            auto r = co_await run(q, sqe, DataDir::None, none, fmt::format("write zeroes on {}", name()));
            if (!r) {
                co_return std::unexpected(r.error());
            }
            done += n;
        }
        co_return ok();
    }

    Task<Status> unmap(Queue& q, const IoRequest& req) {
        uint64_t left = req.num_blocks;
        uint64_t lba = req.offset_blocks;
        std::vector<nvme::DsmRange> ranges;
        while (left > 0) {
            ranges.clear();
            while (left > 0 && ranges.size() < 256) {
                uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(left, 0xffffffffu));
                ranges.push_back(nvme::DsmRange{0, n, lba});
                lba += n;
                left -= n;
            }
            nvme::Sqe sqe{};
            sqe.opcode = static_cast<uint8_t>(nvme::NvmOpc::DatasetManagement);
            sqe.nsid = 1;
            sqe.cdw10 = static_cast<uint32_t>(ranges.size() - 1);
            sqe.cdw11 = 1u << 2;  // deallocate
            iovec v{ranges.data(), ranges.size() * sizeof(nvme::DsmRange)};
            auto r = co_await run(q, sqe, DataDir::ToController, std::span<const iovec>(&v, 1),
                                  fmt::format("deallocate on {}", name()));
            if (!r) {
                co_return std::unexpected(r.error());
            }
        }
        co_return ok();
    }

    NvmfUriSpec _spec;
    ControllerData _data;
    std::shared_ptr<Queue> _admin;
    std::shared_ptr<ControllerEntry> _entry;
    Reactor* _home;
    std::mutex _mutex;
    uint32_t _next_qid = 1;
    std::vector<NvmfChannel*> _io_channels;
};

std::string NvmfUriSpec::device_name() const {
    bool v6 = host.find(':') != std::string::npos;
    return fmt::format("{}{}{}:{}/{}n1", v6 ? "[" : "", host, v6 ? "]" : "", port, subnqn);
}

Result<NvmfUriSpec> parse_nvmf_uri(const Uri& uri) {
    NvmfUriSpec spec;
    std::string text = uri.to_string();
    if (uri.host.empty()) {
        return errorf(EINVAL, "'{}' has no host (expected nvmf://host[:port]/<subsystem NQN>)", text);
    }
    spec.host = uri.host;
    spec.port = uri.port.value_or(nvme::kReplicaPort);
    if (spec.port == 0) {
        return errorf(EINVAL, "port 0 in '{}'", text);
    }
    spec.subnqn = uri.path;
    if (!spec.subnqn.empty() && spec.subnqn.front() == '/') {
        spec.subnqn.erase(0, 1);
    }
    if (spec.subnqn.empty() || spec.subnqn.find('/') != std::string::npos ||
        spec.subnqn.size() > nvme::kNqnMaxLength) {
        return errorf(EINVAL, "'{}' does not name a subsystem NQN (expected nvmf://host[:port]/<nqn>)", text);
    }
    QueryParams params(uri);
    if (auto u = params.take("uuid")) {
        auto parsed = Uuid::parse(*u);
        if (!parsed) {
            return std::unexpected(parsed.error());
        }
        spec.uuid = *parsed;
    }
    // Protection information is not supported: the parameters are accepted and ignored.
    (void)params.take("reftag");
    (void)params.take("guard");
    spec.hostnqn = params.take("hostnqn").value_or(default_host_nqn());
    if (spec.hostnqn.empty() || spec.hostnqn.size() > nvme::kNqnMaxLength) {
        return errorf(EINVAL, "bad hostnqn in '{}'", text);
    }
    struct Num {
        const char* key;
        uint32_t* out;
        uint64_t min;
        uint64_t max;
    };
    const Num nums[] = {
        {"io_queues", &spec.io_queues, 1, 1024},        {"qdepth", &spec.queue_depth, 2, 1024},
        {"timeout_ms", &spec.timeout_ms, 1, 3'600'000}, {"reconnect_ms", &spec.reconnect_ms, 0, 3'600'000},
        {"kato_ms", &spec.kato_ms, 0, 3'600'000},
    };
    for (const Num& n : nums) {
        auto v = params.take_u64(n.key);
        if (!v) {
            return std::unexpected(v.error());
        }
        if (*v) {
            if (**v < n.min || **v > n.max) {
                return errorf(EINVAL, "{}={} is out of range [{}, {}] in '{}'", n.key, **v, n.min, n.max,
                              text);
            }
            *n.out = static_cast<uint32_t>(**v);
        }
    }
    for (auto [key, out] : {std::pair{"hdgst", &spec.hdgst}, std::pair{"ddgst", &spec.ddgst}}) {
        auto v = params.take_bool(key);
        if (!v) {
            return std::unexpected(v.error());
        }
        *out = v->value_or(false);
    }
    if (Status st = params.finish(); !st) {
        return std::unexpected(st.error());
    }
    return spec;
}

namespace {

Task<Result<std::shared_ptr<BlockDevice>>> create_nvmf_device(Uri uri) {
    auto spec = parse_nvmf_uri(uri);
    if (!spec) {
        co_return std::unexpected(spec.error());
    }
    auto entry = std::make_shared<ControllerEntry>();
    entry->name = spec->device_name();
    entry->state = ControllerState::Initializing;
    register_controller(entry);

    QueueOptions ao;
    ao.host = spec->host;
    ao.port = spec->port;
    ao.subnqn = spec->subnqn;
    ao.hostnqn = spec->hostnqn;
    ao.hostid = process_host_id();
    ao.qid = 0;
    ao.depth = kAdminQueueDepth;
    ao.kato_ms = spec->kato_ms;
    ao.hdgst = spec->hdgst;
    ao.ddgst = spec->ddgst;
    ao.timeout = milliseconds(spec->timeout_ms);
    auto admin = co_await Queue::connect(ao);
    if (!admin) {
        unregister_controller(entry);
        co_return std::unexpected(admin.error());
    }
    auto data = co_await init_controller(**admin, *spec);
    if (!data) {
        (*admin)->close();
        co_await (*admin)->wait_closed();
        unregister_controller(entry);
        co_return errorf(data.error().code, "{}: {}", entry->name, data.error().message);
    }
    (*admin)->on_broken([entry](const Error&) { entry->state = ControllerState::Faulted; });
    Uuid uuid;
    if (spec->uuid) {
        uuid = *spec->uuid;
    } else if (Uuid nguid(data->nguid); !nguid.is_nil()) {
        uuid = nguid;
    } else {
        uuid = Uuid::generate();
    }
    auto dev = std::make_shared<NvmfDevice>(*spec, *data, uuid, *admin, entry);
    entry->size_bytes = dev->geometry().size_bytes();
    entry->block_size = dev->block_size();
    entry->state = ControllerState::Running;
    if (spec->kato_ms > 0) {
        Reactor::current()->spawn(keep_alive_loop(*admin, entry, std::max<uint32_t>(spec->kato_ms / 2, 1)));
    }
    log::info(
        "nvmf host: connected {} (controller {}, model '{}', {} x {} bytes, {} I/O queues, MDTS {} bytes)",
        entry->name, (*admin)->cntlid(), data->model, data->num_blocks, data->block_size, data->io_queues,
        data->max_transfer);
    co_return std::shared_ptr<BlockDevice>(std::move(dev));
}

}  // namespace

DeviceFactory nvmf_device_factory() {
    DeviceFactory f;
    f.name_of = [](const Uri& uri) -> std::string {
        auto spec = parse_nvmf_uri(uri);
        return spec ? spec->device_name() : std::string();
    };
    f.create = [](const Uri& uri) { return create_nvmf_device(uri); };
    return f;
}

bool is_nvmf_device(const BlockDevice& dev) {
    return dynamic_cast<const NvmfDevice*>(&dev) != nullptr;
}

Task<Result<nvme::Cqe>> nvmf_admin_command(BlockDevice& dev, nvme::Sqe sqe, DataDir dir,
                                           std::span<uint8_t> data) {
    auto* nd = dynamic_cast<NvmfDevice*>(&dev);
    if (nd == nullptr) {
        co_return errorf(EOPNOTSUPP, "'{}' is not an nvmf:// device: no NVMe admin commands", dev.name());
    }
    co_return co_await nd->admin_command(sqe, dir, data);
}

}  // namespace ms::nvmf_host
