// nbd:// devices against nbdkit's memory plugin (a server we did not write), run as a child
// process on a Unix socket or a 127.0.0.1 port: geometry, data written reads back (through us
// and through nbdcopy), flush/trim/write zeroes, many commands from several reactors, large
// transfers split to the server's maximum, read-only exports, flushes reaching every
// connection without multi-conn, and the failure rules (server killed, server stopped).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "bdev/all_devices.h"
#include "core/async.h"
#include "nbd_test_util.h"

namespace ms::test {
namespace {

using namespace std::chrono_literals;

RuntimeOptions four_reactors() {
    RuntimeOptions o;
    o.cpus = {0, 1, 0, 1};
    return o;
}

class Nbdkit : public ::testing::Test {
   protected:
    void SetUp() override {
        if (!have_program("nbdkit")) {
            GTEST_SKIP() << "nbdkit is not installed (scripts/install-deps.sh)";
        }
        register_all_device_factories();
        _ep.socket_path = _dir.file("nbd.sock");
        _rt = std::make_unique<Runtime>(four_reactors());
    }

    void TearDown() override {
        if (_rt) {
            for (const auto& name : registry_names()) {
                if (name.starts_with("nbd")) {
                    EXPECT_TRUE(is_ok(destroy(*_rt, name))) << name;
                }
            }
            _rt.reset();
        }
        _server.kill_now();
    }

    void start(std::vector<std::string> filters = {}, std::vector<std::string> extra = {},
               bool read_only = false, const std::string& size = "64M") {
        ASSERT_TRUE(_server.start(nbdkit_memory(_ep, size, filters, extra, read_only), _ep));
    }

    std::shared_ptr<BlockDevice> make(const std::string& params = "") {
        auto dev = create(*_rt, _ep.uri("", params));
        EXPECT_TRUE(is_ok(dev)) << _ep.uri("", params);
        return dev ? *dev : nullptr;
    }

    TempDir _dir;
    Endpoint _ep;
    ServerProcess _server;
    std::unique_ptr<Runtime> _rt;
};

TEST_F(Nbdkit, GeometryNameAndFlags) {
    start();
    auto dev = make();
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->name(), "nbd+unix:[" + _ep.socket_path + "]/");
    EXPECT_EQ(dev->product(), "NBD disk");
    EXPECT_EQ(dev->block_size(), 512u);  // nbdkit memory sends no NBD_INFO_BLOCK_SIZE
    EXPECT_EQ(dev->num_blocks(), (64u << 20) / 512);
    EXPECT_NE(dev->uri().find("uuid=" + dev->uuid().to_string()), std::string::npos) << dev->uri();
    for (unsigned i = 0; i < kIoTypeCount; ++i) {
        EXPECT_TRUE(dev->io_type_supported(static_cast<IoType>(i))) << to_string(static_cast<IoType>(i));
    }
    EXPECT_TRUE(nbd_host::is_nbd_device(*dev));
    auto info = nbd_host::nbd_export_info(*dev);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->size, 64u << 20);
    EXPECT_TRUE(info->can_flush && info->can_trim && info->can_zero && info->can_multi_conn && info->can_fua);
    EXPECT_FALSE(info->read_only);
    EXPECT_TRUE(info->structured_replies);
    // The same export again: the name is taken, whatever the parameters.
    EXPECT_TRUE(fails_with(create(*_rt, _ep.uri("", "timeout_ms=100")), EEXIST));
    ASSERT_TRUE(is_ok(destroy(*_rt, dev->name())));
    dev.reset();
    // blk_size= and uuid= as given.
    dev = make("blk_size=4096&uuid=0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->block_size(), 4096u);
    EXPECT_EQ(dev->num_blocks(), (64u << 20) / 4096);
    EXPECT_EQ(dev->uuid().to_string(), "0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5d");
    ASSERT_TRUE(is_ok(destroy(*_rt, _ep.uri())));  // destroy by URI finds it too
    dev.reset();
    // An export that is not a whole number of blocks: the tail is left out.
    _server.kill_now();
    start({}, {}, false, "1049088");  // 1 MiB + 1 KiB
    dev = make("blk_size=4096");
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->num_blocks(), 256u);
}

