// Our NVMe/TCP host (nvmf:// devices) against our NVMe/TCP target in one process: the target
// and its malloc device on their own runtime, the host on another with several reactors.
// Data written through the host is read back through the host and straight from the target's
// device; errors (unknown NQN, refused host, refused connection, target gone) have the
// documented codes and leave nothing behind.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../bdev_test_util.h"
#include "bdev/all_devices.h"
#include "bdev/nvmf/nvmf_controllers.h"
#include "bdev/nvmf/nvmf_device.h"
#include "core/async.h"
#include "core/net.h"
#include "core/reactor.h"
#include "target/nvmf/nvmf_target.h"

namespace ms::test {
namespace {

using namespace std::chrono_literals;
using nvmf_host::ControllerState;

constexpr const char* kBacking = "malloc:///nvmf_backing?size_mb=64&blk_size=512";
constexpr const char* kBackingName = "nvmf_backing";

RuntimeOptions host_cores() {
    RuntimeOptions o;
    o.cpus = {0, 1, 0, 1};  // four reactors: four I/O queues
    return o;
}

std::vector<std::string> nvmf_names() {
    std::vector<std::string> out;
    for (const auto& n : registry_names()) {
        if (n.find("/nqn.") != std::string::npos) {
            out.push_back(n);
        }
    }
    return out;
}

class NvmfHost : public ::testing::Test {
   protected:
    void SetUp() override {
        register_all_device_factories();
        _target_rt = std::make_unique<Runtime>(RuntimeOptions{});
        _host_rt = std::make_unique<Runtime>(host_cores());
        auto backing = create(*_target_rt, kBacking);
        ASSERT_TRUE(is_ok(backing));
        _backing = *backing;
        start_target({});
    }

    void start_target(std::vector<std::string> allowed_hosts) {
        nvmf::TargetOptions o;
        o.listen_address = "127.0.0.1";
        o.advertised_address = "127.0.0.1";
        o.replica_port = 0;
        o.nexus_port = 0;
        o.max_io_size = 128 * 1024;
        auto t = nvmf::NvmfTarget::start(*_target_rt, o);
        ASSERT_TRUE(is_ok(t));
        _target = std::move(*t);
        nvmf::SubsystemSpec spec;
        spec.device = _backing;
        spec.allowed_hosts = std::move(allowed_hosts);
        auto nqn = _target->add_subsystem(spec);
        ASSERT_TRUE(is_ok(nqn));
        _nqn = *nqn;
        _port = _target->replica_port();
    }

    void TearDown() override {
        for (const auto& name : nvmf_names()) {
            EXPECT_TRUE(is_ok(destroy(*_host_rt, name)));
        }
        EXPECT_TRUE(nvmf_host::list_controllers().empty());
        _target.reset();
        _backing.reset();
        if (_target_rt) {
            destroy(*_target_rt, kBackingName);
        }
        _host_rt.reset();
        _target_rt.reset();
    }

    std::string uri(const std::string& query = "") const {
        return fmt::format("nvmf://127.0.0.1:{}/{}{}", _port, _nqn, query);
    }

    std::unique_ptr<Descriptor> open_rw(const std::shared_ptr<BlockDevice>& dev) {
        auto d = Descriptor::open(dev, OpenMode::ReadWrite);
        EXPECT_TRUE(is_ok(d));
        return d ? std::move(*d) : nullptr;
    }

    ControllerState state_of(const std::string& name) {
        for (const auto& c : nvmf_host::list_controllers()) {
            if (c.name == name) {
                return c.state;
            }
        }
        return ControllerState::New;
    }

    std::unique_ptr<Runtime> _target_rt;
    std::unique_ptr<Runtime> _host_rt;
    std::shared_ptr<BlockDevice> _backing;
    std::unique_ptr<nvmf::NvmfTarget> _target;
    std::string _nqn;
    uint16_t _port = 0;
};

TEST_F(NvmfHost, GeometryNameUuidAndControllerList) {
    auto dev = create(*_host_rt, uri());
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->name(), fmt::format("127.0.0.1:{}/{}n1", _port, _nqn));
    EXPECT_EQ((*dev)->block_size(), _backing->block_size());
    EXPECT_EQ((*dev)->num_blocks(), _backing->num_blocks());
    EXPECT_EQ((*dev)->uuid(), _backing->uuid());  // NGUID = the target device's uuid
    EXPECT_TRUE(nvmf_host::is_nvmf_device(**dev));
    auto list = nvmf_host::list_controllers();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].name, (*dev)->name());
    EXPECT_EQ(list[0].state, ControllerState::Running);
    EXPECT_EQ(list[0].size_bytes, _backing->geometry().size_bytes());
    EXPECT_EQ(list[0].block_size, 512u);
    // The same URI again: the name is taken.
    EXPECT_TRUE(fails_with(create(*_host_rt, uri()), EEXIST));
    // uuid= overrides the NGUID.
    ASSERT_TRUE(is_ok(destroy(*_host_rt, (*dev)->name())));
    EXPECT_TRUE(nvmf_host::list_controllers().empty());
    auto dev2 = create(*_host_rt, uri("?uuid=0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d&reftag=true&guard=true"));
    ASSERT_TRUE(is_ok(dev2));
    EXPECT_EQ((*dev2)->uuid().to_string(), "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
}

