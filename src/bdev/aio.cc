#include "bdev/aio.h"

#include <libaio.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <deque>

#include "bdev/file_ops.h"
#include "core/log.h"
#include "core/reactor.h"

namespace ms {
namespace {

constexpr unsigned kAioDepth = 256;

// One in-flight AIO request: lives in the submitting coroutine's frame.
struct AioOp {
    iocb cb{};
    std::coroutine_handle<> h;
    long res = 0;
};

class AioChannel final : public IoChannel, public Completion {
   public:
    static Result<std::unique_ptr<AioChannel>> make() {
        auto ch = std::unique_ptr<AioChannel>(new AioChannel());
        ch->_efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (ch->_efd < 0) {
            return errno_error(errno, "eventfd");
        }
        if (int rc = io_setup(kAioDepth, &ch->_ctx); rc < 0) {
            return errno_error(rc, "io_setup");
        }
        return ch;
    }
    ~AioChannel() override {
        if (_ctx != nullptr) {
            io_destroy(_ctx);
        }
        if (_efd >= 0) {
            ::close(_efd);
        }
    }

    // Awaitable: submits `op` (waiting for room if the context is full) and resumes when done.
    struct Submit {
        AioChannel& ch;
        AioOp& op;
        bool await_ready() noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            op.h = h;
            io_set_eventfd(&op.cb, ch._efd);
            op.cb.data = &op;
            if (ch._inflight >= kAioDepth) {
                ch._waiting.push_back(&op);
                return;
            }
            ch.start(op);
        }
        long await_resume() noexcept { return op.res; }
    };

    // CQE of the eventfd poll: reap every finished request. Waiters are resumed last, with no
    // further use of `this`: a resumed coroutine may close the device and free this channel.
    void complete(int, uint32_t) override {
        _armed = false;
        uint64_t v;
        [[maybe_unused]] ssize_t n = ::read(_efd, &v, sizeof v);
        std::array<io_event, kAioDepth> events;
        timespec zero{0, 0};
        int got = io_getevents(_ctx, 0, events.size(), events.data(), &zero);
        std::array<std::coroutine_handle<>, kAioDepth> done;
        int ndone = 0;
        for (int i = 0; i < got; ++i) {
            auto* op = static_cast<AioOp*>(events[i].data);
            op->res = static_cast<long>(events[i].res);
            --_inflight;
            done[ndone++] = op->h;
        }
        while (!_waiting.empty() && _inflight < kAioDepth) {
            AioOp* op = _waiting.front();
            _waiting.pop_front();
            start(*op);
        }
        arm();
        for (int i = 0; i < ndone; ++i) {
            done[i].resume();
        }
    }

   private:
    AioChannel() = default;

    void start(AioOp& op) {
        iocb* cbs[1] = {&op.cb};
        int rc = io_submit(_ctx, 1, cbs);
        if (rc != 1) {
            op.res = rc < 0 ? rc : -EIO;
            // Resume on a later turn: the submitter is still inside await_suspend.
            Reactor::current()->schedule(op.h);
            return;
        }
        ++_inflight;
        arm();
    }

    void arm() {
        if (_armed || _inflight == 0) {
            return;
        }
        _armed = true;
        io_uring_prep_poll_add(Reactor::current()->prepare(this), _efd, POLLIN);
    }

    io_context_t _ctx = nullptr;
    int _efd = -1;
    unsigned _inflight = 0;
    bool _armed = false;
    std::deque<AioOp*> _waiting;
};

class AioDevice final : public BlockDevice {
   public:
    explicit AioDevice(BackingFile file)
        : BlockDevice(file.path, "AIO disk", file.geometry, file.uuid), _file(std::move(file)) {}

    bool io_type_supported(IoType) const override { return true; }

    Result<std::unique_ptr<IoChannel>> create_channel() override {
        auto ch = AioChannel::make();
        if (!ch) {
            return std::unexpected(ch.error());
        }
        return std::unique_ptr<IoChannel>(std::move(*ch));
    }

    Task<Status> submit(IoChannel& ch, IoRequest req) override {
        auto& aio = static_cast<AioChannel&>(ch);
        uint64_t offset = req.offset_blocks * block_size();
        uint64_t length = req.num_blocks * block_size();
        switch (req.type) {
            case IoType::Read:
                return transfer(aio, false, offset, req.iov);
            case IoType::Write:
                return transfer(aio, true, offset, req.iov);
            case IoType::Flush:
                return flush(aio);
            case IoType::Unmap:
                return file_unmap(_file, offset, length, zero_writer(aio));
            case IoType::WriteZeroes:
                return file_write_zeroes(_file, offset, length, zero_writer(aio));
            case IoType::Reset:
                return ready(ok());
        }
        return ready(Status(make_error(EINVAL, "bad I/O type")));
    }

   private:
    ZeroWriter zero_writer(AioChannel& aio) {
        return
            [this, &aio](uint64_t off, std::span<const iovec> iov) { return transfer(aio, true, off, iov); };
    }

    Task<long> one(AioChannel& aio, bool write, uint64_t offset, std::span<const iovec> iov) {
        AioOp op;
        auto* v = const_cast<iovec*>(iov.data());
        if (write) {
            io_prep_pwritev(&op.cb, _file.fd, v, static_cast<int>(iov.size()),
                            static_cast<long long>(offset));
        } else {
            io_prep_preadv(&op.cb, _file.fd, v, static_cast<int>(iov.size()), static_cast<long long>(offset));
        }
        co_return co_await AioChannel::Submit{aio, op};
    }

    Task<Status> transfer(AioChannel& aio, bool write, uint64_t offset, std::span<const iovec> iov) {
        return file_transfer(
            name(), write, offset, iov,
            [this, &aio, write](uint64_t off, std::span<const iovec> v) { return one(aio, write, off, v); });
    }

    Task<Status> flush(AioChannel& aio) {
        AioOp op;
        io_prep_fdsync(&op.cb, _file.fd);
        long res = co_await AioChannel::Submit{aio, op};
        if (res == -EINVAL) {
            // Old kernels have no AIO fdsync: do it synchronously.
            res = ::fdatasync(_file.fd) == 0 ? 0 : -errno;
        }
        if (res < 0) {
            co_return errno_error(static_cast<int>(res), fmt::format("flush of '{}'", name()));
        }
        co_return ok();
    }

    BackingFile _file;
};

}  // namespace

DeviceFactory aio_device_factory() {
    DeviceFactory f;
    f.name_of = &BackingFile::name_of;
    f.create = [](const Uri& uri) -> Task<Result<std::shared_ptr<BlockDevice>>> {
        auto file = BackingFile::open(uri);
        if (!file) {
            co_return std::unexpected(file.error());
        }
        co_return std::make_shared<AioDevice>(std::move(*file));
    };
    return f;
}

}  // namespace ms