// The server's NBD_INFO_BLOCK_SIZE sets the default block size; blk_size= may not go below it.
TEST_F(Nbdkit, BlockSizeFromTheServer) {
    start({"blocksize-policy"}, {"blocksize-minimum=4096", "blocksize-preferred=4096",
                                 "blocksize-maximum=65536", "blocksize-error-policy=error"});
    auto dev = make();
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->block_size(), 4096u);
    auto info = nbd_host::nbd_export_info(*dev);
    EXPECT_EQ(info->min_block, 4096u);
    EXPECT_EQ(info->preferred_block, 4096u);
    EXPECT_EQ(info->max_block, 65536u);
    ASSERT_TRUE(is_ok(destroy(*_rt, dev->name())));
    dev.reset();
    EXPECT_TRUE(fails_with(create(*_rt, _ep.uri("", "blk_size=512")), EINVAL, {"blk_size=512", "4096"}));
    dev = make("blk_size=8192");
    ASSERT_TRUE(dev);
    EXPECT_EQ(dev->block_size(), 8192u);
}

// Data round trips at many offsets and sizes (4 KiB .. 1 MiB, not multiples of anything but
// the block), one and several iovecs; read back through us and through nbdcopy.
TEST_F(Nbdkit, WriteReadPatterns) {
    start();
    auto dev = make();
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    struct Case {
        uint64_t offset;
        std::size_t length;
        std::size_t write_pieces;
        std::size_t read_pieces;
    };
    const Case cases[] = {
        {0, 4096, 1, 1},
        {512 * 13, 512, 1, 1},
        {8192 + 512, 12288, 3, 2},
        {(1 << 20) + 1536, 65536 + 512, 1, 5},
        {3 << 20, 300 * 1024, 7, 1},
        {(5 << 20) - 512, 1 << 20, 1, 1},
        {9 << 20, 1 << 20, 16, 3},
        {(64 << 20) - 4096, 4096, 2, 8},  // the last blocks
    };
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> written;
    uint64_t seed = 1;
    for (const Case& c : cases) {
        SCOPED_TRACE(fmt::format("offset {} length {} pieces {}/{}", c.offset, c.length, c.write_pieces,
                                 c.read_pieces));
        auto data = random_bytes(c.length, seed++);
        ASSERT_TRUE(is_ok(write(*_rt, *d, c.offset, data, c.write_pieces, seed % 4)));
        auto back = read(*_rt, *d, c.offset, c.length, c.read_pieces, (seed + 1) % 4);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, data));
        written.emplace_back(c.offset, std::move(data));
    }
    // What a third-party client reads is what we wrote.
    auto all = bytes_via_nbdcopy(_ep.uri(), 0, 64 << 20);
    ASSERT_EQ(all.size(), 64u << 20);
    for (const auto& [offset, data] : written) {
        EXPECT_TRUE(same_bytes(std::span(all).subspan(offset, data.size()), data)) << "offset " << offset;
    }
    // The shared checks every device passes (first/last block, 1500 iovecs each way, ...).
    ASSERT_NO_FATAL_FAILURE(check_round_trips(*_rt, *d, 100));
    // Past the end: refused before the wire.
    EXPECT_TRUE(fails_with(read(*_rt, *d, 64 << 20, 4096), ERANGE));
}

// A server whose maximum payload is 64 KiB and that fails larger requests: 1 MiB transfers
// (one buffer, several, a bounce buffer) are split and succeed.
TEST_F(Nbdkit, LargeTransfersAreSplitToTheServersMaximum) {
    start({"blocksize-policy"}, {"blocksize-maximum=65536", "blocksize-error-policy=error"});
    auto dev = make();
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    uint64_t seed = 7;
    for (std::size_t pieces : {1, 4, 40}) {
        SCOPED_TRACE(pieces);
        auto data = random_bytes(1 << 20, seed++);
        uint64_t offset = (pieces << 20) + 512;
        ASSERT_TRUE(is_ok(write(*_rt, *d, offset, data, pieces)));
        auto back = read(*_rt, *d, offset, data.size(), pieces == 1 ? 3 : 1);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, data));
    }
}