class NvmfHostData : public NvmfHost, public ::testing::WithParamInterface<const char*> {};

// Sizes: in-capsule (4 KiB), R2T/H2CData and not a multiple of MDTS (300 KiB), several
// commands (1 MiB); scattered buffers; read back through the host and from the target's device.
TEST_P(NvmfHostData, WriteReadPatterns) {
    auto dev = create(*_host_rt, uri(GetParam()));
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    auto local = Descriptor::open(_backing, OpenMode::ReadOnly);
    ASSERT_TRUE(is_ok(local));
    struct Case {
        uint64_t offset;
        std::size_t length;
        std::size_t pieces;
    };
    const Case cases[] = {{0, 4096, 1},
                          {4096 * 3, 512, 1},
                          {1 << 20, 300 * 1024, 3},
                          {8 << 20, 1 << 20, 1},
                          {(16 << 20) + 512, 1 << 20, 7}};
    uint64_t seed = 1;
    for (const Case& c : cases) {
        SCOPED_TRACE(fmt::format("offset {} length {} pieces {}", c.offset, c.length, c.pieces));
        auto data = random_bytes(c.length, seed++);
        ASSERT_TRUE(is_ok(write(*_host_rt, *d, c.offset, data, c.pieces)));
        auto back = read(*_host_rt, *d, c.offset, c.length, c.pieces, 1);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, data));
        auto direct = read(*_target_rt, **local, c.offset, c.length);
        ASSERT_TRUE(is_ok(direct));
        EXPECT_TRUE(same_bytes(*direct, data));
    }
    // Data written on the target side is what the host reads.
    auto data = random_bytes(256 * 1024, 99);
    auto local_rw = Descriptor::open(_backing, OpenMode::ReadWrite);
    ASSERT_TRUE(is_ok(local_rw));
    ASSERT_TRUE(is_ok(write(*_target_rt, **local_rw, 32 << 20, data)));
    auto back = read(*_host_rt, *d, 32 << 20, data.size(), 2, 2);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
    // Past the end: the descriptor refuses it before the wire.
    EXPECT_TRUE(fails_with(read(*_host_rt, *d, (*dev)->geometry().size_bytes(), 4096), ERANGE));
}

INSTANTIATE_TEST_SUITE_P(Digests, NvmfHostData, ::testing::Values("", "?hdgst=1&ddgst=1", "?ddgst=1"),
                         [](const auto& info) {
                             return std::string(info.index == 0 ? "none" : info.index == 1 ? "both" : "data");
                         });

// Many commands at once on each of four reactors (each its own I/O queue), more than the queue
// depth, each to its own range; then every range read back from another reactor.
struct Batch {
    std::atomic<int> left{0};
    std::atomic<int> failures{0};
    std::string first_error;
};

Task<void> one_write(Descriptor* d, uint64_t offset, iovec v, Batch* b, WaitQueue* wq) {
    Status st = co_await d->writev(offset, std::span<const iovec>(&v, 1));
    if (!st) {
        if (b->failures++ == 0) {
            b->first_error = st.error().to_string();
        }
    }
    if (--b->left == 0) {
        wq->wake_all();
    }
}

Task<void> write_batch(Descriptor* d, uint64_t base, std::vector<DmaBuf>* bufs, Batch* b) {
    WaitQueue wq;
    b->left = static_cast<int>(bufs->size());
    for (std::size_t i = 0; i < bufs->size(); ++i) {
        DmaBuf& buf = (*bufs)[i];
        Reactor::current()->spawn(one_write(d, base + i * buf.size(), buf.iov(), b, &wq));
    }
    while (b->left > 0) {
        co_await wq.wait();
    }
}

