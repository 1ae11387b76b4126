// nbd:// devices against qemu-storage-daemon's NBD export of a file (a second server we did not
// write, with its own block-size advertisement): geometry, data checked in the image file
// itself, write zeroes and trim, an unknown export, several reactors at once.
#include <gtest/gtest.h>

#include <thread>

#include "bdev/all_devices.h"
#include "nbd_test_util.h"

namespace ms::test {
namespace {

constexpr uint64_t kImageSize = 64ull << 20;

class Qsd : public ::testing::Test {
   protected:
    void SetUp() override {
        if (!have_program("qemu-storage-daemon")) {
            GTEST_SKIP() << "qemu-storage-daemon is not installed (scripts/install-deps.sh)";
        }
        register_all_device_factories();
        _image = _dir.file("disk.img");
        make_file(_image, kImageSize);
        RuntimeOptions o;
        o.cpus = {0, 1, 0};
        _rt = std::make_unique<Runtime>(o);
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

    // The image as export "disk0" on a TCP port (or a Unix socket).
    void start(bool unix_socket = false) {
        std::string addr;
        if (unix_socket) {
            _ep.socket_path = _dir.file("qsd.sock");
            addr = "addr.type=unix,addr.path=" + _ep.socket_path;
        } else {
            _ep.port = free_tcp_port();
            addr = "addr.type=inet,addr.host=127.0.0.1,addr.port=" + std::to_string(_ep.port);
        }
        ASSERT_TRUE(
            _server.start({"qemu-storage-daemon", "--blockdev",
                           "driver=file,node-name=n0,filename=" + _image + ",discard=unmap", "--nbd-server",
                           addr, "--export", "type=nbd,id=e0,node-name=n0,name=disk0,writable=on"},
                          _ep));
    }

    TempDir _dir;
    std::string _image;
    Endpoint _ep;
    ServerProcess _server;
    std::unique_ptr<Runtime> _rt;
};

TEST_F(Qsd, GeometryAndDataInTheImageFile) {
    start();
    auto dev = create(*_rt, _ep.uri("disk0"));
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->name(), "nbd:127.0.0.1:" + std::to_string(_ep.port) + "/disk0");
    EXPECT_EQ((*dev)->block_size(), 512u);  // QEMU's minimum is 1 (or 512): at least 512
    EXPECT_EQ((*dev)->num_blocks(), kImageSize / 512);
    auto info = nbd_host::nbd_export_info(**dev);
    ASSERT_TRUE(info);
    EXPECT_GT(info->preferred_block, 0u);
    EXPECT_GT(info->max_block, 0u);
    EXPECT_TRUE(info->can_flush);
    EXPECT_TRUE(info->can_zero);
    auto d = open_rw(*dev);
    struct Case {
        uint64_t offset;
        std::size_t length;
        std::size_t pieces;
    };
    const Case cases[] = {{0, 4096, 1},
                          {4096 * 5 + 512, 8192, 2},
                          {1 << 20, 1 << 20, 1},
                          {(3 << 20) + 512, 300 * 1024, 5},
                          {(8 << 20), 1 << 20, 20},
                          {kImageSize - 4096, 4096, 1}};
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> written;
    uint64_t seed = 40;
    for (const Case& c : cases) {
        SCOPED_TRACE(fmt::format("offset {} length {}", c.offset, c.length));
        auto data = random_bytes(c.length, seed++);
        ASSERT_TRUE(is_ok(write(*_rt, *d, c.offset, data, c.pieces, seed % 3)));
        auto back = read(*_rt, *d, c.offset, c.length, 1, (seed + 1) % 3);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, data));
        written.emplace_back(c.offset, std::move(data));
    }
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    // The bytes are in the file QEMU serves, at the same offsets.
    for (const auto& [offset, data] : written) {
        EXPECT_TRUE(same_bytes(read_file(_image, offset, data.size()), data)) << "offset " << offset;
    }
}

TEST_F(Qsd, WriteZeroesAndTrim) {
    start(true);
    auto dev = create(*_rt, _ep.uri("disk0"));
    ASSERT_TRUE(is_ok(dev));
    EXPECT_TRUE((*dev)->io_type_supported(IoType::WriteZeroes));
    auto d = open_rw(*dev);
    auto data = random_bytes(1 << 20, 9);
    ASSERT_TRUE(is_ok(write(*_rt, *d, 0, data)));
    ASSERT_TRUE(is_ok(write_zeroes(*_rt, *d, 128 * 1024, 64 * 1024 + 512)));
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    auto expected = data;
    std::fill(expected.begin() + 128 * 1024, expected.begin() + 192 * 1024 + 512, 0);
    auto back = read(*_rt, *d, 0, data.size());
    ASSERT_TRUE(is_ok(back));
    EXPECT_TRUE(same_bytes(*back, expected));
    EXPECT_TRUE(same_bytes(read_file(_image, 0, data.size()), expected));
    // Trim succeeds; what a trimmed range reads is up to the server (NBD), so only the rest is
    // checked.
    if ((*dev)->io_type_supported(IoType::Unmap)) {
        ASSERT_TRUE(is_ok(unmap(*_rt, *d, 512 * 1024, 256 * 1024)));
        back = read(*_rt, *d, 0, 512 * 1024);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, std::span(expected).first(512 * 1024)));
    }
}

TEST_F(Qsd, UnknownExportIsRefused) {
    start();
    auto before = registry_names();
    auto dev = create(*_rt, _ep.uri("nope"));
    ASSERT_FALSE(dev.has_value());
    EXPECT_EQ(dev.error().code, ENOENT) << dev.error().to_string();
    EXPECT_NE(dev.error().message.find("nope"), std::string::npos) << dev.error().message;
    EXPECT_EQ(registry_names(), before);
}

// Three reactors write their own ranges with many commands in flight; the file holds them all.
TEST_F(Qsd, SeveralReactorsAtOnce) {
    start(true);
    auto dev = create(*_rt, _ep.uri("disk0"));
    ASSERT_TRUE(is_ok(dev));
    auto d = open_rw(*dev);
    constexpr std::size_t kPer = 48;
    constexpr std::size_t kSize = 32 * 1024;
    std::vector<std::vector<DmaBuf>> bufs(_rt->size());
    for (std::size_t r = 0; r < _rt->size(); ++r) {
        for (std::size_t i = 0; i < kPer; ++i) {
            auto b = d->dma_malloc(kSize);
            ASSERT_TRUE(is_ok(b));
            auto bytes = random_bytes(kSize, 7000 + r * 100 + i);
            std::memcpy(b->data(), bytes.data(), kSize);
            bufs[r].push_back(std::move(*b));
        }
    }
    std::vector<Batch> batches(_rt->size());
    std::vector<std::thread> threads;
    for (std::size_t r = 0; r < _rt->size(); ++r) {
        threads.emplace_back([&, r] { run_batch(*_rt, r, *d, r * kPer * kSize, bufs[r], true, batches[r]); });
    }
    for (auto& t : threads) {
        t.join();
    }
    ASSERT_TRUE(is_ok(flush(*_rt, *d)));
    for (std::size_t r = 0; r < _rt->size(); ++r) {
        EXPECT_EQ(batches[r].failures.load(), 0) << batches[r].first_error;
        auto file = read_file(_image, r * kPer * kSize, kPer * kSize);
        for (std::size_t i = 0; i < kPer; ++i) {
            EXPECT_TRUE(same_bytes(std::span(file).subspan(i * kSize, kSize), bufs[r][i].span()))
                << "reactor " << r << " buffer " << i;
        }
    }
}

}  // namespace
}  // namespace ms::test