TEST_F(Nbdkit, FlushTrimWriteZeroes) {
    start();
    auto dev = make();
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    auto data = random_bytes(1 << 20, 5);
    const uint64_t base = 2 << 20;
    ASSERT_TRUE(is_ok(write(*_rt, *d, base, data)));
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    // Zeroes over 256 KiB + 512 in the middle, a trim over the last 256 KiB.
    ASSERT_TRUE(is_ok(write_zeroes(*_rt, *d, base + 256 * 1024, 256 * 1024 + 512)));
    ASSERT_TRUE(is_ok(unmap(*_rt, *d, base + 768 * 1024, 256 * 1024)));
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    auto expected = data;
    std::fill(expected.begin() + 256 * 1024, expected.begin() + 512 * 1024 + 512, 0);
    std::fill(expected.begin() + 768 * 1024, expected.end(), 0);  // nbdkit memory reads zeros after trim
    auto back = read(*_rt, *d, base, data.size(), 3);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, expected));
    EXPECT_TRUE(same_bytes(bytes_via_nbdcopy(_ep.uri(), base, data.size()), expected));
    // Reset reconnects this reactor's connection; I/O goes on.
    ASSERT_TRUE(is_ok(reset(*_rt, *d)));
    back = read(*_rt, *d, base, 4096);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, std::span(expected).first(4096)));
}

// Four reactors (each its own connection), 64 writes in flight on each, to their own ranges;
// every range read back from another reactor and by nbdcopy.
TEST_F(Nbdkit, ManyCommandsInFlightOnSeveralReactors) {
    start();
    auto dev = make();
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    constexpr std::size_t kPerReactor = 64;
    constexpr std::size_t kSize = 16 * 1024;
    const std::size_t reactors = _rt->size();
    std::vector<std::vector<DmaBuf>> bufs(reactors);
    for (std::size_t r = 0; r < reactors; ++r) {
        for (std::size_t i = 0; i < kPerReactor; ++i) {
            auto b = d->dma_malloc(kSize);
            ASSERT_TRUE(is_ok(b));
            auto bytes = random_bytes(kSize, r * 1000 + i);
            std::memcpy(b->data(), bytes.data(), kSize);
            bufs[r].push_back(std::move(*b));
        }
    }
    std::vector<Batch> batches(reactors);
    std::vector<std::thread> threads;
    for (std::size_t r = 0; r < reactors; ++r) {
        threads.emplace_back(
            [&, r] { run_batch(*_rt, r, *d, r * kPerReactor * kSize, bufs[r], true, batches[r]); });
    }
    for (auto& t : threads) {
        t.join();
    }
    auto all = bytes_via_nbdcopy(_ep.uri(), 0, reactors * kPerReactor * kSize);
    for (std::size_t r = 0; r < reactors; ++r) {
        EXPECT_EQ(batches[r].failures.load(), 0) << batches[r].first_error;
        auto back = read(*_rt, *d, r * kPerReactor * kSize, kPerReactor * kSize, 1, (r + 1) % reactors);
        ASSERT_TRUE(is_ok(back));
        for (std::size_t i = 0; i < kPerReactor; ++i) {
            auto want = bufs[r][i].span();
            EXPECT_TRUE(same_bytes(std::span<const uint8_t>(*back).subspan(i * kSize, kSize), want))
                << "reactor " << r << " buffer " << i;
            EXPECT_TRUE(same_bytes(std::span(all).subspan((r * kPerReactor + i) * kSize, kSize), want))
                << "nbdcopy: reactor " << r << " buffer " << i;
        }
    }
    EXPECT_EQ(dev->stats().num_write_ops, reactors * kPerReactor);
}

TEST_F(Nbdkit, ReadOnlyExport) {
    start({}, {}, true);
    auto dev = make();
    ASSERT_TRUE(dev);
    EXPECT_TRUE(nbd_host::nbd_export_info(*dev)->read_only);
    EXPECT_FALSE(dev->io_type_supported(IoType::Unmap));
    EXPECT_FALSE(dev->io_type_supported(IoType::WriteZeroes));
    auto d = open_rw(dev);
    auto data = random_bytes(4096, 1);
    EXPECT_TRUE(fails_with(write(*_rt, *d, 0, data), EROFS, {"read-only"}));
    EXPECT_TRUE(fails_with(unmap(*_rt, *d, 0, 4096), ENOTSUP));
    auto back = read(*_rt, *d, 0, 4096);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(all_zero(*back));
    EXPECT_TRUE(is_ok(flush(*_rt, *d)));
}