TEST_F(NvmfHost, ManyQueuesManyCommands) {
    auto dev = create(*_host_rt, uri("?qdepth=8"));
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    constexpr std::size_t kPerReactor = 40;
    constexpr std::size_t kSize = 16 * 1024;
    std::vector<std::vector<DmaBuf>> bufs(_host_rt->size());
    std::vector<Batch> batches(_host_rt->size());
    for (std::size_t r = 0; r < _host_rt->size(); ++r) {
        for (std::size_t i = 0; i < kPerReactor; ++i) {
            auto b = d->dma_malloc(kSize);
            ASSERT_TRUE(is_ok(b));
            auto bytes = random_bytes(kSize, r * 1000 + i);
            std::memcpy(b->data(), bytes.data(), kSize);
            bufs[r].push_back(std::move(*b));
        }
    }
    std::vector<std::thread> threads;
    for (std::size_t r = 0; r < _host_rt->size(); ++r) {
        threads.emplace_back([&, r] {
            uint64_t base = r * kPerReactor * kSize;
            run_on(_host_rt->reactor(r),
                   [&, base, r]() { return write_batch(d.get(), base, &bufs[r], &batches[r]); });
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (std::size_t r = 0; r < _host_rt->size(); ++r) {
        EXPECT_EQ(batches[r].failures.load(), 0) << batches[r].first_error;
        uint64_t base = r * kPerReactor * kSize;
        auto back = read(*_host_rt, *d, base, kPerReactor * kSize, 1, (r + 1) % _host_rt->size());
        ASSERT_TRUE(is_ok(back));
        for (std::size_t i = 0; i < kPerReactor; ++i) {
            EXPECT_TRUE(
                same_bytes(std::span<const uint8_t>(*back).subspan(i * kSize, kSize), bufs[r][i].span()))
                << "reactor " << r << " buffer " << i;
        }
    }
}

TEST_F(NvmfHost, FlushWriteZeroesUnmapReset) {
    auto dev = create(*_host_rt, uri());
    ASSERT_TRUE(is_ok(dev));
    EXPECT_TRUE((*dev)->io_type_supported(IoType::Unmap));
    EXPECT_TRUE((*dev)->io_type_supported(IoType::WriteZeroes));
    auto d = open_rw(*dev);
    auto data = random_bytes(1 << 20, 5);
    ASSERT_TRUE(is_ok(write(*_host_rt, *d, 0, data)));
    EXPECT_TRUE(is_ok(run_on(_host_rt->reactor(0), [&]() { return d->flush(); })));
    // Write zeroes over the middle 256 KiB.
    ASSERT_TRUE(
        is_ok(run_on(_host_rt->reactor(0), [&]() { return d->write_zeroes(256 * 1024, 256 * 1024); })));
    auto back = read(*_host_rt, *d, 0, data.size());
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(std::span<const uint8_t>(*back).first(256 * 1024),
                           std::span<const uint8_t>(data).first(256 * 1024)));
    EXPECT_TRUE(all_zero(std::span<const uint8_t>(*back).subspan(256 * 1024, 256 * 1024)));
    EXPECT_TRUE(same_bytes(std::span<const uint8_t>(*back).subspan(512 * 1024),
                           std::span<const uint8_t>(data).subspan(512 * 1024)));
    // Unmap the last 512 KiB: the malloc device reads zeroes there.
    ASSERT_TRUE(is_ok(run_on(_host_rt->reactor(1), [&]() { return d->unmap(512 * 1024, 512 * 1024); })));
    back = read(*_host_rt, *d, 0, data.size());
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(all_zero(std::span<const uint8_t>(*back).subspan(512 * 1024)));
    EXPECT_TRUE(same_bytes(std::span<const uint8_t>(*back).first(256 * 1024),
                           std::span<const uint8_t>(data).first(256 * 1024)));
    // Reset reconnects the I/O queue; I/O goes on.
    EXPECT_TRUE(is_ok(run_on(_host_rt->reactor(0), [&]() { return d->reset(); })));
    ASSERT_TRUE(is_ok(write(*_host_rt, *d, 4096, std::span<const uint8_t>(data).first(8192))));
    back = read(*_host_rt, *d, 4096, 8192);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, std::span<const uint8_t>(data).first(8192)));
}