// The server answers a write with an error (nbdkit's error filter, ENOSPC while a trigger
// file exists): that command fails with the server's errno, the connection stays up.
TEST_F(Nbdkit, ServerErrorFailsTheCommandNotTheConnection) {
    std::string trigger = _dir.file("fail-writes");
    std::string log = _dir.file("nbdkit.log");
    start({"log", "error"}, {"error-pwrite=ENOSPC", "error-pwrite-rate=100%", "error-pwrite-file=" + trigger,
                             "logfile=" + log});
    auto dev = make();
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    auto data = random_bytes(8192, 21);
    ASSERT_TRUE(is_ok(write(*_rt, *d, 0, data)));
    make_file(trigger, 0);
    EXPECT_TRUE(fails_with(write(*_rt, *d, 8192, data), ENOSPC, {"the server answered"}));
    auto back = read(*_rt, *d, 0, 8192);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
    ::unlink(trigger.c_str());
    ASSERT_TRUE(is_ok(write(*_rt, *d, 8192, data)));
    // One connection for all of it (plus creation's probe): nothing reconnected.
    std::ifstream in(log);
    std::string line;
    int connects = 0;
    while (std::getline(in, line)) {
        connects += line.find(" Connect export=") != std::string::npos ? 1 : 0;
    }
    EXPECT_EQ(connects, 2);
}

// nbdkit's log filter lines "connection=N Flush ..." for a log file.
std::map<int, int> flushes_by_connection(const std::string& log) {
    std::ifstream in(log);
    std::map<int, int> out;
    std::string line;
    while (std::getline(in, line)) {
        auto c = line.find("connection=");
        if (c == std::string::npos || line.find(" Flush id=") == std::string::npos) {
            continue;
        }
        out[std::stoi(line.substr(c + 11))]++;
    }
    return out;
}

int total(const std::map<int, int>& m) {
    int n = 0;
    for (const auto& [k, v] : m) {
        n += v;
    }
    return n;
}

// Without multi-conn, a flush goes to every connection that completed writes since its last
// flush, and only to those.
TEST_F(Nbdkit, FlushReachesEveryConnectionThatWroteWithoutMultiConn) {
    std::string log = _dir.file("nbdkit.log");
    start({"log", "multi-conn"}, {"multi-conn-mode=disable", "logfile=" + log});
    auto dev = make();
    ASSERT_TRUE(dev);
    EXPECT_FALSE(nbd_host::nbd_export_info(*dev)->can_multi_conn);
    auto d = open_rw(dev);
    auto data = random_bytes(8192, 3);
    ASSERT_TRUE(is_ok(write(*_rt, *d, 0, data, 1, 1)));
    ASSERT_TRUE(is_ok(write(*_rt, *d, 8192, data, 1, 2)));
    ASSERT_TRUE(is_ok(read(*_rt, *d, 0, 4096, 1, 0)));  // reactor 0 connects, no write
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));                // on reactor 0
    auto f = flushes_by_connection(log);
    EXPECT_EQ(f.size(), 2u) << "flushes on connections of reactors 1 and 2";
    EXPECT_EQ(total(f), 2);
    // Nothing written since: no command at all.
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    EXPECT_EQ(total(flushes_by_connection(log)), 2);
    // Only reactor 2 writes: one flush, on its connection.
    ASSERT_TRUE(is_ok(write(*_rt, *d, 16384, data, 1, 2)));
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    auto g = flushes_by_connection(log);
    EXPECT_EQ(total(g), 3);
    EXPECT_EQ(g.size(), 2u);
}

// With multi-conn, a flush goes to the calling reactor's connection only.
TEST_F(Nbdkit, FlushOnOneConnectionWithMultiConn) {
    std::string log = _dir.file("nbdkit.log");
    start({"log"}, {"logfile=" + log});
    auto dev = make();
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    auto data = random_bytes(8192, 3);
    ASSERT_TRUE(is_ok(write(*_rt, *d, 0, data, 1, 1)));
    ASSERT_TRUE(is_ok(write(*_rt, *d, 8192, data, 1, 2)));
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    EXPECT_EQ(total(flushes_by_connection(log)), 1);
}

// Streams of writes (8 in flight per reactor) on two reactors; the server is killed (SIGKILL):
// every stream ends with EIO at once, new I/O fails with EIO after the bounded reconnect; a
// server started again is reached by the next I/O.
constexpr std::size_t kStreamSize = 64 * 1024;

struct Stream {
    std::atomic<int> ok{0};
    std::atomic<int> error{0};
    std::atomic<int> running{0};
};

Task<void> stream_worker(Descriptor* d, uint64_t offset, Stream* s) {
    auto buf = d->dma_malloc(kStreamSize);
    buf->fill(0x5a);
    while (true) {
        Status st = co_await d->write_at(offset, *buf);
        if (!st) {
            s->error.store(st.error().code);
            break;
        }
        ++s->ok;
    }
    --s->running;
}

void start_streams(Runtime& rt, std::size_t reactor, Descriptor& d, uint64_t base, Stream& s, int workers) {
    s.running = workers;
    rt.reactor(reactor).post([&rt, reactor, &d, base, &s, workers] {
        for (int i = 0; i < workers; ++i) {
            rt.reactor(reactor).spawn(stream_worker(&d, base + i * kStreamSize, &s));
        }
    });
}

class NbdkitGone : public Nbdkit, public ::testing::WithParamInterface<bool> {};

TEST_P(NbdkitGone, ServerKilledWithWritesInFlight) {
    const bool tcp = GetParam();
    if (tcp) {
        _ep.socket_path.clear();
        _ep.port = free_tcp_port();
    }
    start();
    auto dev = make("timeout_ms=2000&reconnect_ms=300");
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    Stream s0, s1;
    start_streams(*_rt, 0, *d, 0, s0, 8);
    start_streams(*_rt, 1, *d, 8 << 20, s1, 8);
    auto until = std::chrono::steady_clock::now() + 10s;
    while ((s0.ok < 50 || s1.ok < 50) && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(1ms);
    }
    ASSERT_GE(s0.ok.load(), 50);
    ASSERT_GE(s1.ok.load(), 50);
    auto t0 = std::chrono::steady_clock::now();
    _server.kill_now();  // SIGKILL by PID
    while ((s0.running > 0 || s1.running > 0) && std::chrono::steady_clock::now() < t0 + 10s) {
        std::this_thread::sleep_for(1ms);
    }
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(s0.error.load(), EIO);
    EXPECT_EQ(s1.error.load(), EIO);
    EXPECT_LT(took, 2s) << "outstanding writes must fail at once, not after a timeout";
    RecordProperty("eio_after_kill_ms",
                   static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
    // New I/O: a bounded reconnect attempt (reconnect_ms=300), then EIO.
    auto data = random_bytes(4096, 1);
    auto t1 = std::chrono::steady_clock::now();
    EXPECT_TRUE(fails_with(write(*_rt, *d, 0, data), EIO, {"cannot connect"}));
    auto reconnect_took = std::chrono::steady_clock::now() - t1;
    EXPECT_GE(reconnect_took, 250ms);
    EXPECT_LT(reconnect_took, 2s);
    // The server again (an empty memory disk): the next I/O reconnects.
    start();
    ASSERT_TRUE(is_ok(write(*_rt, *d, 4096, data, 1, 0)));
    ASSERT_TRUE(is_ok(write(*_rt, *d, 8192, data, 1, 1)));
    auto back = read(*_rt, *d, 4096, 4096, 1, 1);
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
    EXPECT_TRUE(is_ok(flush(*_rt, *d)));
}

INSTANTIATE_TEST_SUITE_P(Transport, NbdkitGone, ::testing::Values(false, true),
                         [](const auto& info) { return std::string(info.param ? "Tcp" : "Unix"); });

// The server stops answering (SIGSTOP): the outstanding command fails with EIO after
// timeout_ms; once the server runs again, the next I/O reconnects and sees the data.
TEST_F(Nbdkit, CommandTimeoutThenReconnect) {
    start();
    auto dev = make("timeout_ms=300&reconnect_ms=3000");
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    auto data = random_bytes(8192, 11);
    ASSERT_TRUE(is_ok(write(*_rt, *d, 0, data)));
    _server.pause();
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(fails_with(read(*_rt, *d, 0, 8192), EIO, {"timed out"}));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 290ms);
    EXPECT_LT(took, 1s);
    std::thread wake([&] {
        std::this_thread::sleep_for(500ms);
        _server.signal(SIGCONT);
    });
    // The reconnect waits for the server (its connects time out at 300 ms, then retry).
    auto back = read(*_rt, *d, 0, 8192);
    wake.join();
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, data));
}