TEST_F(NvmfHost, ConnectErrorsLeaveNothing) {
    // Unknown subsystem.
    EXPECT_TRUE(
        fails_with(create(*_host_rt, fmt::format("nvmf://127.0.0.1:{}/nqn.2019-05.io.openebs:nope", _port)),
                   ENOENT, {"nqn.2019-05.io.openebs:nope"}));
    // Nobody listening.
    uint16_t closed_port = 0;
    {
        auto l = Listener::listen_tcp("127.0.0.1", 0);
        ASSERT_TRUE(is_ok(l));
        closed_port = l->port();
    }
    EXPECT_TRUE(fails_with(create(*_host_rt, fmt::format("nvmf://127.0.0.1:{}/{}", closed_port, _nqn)),
                           ECONNREFUSED));
    // Bad URIs.
    EXPECT_TRUE(fails_with(create(*_host_rt, uri("?bogus=1")), EINVAL, {"bogus"}));
    EXPECT_TRUE(fails_with(create(*_host_rt, "nvmf:///" + _nqn), EINVAL));
    EXPECT_TRUE(fails_with(create(*_host_rt, fmt::format("nvmf://127.0.0.1:{}/", _port)), EINVAL));
    EXPECT_TRUE(fails_with(create(*_host_rt, uri("?io_queues=0")), EINVAL));
    EXPECT_TRUE(fails_with(create(*_host_rt, uri("?hdgst=maybe")), EINVAL));
    EXPECT_TRUE(nvmf_names().empty());
    EXPECT_TRUE(nvmf_host::list_controllers().empty());
}

TEST_F(NvmfHost, RefusedHost) {
    ASSERT_TRUE(is_ok(_target->set_allowed_hosts(_nqn, {"nqn.2019-05.io.openebs:host:someone-else"})));
    EXPECT_TRUE(fails_with(create(*_host_rt, uri("?hostnqn=nqn.2019-05.io.openebs:host:me")), EACCES));
    EXPECT_TRUE(nvmf_host::list_controllers().empty());
    auto dev = create(*_host_rt, uri("?hostnqn=nqn.2019-05.io.openebs:host:someone-else"));
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    auto data = random_bytes(4096, 3);
    ASSERT_TRUE(is_ok(write(*_host_rt, *d, 0, data)));
}

// I/O streams on two reactors; the target goes away: the streams end with EIO within the
// timeout, new I/O fails with EIO after the bounded reconnect, the controller is Faulted, and
// the device can still be destroyed.
// 64 KiB writes (R2T + H2CData: a command waits for data when the target goes) or reads, in a
// loop until one fails.
constexpr std::size_t kStreamSize = 64 * 1024;

Task<void> stream(Descriptor* d, uint64_t offset, bool writes, std::atomic<int>* ok_count,
                  std::atomic<int>* error_code) {
    auto buf = d->dma_malloc(kStreamSize);
    while (true) {
        Status st;
        if (writes) {
            st = co_await d->write_at(offset, *buf);
        } else {
            st = co_await d->read_at(offset, *buf);
        }
        if (!st) {
            error_code->store(st.error().code);
            co_return;
        }
        ++*ok_count;
        co_await yield();
    }
}

class NvmfHostGone : public NvmfHost, public ::testing::WithParamInterface<bool> {
   protected:
    void run_case(bool destroy_target) {
        auto dev = create(*_host_rt, uri("?timeout_ms=1000&reconnect_ms=300&kato_ms=500"));
        ASSERT_TRUE(is_ok(dev));
        std::string name = (*dev)->name();
        auto d = open_rw(*dev);
        std::atomic<int> ok0{0}, ok1{0}, err0{0}, err1{0};
        _host_rt->reactor(0).post([&] { _host_rt->reactor(0).spawn(stream(d.get(), 0, true, &ok0, &err0)); });
        _host_rt->reactor(1).post(
            [&] { _host_rt->reactor(1).spawn(stream(d.get(), 1 << 20, false, &ok1, &err1)); });
        auto until = std::chrono::steady_clock::now() + 5s;
        while ((ok0 < 20 || ok1 < 20) && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(5ms);
        }
        ASSERT_GE(ok0.load(), 20);
        ASSERT_GE(ok1.load(), 20);
        auto t0 = std::chrono::steady_clock::now();
        if (destroy_target) {
            _target.reset();
        } else {
            ASSERT_TRUE(is_ok(_target->remove_subsystem(_nqn)));
        }
        while ((err0 == 0 || err1 == 0) && std::chrono::steady_clock::now() < t0 + 10s) {
            std::this_thread::sleep_for(5ms);
        }
        auto took = std::chrono::steady_clock::now() - t0;
        EXPECT_EQ(err0.load(), EIO);
        EXPECT_EQ(err1.load(), EIO);
        EXPECT_LT(took, 3s);
        EXPECT_EQ(state_of(name), ControllerState::Faulted);
        // New I/O: a bounded reconnect attempt (reconnect_ms=300), then EIO.
        auto started = std::chrono::steady_clock::now();
        auto data = random_bytes(4096, 1);
        EXPECT_TRUE(fails_with(write(*_host_rt, *d, 0, data), EIO));
        EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
        EXPECT_EQ(state_of(name), ControllerState::Faulted);
    }
};

// I/O streams on two reactors; the target (or the subsystem) goes away: the streams end with
// EIO within the timeout, new I/O fails with EIO after the bounded reconnect, the controller is
// Faulted, and the device can still be destroyed (TearDown).
TEST_P(NvmfHostGone, OutstandingAndNewIoFailWithEio) {
    run_case(GetParam());
}

INSTANTIATE_TEST_SUITE_P(Gone, NvmfHostGone, ::testing::Values(false, true), [](const auto& info) {
    return std::string(info.param ? "TargetDestroyed" : "SubsystemRemoved");
});

// The target stops answering (its only reactor is blocked for 1.5 s): the outstanding command
// fails with EIO after timeout_ms, the controller is Faulted; once the target is back, the next
// I/O reconnects the I/O queue (within reconnect_ms), succeeds, and the controller is Running.
TEST_F(NvmfHost, CommandTimeoutThenReconnect) {
    auto dev = create(*_host_rt, uri("?timeout_ms=300&reconnect_ms=5000&kato_ms=0"));
    ASSERT_TRUE(is_ok(dev));
    std::string name = (*dev)->name();
    auto d = open_rw(*dev);
    auto data = random_bytes(8192, 11);
    ASSERT_TRUE(is_ok(write(*_host_rt, *d, 0, data)));
    std::atomic<bool> blocked{false};
    _target_rt->reactor(0).post([&] {
        blocked = true;
        std::this_thread::sleep_for(1500ms);
    });
    while (!blocked) {
        std::this_thread::sleep_for(1ms);
    }
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(fails_with(read(*_host_rt, *d, 0, 8192), EIO, {"timed out"}));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 1200ms);
    EXPECT_EQ(state_of(name), ControllerState::Faulted);
    // The next I/O reconnects (after the target wakes up) and sees the data.
    auto back = read(*_host_rt, *d, 0, 8192);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
    EXPECT_EQ(state_of(name), ControllerState::Running);
}

TEST_F(NvmfHost, AdminPassthrough) {
    auto dev = create(*_host_rt, uri());
    ASSERT_TRUE(is_ok(dev));
    std::vector<uint8_t> id(nvme::kIdentifySize);
    auto r = run_on(_host_rt->reactor(1), [&]() -> Task<Result<nvme::Cqe>> {
        nvme::Sqe sqe{};
        sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::Identify);
        sqe.cdw10 = nvme::cns::kController;
        co_return co_await nvmf_host::nvmf_admin_command(**dev, sqe, nvmf_host::DataDir::ToHost, id);
    });
    ASSERT_TRUE(is_ok(r));
    EXPECT_TRUE(nvme::Status::decode(r->status).ok());
    std::string subnqn(reinterpret_cast<const char*>(&id[nvme::idctrl::kSubnqn]));
    EXPECT_EQ(subnqn, _nqn);
    std::string model(reinterpret_cast<const char*>(&id[nvme::idctrl::kMn]), nvme::kModelNumber.size());
    EXPECT_EQ(model, nvme::kModelNumber);
    // The vendor snapshot command without a hook: Invalid Opcode from the target.
    auto snap = run_on(_host_rt->reactor(0), [&]() -> Task<Result<nvme::Cqe>> {
        nvme::Sqe sqe{};
        sqe.opcode = static_cast<uint8_t>(nvme::AdminOpc::VendorCreateSnapshot);
        sqe.cdw10 = 12345;
        std::span<uint8_t> none;
        co_return co_await nvmf_host::nvmf_admin_command(**dev, sqe, nvmf_host::DataDir::None, none);
    });
    ASSERT_TRUE(is_ok(snap));
    EXPECT_EQ(nvme::Status::decode(snap->status).sc, nvme::sc::kInvalidOpcode);
}

}  // namespace
}  // namespace ms::test