// The device is destroyed while its connections are idle on several reactors: all closed,
// the server sees clean disconnects (nbdkit logs them), the reactors stop.
TEST_F(Nbdkit, DestroyClosesEveryConnection) {
    std::string log = _dir.file("nbdkit.log");
    start({"log"}, {"logfile=" + log});
    auto dev = make();
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    for (std::size_t r = 0; r < _rt->size(); ++r) {
        ASSERT_TRUE(is_ok(read(*_rt, *d, 0, 4096, 1, r)));
    }
    d.reset();
    std::string name = dev->name();
    dev.reset();
    ASSERT_TRUE(is_ok(destroy(*_rt, name)));
    auto disconnects = [&] {
        std::ifstream in(log);
        std::string line;
        int n = 0;
        while (std::getline(in, line)) {
            n += line.find(" Disconnect ") != std::string::npos ? 1 : 0;
        }
        return n;
    };
    // Creation's probe plus one per reactor.
    auto until = std::chrono::steady_clock::now() + 5s;
    while (disconnects() < 5 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(disconnects(), 5);
}

// The server stalls (SIGSTOP) with reads outstanding on two reactors and the device is
// destroyed: destroy closes the connections, every outstanding read completes (EIO) at once,
// nothing waits for the timeout.
TEST_F(Nbdkit, DestroyWithCommandsOutstanding) {
    start();
    auto dev = make("timeout_ms=30000");
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    for (std::size_t r = 0; r < 2; ++r) {
        ASSERT_TRUE(is_ok(read(*_rt, *d, 0, 4096, 1, r)));  // connect both reactors first
    }
    _server.pause();
    std::vector<std::vector<DmaBuf>> bufs(2);
    for (auto& v : bufs) {
        for (int i = 0; i < 16; ++i) {
            v.push_back(std::move(*d->dma_malloc(4096)));
        }
    }
    std::vector<Batch> batches(2);
    std::vector<std::thread> readers;
    for (std::size_t r = 0; r < 2; ++r) {
        readers.emplace_back([&, r] { run_batch(*_rt, r, *d, r << 20, bufs[r], false, batches[r]); });
    }
    std::this_thread::sleep_for(100ms);  // the reads are on the wire (the server is stopped)
    auto t0 = std::chrono::steady_clock::now();
    std::string name = dev->name();
    ASSERT_TRUE(is_ok(run_on(_rt->reactor(0), [&]() -> Task<Status> {
        co_await dev->shutdown();  // what destroy does once the last descriptor is closed
        co_return ok();
    })));
    for (auto& t : readers) {
        t.join();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    EXPECT_EQ(batches[0].failures.load(), 16) << batches[0].first_error;
    EXPECT_EQ(batches[1].failures.load(), 16) << batches[1].first_error;
    EXPECT_NE(batches[0].first_error.find("destroyed"), std::string::npos) << batches[0].first_error;
    _server.signal(SIGCONT);
    d.reset();
    dev.reset();
    ASSERT_TRUE(is_ok(destroy(*_rt, name)));
}

// connections=2: a third reactor gets no channel (EIO naming the device).
TEST_F(Nbdkit, ConnectionsLimit) {
    start();
    auto dev = make("connections=2");
    ASSERT_TRUE(dev);
    auto d = open_rw(dev);
    ASSERT_TRUE(is_ok(read(*_rt, *d, 0, 4096, 1, 0)));
    ASSERT_TRUE(is_ok(read(*_rt, *d, 0, 4096, 1, 1)));
    EXPECT_TRUE(fails_with(read(*_rt, *d, 0, 4096, 1, 2), EIO, {"channel"}));
}

}  // namespace
}  // namespace ms::test
