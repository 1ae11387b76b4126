// Helpers shared by the bdev unit tests: temporary files and loop devices, synchronous wrappers
// that run one device operation on a reactor from the test thread, and checks every device
// kind must pass (data round trips, request validation, read-only descriptors, zeroing,
// shutdown with I/O in flight).
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bdev/descriptor.h"
#include "bdev/device_factory.h"
#include "bdev/device_registry.h"
#include "core/dma_buf.h"
#include "core/runtime.h"

namespace ms::test {

// ---- results ----------------------------------------------------------------------------

template <typename T>
::testing::AssertionResult is_ok(const Result<T>& r) {
    if (r.has_value()) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "failed: " << r.error().to_string();
}

// The result is an error with errno `code` whose message mentions every word in `words`.
template <typename T>
::testing::AssertionResult fails_with(const Result<T>& r, int code, std::vector<std::string> words = {}) {
    if (r.has_value()) {
        return ::testing::AssertionFailure() << "succeeded, expected " << strerrorname_np(code);
    }
    if (r.error().code != code) {
        return ::testing::AssertionFailure() << "failed with " << strerrorname_np(r.error().code) << " ("
                                             << r.error().message << "), expected " << strerrorname_np(code);
    }
    for (const auto& w : words) {
        if (r.error().message.find(w) == std::string::npos) {
            return ::testing::AssertionFailure()
                   << "message '" << r.error().message << "' does not mention '" << w << "'";
        }
    }
    return ::testing::AssertionSuccess();
}

// Compares byte ranges and reports the first difference rather than dumping megabytes.
inline ::testing::AssertionResult same_bytes(std::span<const uint8_t> actual,
                                             std::span<const uint8_t> expected) {
    if (actual.size() != expected.size()) {
        return ::testing::AssertionFailure() << "size " << actual.size() << " != " << expected.size();
    }
    auto [a, e] = std::mismatch(actual.begin(), actual.end(), expected.begin());
    if (a == actual.end()) {
        return ::testing::AssertionSuccess();
    }
    std::size_t at = static_cast<std::size_t>(a - actual.begin());
    return ::testing::AssertionFailure()
           << "first difference at byte " << at << ": " << int{*a} << " != " << int{*e};
}

inline ::testing::AssertionResult all_zero(std::span<const uint8_t> bytes) {
    auto it = std::find_if(bytes.begin(), bytes.end(), [](uint8_t b) { return b != 0; });
    if (it == bytes.end()) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "non-zero byte " << int{*it} << " at " << (it - bytes.begin());
}

inline std::vector<uint8_t> random_bytes(std::size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint8_t> out(n);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = rng();
        std::memcpy(out.data() + i, &v, 8);
    }
    for (; i < n; ++i) {
        out[i] = static_cast<uint8_t>(rng());
    }
    return out;
}

// ---- a device made in code --------------------------------------------------------------

// Records what reaches it (requests the Descriptor let through, channels, shutdowns) and
// completes everything successfully without touching the buffers.
class FakeDevice final : public BlockDevice {
   public:
    struct Seen {
        IoType type;
        uint64_t offset_blocks;
        uint64_t num_blocks;
        std::size_t iovcnt;
        uint64_t bytes;
        unsigned reactor;
    };

    FakeDevice(std::string name, Geometry g, uint32_t supported_types = ~0u, Uuid uuid = Uuid::generate())
        : BlockDevice(std::move(name), "Fake disk", g, uuid), _supported(supported_types) {}

    bool io_type_supported(IoType t) const override {
        return (_supported & (1u << static_cast<unsigned>(t))) != 0;
    }
    Result<std::unique_ptr<IoChannel>> create_channel() override {
        ++channels_created;
        return std::make_unique<IoChannel>();
    }
    Task<Status> submit(IoChannel&, IoRequest req) override {
        uint64_t bytes = 0;
        for (const auto& v : req.iov) {
            bytes += v.iov_len;
        }
        {
            std::lock_guard g(_mutex);
            _seen.push_back({req.type, req.offset_blocks, req.num_blocks, req.iov.size(), bytes,
                             Reactor::current()->id()});
        }
        co_return ok();
    }
    Task<void> shutdown() override {
        ++shutdowns;
        co_return;
    }

    std::vector<Seen> seen() const {
        std::lock_guard g(_mutex);
        return _seen;
    }

    std::atomic<int> channels_created{0};
    std::atomic<int> shutdowns{0};

   private:
    uint32_t _supported;
    mutable std::mutex _mutex;
    std::vector<Seen> _seen;
};

// ---- files, directories, loop devices --------------------------------------------------------

// A fresh directory (mkdtemp) under `base`, removed with everything in it at the end.
class TempDir {
   public:
    explicit TempDir(const std::string& base = "/var/tmp") {
        std::string tmpl = base + "/ms-bdev-test-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp in " << base << ": " << std::strerror(errno);
            return;
        }
        _path = tmpl;
    }
    ~TempDir() {
        if (!_path.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(_path, ec);
        }
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return _path; }
    std::string file(const std::string& name) const { return _path + "/" + name; }

   private:
    std::string _path;
};

// A sparse regular file of `size` bytes (zeros).
inline void make_file(const std::string& path, uint64_t size) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr) << path << ": " << std::strerror(errno);
    int rc = ::ftruncate(::fileno(f), static_cast<off_t>(size));
    std::fclose(f);
    ASSERT_EQ(rc, 0) << path << ": " << std::strerror(errno);
}

inline bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// Bytes of a file (or block device) read directly with pread, bypassing the device under test.
inline std::vector<uint8_t> read_file(const std::string& path, uint64_t offset, std::size_t length) {
    std::vector<uint8_t> out(length);
    FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) {
        ADD_FAILURE() << path << ": " << std::strerror(errno);
        return {};
    }
    ssize_t n = ::pread(::fileno(f), out.data(), length, static_cast<off_t>(offset));
    std::fclose(f);
    EXPECT_EQ(n, static_cast<ssize_t>(length)) << path;
    return out;
}

inline std::string command_output(const std::string& cmd, int* status) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
        *status = -1;
        return out;
    }
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) {
        out += buf;
    }
    *status = ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
        out.pop_back();
    }
    return out;
}

// A loop device over a file (losetup --find --show), detached at the end.
class LoopDevice {
   public:
    // Empty path() with reason() set if no loop device could be made.
    explicit LoopDevice(const std::string& file, uint32_t sector_size = 0) {
        int status = 0;
        command_output("command -v losetup", &status);
        if (status != 0) {
            _reason = "losetup is not installed";
            return;
        }
        std::string cmd = "losetup --find --show";
        if (sector_size != 0) {
            cmd += " --sector-size " + std::to_string(sector_size);
        }
        cmd += " '" + file + "' 2>&1";
        std::string out = command_output(cmd, &status);
        if (status != 0 || !out.starts_with("/dev/")) {
            _reason = "losetup failed: " + out;
            return;
        }
        _path = out;
    }
    ~LoopDevice() {
        if (!_path.empty()) {
            int status = 0;
            std::string out = command_output("losetup -d " + _path + " 2>&1", &status);
            EXPECT_EQ(status, 0) << "losetup -d " << _path << ": " << out;
        }
    }
    LoopDevice(const LoopDevice&) = delete;
    LoopDevice& operator=(const LoopDevice&) = delete;

    const std::string& path() const { return _path; }
    const std::string& reason() const { return _reason; }

   private:
    std::string _path;
    std::string _reason;
};

// What a file-backed device (uring://, aio://) runs on.
enum class Backing { DiskFile, ShmFile, LoopDevice };

inline std::string to_string(Backing b) {
    switch (b) {
        case Backing::DiskFile:
            return "DiskFile";
        case Backing::ShmFile:
            return "ShmFile";
        case Backing::LoopDevice:
            return "LoopDevice";
    }
    return "?";
}

// A regular file of `size` bytes in a fresh directory (on the real disk or on /dev/shm), or a
// loop device over such a file on the disk. `skip_reason` is set if it cannot be made.
class FileTarget {
   public:
    FileTarget(Backing backing, uint64_t size, uint32_t loop_sector_size = 0)
        : _dir(backing == Backing::ShmFile ? "/dev/shm" : "/var/tmp") {
        _file = _dir.file("disk.img");
        make_file(_file, size);
        _path = _file;
        if (backing == Backing::LoopDevice) {
            _loop = std::make_unique<LoopDevice>(_file, loop_sector_size);
            if (_loop->path().empty()) {
                _skip_reason = _loop->reason();
            }
            _path = _loop->path();
        }
    }

    // The device path (the file, or the loop device).
    const std::string& path() const { return _path; }
    // The regular file holding the data (the loop device's backing file for loop devices).
    const std::string& file() const { return _file; }
    const std::string& skip_reason() const { return _skip_reason; }
    const TempDir& dir() const { return _dir; }
    std::string uri(const std::string& scheme, uint32_t block_size) const {
        return scheme + "://" + _path + "?blk_size=" + std::to_string(block_size);
    }

   private:
    TempDir _dir;
    std::string _file;
    std::string _path;
    std::unique_ptr<LoopDevice> _loop;
    std::string _skip_reason;
};

// ---- synchronous wrappers (test thread -> reactor) ------------------------------------------

// Two reactors, pinned to CPUs 0 and 1.
inline RuntimeOptions two_cores() {
    RuntimeOptions o;
    o.cpus = {0, 1};
    return o;
}

inline Result<std::shared_ptr<BlockDevice>> create(Runtime& rt, const std::string& uri) {
    return run_on(rt.reactor(0), [uri]() -> Task<Result<std::shared_ptr<BlockDevice>>> {
        co_return co_await create_device(uri);
    });
}

inline Status destroy(Runtime& rt, const std::string& uri) {
    return run_on(rt.reactor(0), [uri]() -> Task<Status> { co_return co_await destroy_device(uri); });
}

inline std::vector<std::string> registry_names() {
    std::vector<std::string> names;
    for (const auto& dev : DeviceRegistry::instance().list()) {
        names.push_back(dev->name());
    }
    return names;
}

// Separate aligned buffers holding `data` split into `pieces` iovecs at block boundaries (each
// piece a whole number of blocks, so O_DIRECT devices accept them).
struct IoBuffers {
    std::vector<DmaBuf> bufs;
    std::vector<iovec> iov;

    std::vector<uint8_t> gather() const {
        std::vector<uint8_t> out;
        for (const auto& b : bufs) {
            out.insert(out.end(), b.data(), b.data() + b.size());
        }
        return out;
    }
};

inline IoBuffers make_buffers(const Descriptor& d, std::size_t length, std::size_t pieces) {
    IoBuffers b;
    std::size_t bs = d.block_size();
    std::size_t blocks = length / bs;
    if (length % bs != 0 || blocks == 0 || pieces <= 1) {
        pieces = 1;
    }
    pieces = std::min(pieces, std::max<std::size_t>(blocks, 1));
    std::size_t done = 0;
    for (std::size_t i = 0; i < pieces; ++i) {
        std::size_t n = pieces == 1 ? length : (blocks / pieces + (i < blocks % pieces ? 1 : 0)) * bs;
        auto buf = d.dma_malloc(std::max<std::size_t>(n, 1));
        EXPECT_TRUE(is_ok(buf));
        b.bufs.push_back(std::move(*buf));
        b.iov.push_back({b.bufs.back().data(), n});
        done += n;
    }
    EXPECT_EQ(done, length);
    return b;
}

inline Status write(Runtime& rt, Descriptor& d, uint64_t offset, std::span<const uint8_t> data,
                    std::size_t pieces = 1, std::size_t reactor = 0) {
    IoBuffers b = make_buffers(d, data.size(), pieces);
    std::size_t at = 0;
    for (const auto& v : b.iov) {
        std::memcpy(v.iov_base, data.data() + at, v.iov_len);
        at += v.iov_len;
    }
    return run_on(rt.reactor(reactor), [&]() -> Task<Status> { co_return co_await d.writev(offset, b.iov); });
}

inline Result<std::vector<uint8_t>> read(Runtime& rt, Descriptor& d, uint64_t offset, std::size_t length,
                                         std::size_t pieces = 1, std::size_t reactor = 0) {
    IoBuffers b = make_buffers(d, length, pieces);
    Status s =
        run_on(rt.reactor(reactor), [&]() -> Task<Status> { co_return co_await d.readv(offset, b.iov); });
    if (!s) {
        return std::unexpected(s.error());
    }
    return b.gather();
}

inline Status writev_raw(Runtime& rt, Descriptor& d, uint64_t offset, std::vector<iovec> iov) {
    return run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d.writev(offset, iov); });
}

inline Status readv_raw(Runtime& rt, Descriptor& d, uint64_t offset, std::vector<iovec> iov) {
    return run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d.readv(offset, iov); });
}

inline Status submit(Runtime& rt, Descriptor& d, IoRequest req) {
    return run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d.submit(req); });
}

inline Status unmap(Runtime& rt, Descriptor& d, uint64_t offset, uint64_t length) {
    return run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d.unmap(offset, length); });
}

inline Status write_zeroes(Runtime& rt, Descriptor& d, uint64_t offset, uint64_t length) {
    return run_on(rt.reactor(0),
                  [&]() -> Task<Status> { co_return co_await d.write_zeroes(offset, length); });
}

inline Status flush(Runtime& rt, Descriptor& d) {
    return run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d.flush(); });
}

inline Status reset(Runtime& rt, Descriptor& d) {
    return run_on(rt.reactor(0), [&]() -> Task<Status> { co_return co_await d.reset(); });
}

inline std::unique_ptr<Descriptor> open_rw(const std::shared_ptr<BlockDevice>& dev) {
    auto d = Descriptor::open(dev, OpenMode::ReadWrite);
    EXPECT_TRUE(is_ok(d));
    return d ? std::move(*d) : nullptr;
}

// ---- checks every device kind must pass -------------------------------------------------

// Data written reads back: first and last block, single and several iovecs (read back with a
// different split, and more than IOV_MAX of them), random patterns, overwrites, and neighbours
// of a write left untouched. The device needs at least 2048 blocks.
inline void check_round_trips(Runtime& rt, Descriptor& d, uint64_t seed) {
    const uint64_t bs = d.block_size();
    const uint64_t n = d.size_bytes() / bs;
    ASSERT_GE(n, 2048u);
    struct Case {
        uint64_t block;
        uint64_t blocks;
        std::size_t write_pieces;
        std::size_t read_pieces;
    };
    const Case cases[] = {
        {0, 1, 1, 1},         // first block
        {n - 1, 1, 1, 1},     // last block
        {0, 8, 4, 1},         // first blocks, gathered write, one-buffer read
        {n - 8, 8, 3, 5},     // last blocks, different splits each way
        {17, 33, 7, 2},       // middle, odd sizes
        {n / 2, 32, 1, 32},   // one buffer out, one iovec per block back
        {n / 3, 256, 16, 3},  // a larger transfer
        // More buffers than one system call takes (IOV_MAX, 1024), each way.
        {16, 1500, 1500, 1025},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE("block " + std::to_string(c.block) + " x" + std::to_string(c.blocks) + " pieces " +
                     std::to_string(c.write_pieces) + "/" + std::to_string(c.read_pieces));
        auto data = random_bytes(c.blocks * bs, seed++);
        ASSERT_TRUE(is_ok(write(rt, d, c.block * bs, data, c.write_pieces)));
        auto back = read(rt, d, c.block * bs, data.size(), c.read_pieces);
        ASSERT_TRUE(is_ok(back));
        ASSERT_TRUE(same_bytes(*back, data));
    }

    // An overwrite replaces the data; the blocks either side keep theirs.
    SCOPED_TRACE("overwrite");
    uint64_t at = n / 4;
    auto around = random_bytes(3 * bs, seed++);
    ASSERT_TRUE(is_ok(write(rt, d, (at - 1) * bs, around)));
    auto middle = random_bytes(bs, seed++);
    ASSERT_TRUE(is_ok(write(rt, d, at * bs, middle)));
    auto back = read(rt, d, (at - 1) * bs, 3 * bs, 3);
    ASSERT_TRUE(is_ok(back));
    std::vector<uint8_t> expected = around;
    std::copy(middle.begin(), middle.end(), expected.begin() + static_cast<std::ptrdiff_t>(bs));
    ASSERT_TRUE(same_bytes(*back, expected));
    ASSERT_TRUE(is_ok(flush(rt, d)));
}

// Snapshot of a device region to prove that a rejected request changed nothing.
struct Canary {
    uint64_t offset;
    std::vector<uint8_t> data;
};

inline std::vector<Canary> plant_canaries(Runtime& rt, Descriptor& d, uint64_t seed) {
    const uint64_t bs = d.block_size();
    const uint64_t n = d.size_bytes() / bs;
    std::vector<Canary> out;
    for (uint64_t block : {uint64_t{0}, n - 4}) {
        Canary c{block * bs, random_bytes(4 * bs, seed++)};
        EXPECT_TRUE(is_ok(write(rt, d, c.offset, c.data)));
        out.push_back(std::move(c));
    }
    return out;
}

inline void check_canaries(Runtime& rt, Descriptor& d, const std::vector<Canary>& canaries) {
    for (const auto& c : canaries) {
        auto back = read(rt, d, c.offset, c.data.size());
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, c.data)) << "at offset " << c.offset;
    }
}

// Bad requests fail with EINVAL or ERANGE and change nothing.
inline void check_rejects_bad_io(Runtime& rt, Descriptor& d) {
    const uint64_t bs = d.block_size();
    const uint64_t size = d.size_bytes();
    const uint64_t n = size / bs;
    auto canaries = plant_canaries(rt, d, 99);
    auto junk = random_bytes(4 * bs, 7);
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

    // Not on a block boundary.
    EXPECT_TRUE(fails_with(write(rt, d, 1, std::span(junk).first(bs)), EINVAL));
    EXPECT_TRUE(fails_with(write(rt, d, bs / 2, std::span(junk).first(bs)), EINVAL));
    EXPECT_TRUE(fails_with(write(rt, d, 0, std::span(junk).first(bs / 2)), EINVAL));
    EXPECT_TRUE(fails_with(write(rt, d, 0, std::span(junk).first(bs + 1)), EINVAL));
    EXPECT_TRUE(fails_with(write(rt, d, size - bs + 1, std::span(junk).first(bs - 1)), EINVAL));
    EXPECT_TRUE(fails_with(read(rt, d, 3, bs), EINVAL));
    EXPECT_TRUE(fails_with(read(rt, d, 0, bs - 1), EINVAL));
    EXPECT_TRUE(fails_with(unmap(rt, d, 1, bs), EINVAL));
    EXPECT_TRUE(fails_with(unmap(rt, d, 0, bs + 7), EINVAL));
    EXPECT_TRUE(fails_with(write_zeroes(rt, d, bs / 2, bs), EINVAL));
    EXPECT_TRUE(fails_with(write_zeroes(rt, d, 0, 1), EINVAL));

    // Zero length.
    EXPECT_TRUE(fails_with(writev_raw(rt, d, 0, {}), EINVAL));
    EXPECT_TRUE(fails_with(writev_raw(rt, d, 0, {iovec{junk.data(), 0}}), EINVAL));
    EXPECT_TRUE(fails_with(readv_raw(rt, d, 0, {}), EINVAL));
    EXPECT_TRUE(fails_with(unmap(rt, d, 0, 0), EINVAL));
    EXPECT_TRUE(fails_with(write_zeroes(rt, d, bs, 0), EINVAL));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Write, 0, 0, {}}), EINVAL));

    // Past the end, and ranges that overflow 64 bits.
    EXPECT_TRUE(fails_with(write(rt, d, size, std::span(junk).first(bs)), ERANGE));
    EXPECT_TRUE(fails_with(write(rt, d, size - bs, std::span(junk).first(2 * bs)), ERANGE));
    EXPECT_TRUE(fails_with(write(rt, d, size + 4096 * bs, std::span(junk).first(bs)), ERANGE));
    EXPECT_TRUE(fails_with(read(rt, d, size - bs, 2 * bs), ERANGE));
    EXPECT_TRUE(fails_with(read(rt, d, size, bs), ERANGE));
    EXPECT_TRUE(fails_with(unmap(rt, d, size - bs, 2 * bs), ERANGE));
    EXPECT_TRUE(fails_with(write_zeroes(rt, d, 0, size + bs), ERANGE));
    const uint64_t top = kMax - 4095;  // a multiple of 4096 (and of 512)
    EXPECT_TRUE(fails_with(write(rt, d, top, std::span(junk).first(bs)), ERANGE));
    EXPECT_TRUE(fails_with(write(rt, d, top - bs, std::span(junk).first(2 * bs)), ERANGE));
    EXPECT_TRUE(fails_with(read(rt, d, top, bs), ERANGE));
    EXPECT_TRUE(fails_with(unmap(rt, d, bs, top), ERANGE));
    EXPECT_TRUE(fails_with(write_zeroes(rt, d, top, top), ERANGE));
    EXPECT_TRUE(fails_with(unmap(rt, d, top, 2 * bs), ERANGE));
    iovec one{junk.data(), bs};
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Write, kMax, 1, {&one, 1}}), ERANGE));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Write, kMax - 1, 2, {&one, 1}}), ERANGE));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Unmap, 1, kMax, {}}), ERANGE));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::WriteZeroes, n, 1, {}}), ERANGE));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Read, n - 1, 2, {&one, 1}}), ERANGE));

    // The buffers do not hold what the request says.
    IoBuffers two = make_buffers(d, 2 * bs, 2);
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Write, 0, 1, two.iov}), EINVAL));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Write, 0, 3, two.iov}), EINVAL));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Read, 0, 1, two.iov}), EINVAL));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Write, 0, 1, {}}), EINVAL));
    // Lengths that add up to one block only modulo 2^64.
    std::vector<iovec> wraps = {iovec{two.bufs[0].data(), SIZE_MAX - bs + 1},
                                iovec{two.bufs[1].data(), 2 * bs}};
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Write, 0, 1, wraps}), EINVAL));
    EXPECT_TRUE(fails_with(submit(rt, d, IoRequest{IoType::Read, 0, 1, wraps}), EINVAL));
    EXPECT_TRUE(fails_with(writev_raw(rt, d, 0, wraps), EINVAL));
    EXPECT_TRUE(fails_with(readv_raw(rt, d, 0, wraps), EINVAL));

    // Buffers not aligned as an O_DIRECT device needs.
    if (uint32_t align = d.device().geometry().buf_align; align > 1) {
        auto big = d.dma_malloc(4 * bs);
        ASSERT_TRUE(is_ok(big));
        std::memcpy(big->data(), junk.data(), 4 * bs);
        for (std::size_t shift : {std::size_t{1}, std::size_t{8}, std::size_t{align / 2}}) {
            SCOPED_TRACE("buffer shifted by " + std::to_string(shift));
            iovec v{big->data() + shift, bs};
            EXPECT_TRUE(fails_with(writev_raw(rt, d, 0, {v}), EINVAL, {"align"}));
            EXPECT_TRUE(fails_with(readv_raw(rt, d, 0, {v}), EINVAL, {"align"}));
        }
        // Aligned start, but a segment length that is not a multiple of the alignment.
        std::vector<iovec> odd = {iovec{big->data(), align / 2},
                                  iovec{big->data() + align, 2 * bs - align / 2}};
        EXPECT_TRUE(fails_with(writev_raw(rt, d, 0, odd), EINVAL, {"align"}));
        EXPECT_TRUE(fails_with(readv_raw(rt, d, 0, odd), EINVAL, {"align"}));
    }

    ASSERT_NO_FATAL_FAILURE(check_canaries(rt, d, canaries));
}

// A read-only descriptor reads and flushes, and every kind of write fails with EBADF and
// changes nothing.
inline void check_read_only(Runtime& rt, Descriptor& rw) {
    auto canaries = plant_canaries(rt, rw, 1234);
    auto ro_r = Descriptor::open(rw.device_ptr(), OpenMode::ReadOnly);
    ASSERT_TRUE(is_ok(ro_r));
    Descriptor& ro = **ro_r;
    EXPECT_EQ(ro.mode(), OpenMode::ReadOnly);
    const uint64_t bs = ro.block_size();
    auto junk = random_bytes(4 * bs, 55);
    for (const auto& c : canaries) {
        EXPECT_TRUE(fails_with(write(rt, ro, c.offset, junk), EBADF));
        EXPECT_TRUE(fails_with(write(rt, ro, c.offset, junk, 4), EBADF));
        EXPECT_TRUE(fails_with(unmap(rt, ro, c.offset, 4 * bs), EBADF));
        EXPECT_TRUE(fails_with(write_zeroes(rt, ro, c.offset, 4 * bs), EBADF));
        auto back = read(rt, ro, c.offset, c.data.size(), 2);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, c.data));
    }
    iovec v{junk.data(), bs};
    EXPECT_TRUE(fails_with(submit(rt, ro, IoRequest{IoType::Write, 0, 1, {&v, 1}}), EBADF));
    EXPECT_TRUE(is_ok(flush(rt, ro)));
    ASSERT_NO_FATAL_FAILURE(check_canaries(rt, rw, canaries));
}

// unmap and write_zeroes leave zeros in exactly the range given.
inline void check_zeroing(Runtime& rt, Descriptor& d) {
    const uint64_t bs = d.block_size();
    const uint64_t n = d.size_bytes() / bs;
    struct Case {
        bool unmap;
        uint64_t block;
        uint64_t blocks;
    };
    // Odd ranges (not whole file-system blocks) as well as large ones, at both ends.
    const Case cases[] = {{true, 3, 1},     {false, 5, 2},     {true, 9, 17},
                          {false, 40, 300}, {true, 0, 1},      {false, 0, 1},
                          {true, n - 1, 1}, {false, n - 3, 3}, {true, n - 600, 300}};
    uint64_t seed = 4321;
    for (const Case& c : cases) {
        SCOPED_TRACE(std::string(c.unmap ? "unmap" : "write_zeroes") + " block " + std::to_string(c.block) +
                     " x" + std::to_string(c.blocks));
        // Data around the range: one block before and after where the device has them.
        uint64_t first = c.block == 0 ? 0 : c.block - 1;
        uint64_t last = std::min(n, c.block + c.blocks + 1);
        auto data = random_bytes((last - first) * bs, seed++);
        ASSERT_TRUE(is_ok(write(rt, d, first * bs, data, 3)));
        Status s = c.unmap ? unmap(rt, d, c.block * bs, c.blocks * bs)
                           : write_zeroes(rt, d, c.block * bs, c.blocks * bs);
        ASSERT_TRUE(is_ok(s));
        std::fill_n(data.begin() + static_cast<std::ptrdiff_t>((c.block - first) * bs), c.blocks * bs, 0);
        auto back = read(rt, d, first * bs, data.size(), 2);
        ASSERT_TRUE(is_ok(back));
        ASSERT_TRUE(same_bytes(*back, data));
    }
    ASSERT_TRUE(is_ok(flush(rt, d)));
}

// ---- checks for file-backed devices (uring://, aio://) -------------------------------------

// Geometry, name and product of a device made on `t`.
inline void check_file_geometry(Runtime& rt, const std::string& scheme, const FileTarget& t, uint32_t bs,
                                uint64_t size, const std::string& product) {
    std::string uri = t.uri(scheme, bs);
    auto dev = create(rt, uri);
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->name(), t.path());
    EXPECT_EQ((*dev)->product(), product);
    EXPECT_EQ((*dev)->block_size(), bs);
    EXPECT_EQ((*dev)->num_blocks(), size / bs);
    // O_DIRECT on the disk and on loop devices: buffers must be sector-aligned. tmpfs has
    // O_DIRECT only since Linux 6.6; without it the file is used buffered (no alignment).
    if (t.path().starts_with("/dev/shm/")) {
        EXPECT_TRUE((*dev)->geometry().buf_align == 512u || (*dev)->geometry().buf_align == 1u);
    } else {
        EXPECT_EQ((*dev)->geometry().buf_align, 512u);
    }
    EXPECT_NE((*dev)->uri().find("uuid=" + (*dev)->uuid().to_string()), std::string::npos) << (*dev)->uri();
    EXPECT_EQ(DeviceRegistry::instance().lookup(t.path()), *dev);
    for (unsigned i = 0; i < kIoTypeCount; ++i) {
        EXPECT_TRUE((*dev)->io_type_supported(static_cast<IoType>(i)));
    }
    auto d = open_rw(*dev);
    EXPECT_EQ(d->dma_malloc(bs)->alignment() % 512, 0u);
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, uri)));
    EXPECT_EQ(DeviceRegistry::instance().lookup(t.path()), nullptr);
}

// Runs `body(descriptor)` on a device made from `uri`, then destroys it.
template <typename F>
void with_device(Runtime& rt, const std::string& uri, F body) {
    auto dev = create(rt, uri);
    ASSERT_TRUE(is_ok(dev)) << uri;
    auto d = open_rw(*dev);
    ASSERT_TRUE(d);
    body(*d);
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, uri)));
}

// Data written and flushed is in the file, and a device made again on the same file (with
// the same uuid= given) reads it back.
inline void check_persists(Runtime& rt, const std::string& scheme, const FileTarget& t, uint32_t bs) {
    std::string uri = t.uri(scheme, bs);
    const uint64_t size = std::filesystem::file_size(t.file());
    const uint64_t n = size / bs;
    struct Piece {
        uint64_t offset;
        std::vector<uint8_t> data;
    };
    std::vector<Piece> pieces = {{0, random_bytes(bs, 11)},
                                 {(n - 1) * bs, random_bytes(bs, 12)},
                                 {(n / 2) * bs, random_bytes(24 * bs, 13)}};
    std::string uuid;
    {
        auto dev = create(rt, uri);
        ASSERT_TRUE(is_ok(dev));
        uuid = (*dev)->uuid().to_string();
        auto d = open_rw(*dev);
        for (const auto& p : pieces) {
            ASSERT_TRUE(is_ok(write(rt, *d, p.offset, p.data, 3)));
        }
        ASSERT_TRUE(is_ok(flush(rt, *d)));
        d.reset();
        dev->reset();
        ASSERT_TRUE(is_ok(destroy(rt, uri)));
    }
    for (const auto& p : pieces) {
        EXPECT_TRUE(same_bytes(read_file(t.file(), p.offset, p.data.size()), p.data))
            << "file offset " << p.offset;
    }
    std::string again = uri + "&uuid=" + uuid;
    auto dev = create(rt, again);
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->uuid().to_string(), uuid);
    auto d = open_rw(*dev);
    for (const auto& p : pieces) {
        auto back = read(rt, *d, p.offset, p.data.size(), 2);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, p.data)) << "offset " << p.offset;
    }
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, again)));
}

// Bad file-device URIs fail with a clear error, register nothing and create no file.
inline void check_file_uri_errors(Runtime& rt, const std::string& scheme) {
    TempDir dir;
    const auto before = registry_names();
    auto expect_fails = [&](const std::string& uri, int code, std::vector<std::string> words) {
        SCOPED_TRACE(uri);
        EXPECT_TRUE(fails_with(create(rt, uri), code, std::move(words)));
        EXPECT_EQ(registry_names(), before);
    };
    const std::string missing = dir.file("missing.img");
    expect_fails(scheme + "://" + missing, ENOENT, {missing});
    EXPECT_FALSE(file_exists(missing)) << "opening a missing file created it";
    expect_fails(scheme + "://" + dir.path(), EINVAL, {dir.path(), "is a directory"});
    expect_fails(scheme + ":///dev/null", EINVAL, {"/dev/null", "neither a regular file nor a block device"});

    const std::string empty = dir.file("empty.img");
    make_file(empty, 0);
    expect_fails(scheme + "://" + empty, EINVAL, {empty, "smaller than one"});
    const std::string tiny = dir.file("tiny.img");
    make_file(tiny, 511);
    expect_fails(scheme + "://" + tiny, EINVAL, {tiny, "smaller than one"});
    const std::string small = dir.file("small.img");
    make_file(small, 4095);
    expect_fails(scheme + "://" + small + "?blk_size=4096", EINVAL, {"smaller than one 4096-byte block"});

    const std::string good = dir.file("good.img");
    make_file(good, 1 << 20);
    expect_fails(scheme + "://" + good + "?blk_size=1000", EINVAL, {"blk_size", "1000"});
    expect_fails(scheme + "://" + good + "?blk_size=0", EINVAL, {"blk_size"});
    expect_fails(scheme + "://" + good + "?blk_size=four", EINVAL, {"blk_size", "four"});
    expect_fails(scheme + "://" + good + "?blk_size=", EINVAL, {"blk_size"});
    expect_fails(scheme + "://" + good + "?blk_size=512&blk_size=4096", EINVAL,
                 {"blk_size", "more than once"});
    expect_fails(scheme + "://" + good + "?size_mb=1", EINVAL, {"unknown parameter", "size_mb"});
    expect_fails(scheme + "://" + good + "?blk_size=512&colour=red", EINVAL, {"unknown parameter", "colour"});
    expect_fails(scheme + "://" + good + "?uuid=not-a-uuid", EINVAL, {"uuid", "not-a-uuid"});
    expect_fails(scheme + "://" + good + "?uuid=0b5a7c3e-1d2f-4a6b-8c9d-0e1f2a3b4c5z", EINVAL, {"uuid"});
    expect_fails(scheme + "://somehost" + good, EINVAL, {"host"});
    expect_fails(scheme + "://somehost:1234" + good, EINVAL, {"host"});
    expect_fails(scheme + "://", EINVAL, {"names no file"});
    expect_fails(scheme + ":///", EINVAL, {"names no file"});
    // The good file is usable, so none of the failures above was about the file itself.
    auto dev = create(rt, scheme + "://" + good);
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->num_blocks(), (1u << 20) / 512);
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, scheme + "://" + good)));
    EXPECT_EQ(registry_names(), before);
}

// A file cut short behind the device's back: reads of the missing part fail with EIO (the
// short-transfer path), never succeed with whatever the buffer held.
inline void check_shrunk_file_reads_fail(Runtime& rt, const std::string& scheme) {
    TempDir dir;
    std::string file = dir.file("shrink.img");
    make_file(file, 1 << 20);
    with_device(rt, scheme + "://" + file + "?blk_size=4096", [&](Descriptor& d) {
        ASSERT_EQ(d.device().num_blocks(), 256u);
        auto data = random_bytes(8 * 4096, 1);
        ASSERT_TRUE(is_ok(write(rt, d, 248 * 4096, data)));
        ASSERT_TRUE(is_ok(flush(rt, d)));
        ASSERT_EQ(::truncate(file.c_str(), 252 * 4096), 0);
        // Half there: the first transfer is short and the rest finds the end of the file.
        EXPECT_TRUE(fails_with(read(rt, d, 248 * 4096, 8 * 4096), EIO, {"ended after 16384 of 32768 bytes"}));
        EXPECT_TRUE(
            fails_with(read(rt, d, 248 * 4096, 8 * 4096, 3), EIO, {"ended after 16384 of 32768 bytes"}));
        EXPECT_TRUE(fails_with(read(rt, d, 254 * 4096, 4096), EIO, {"ended after 0 of 4096 bytes"}));
        // What is still in the file reads back.
        auto back = read(rt, d, 248 * 4096, 4 * 4096);
        ASSERT_TRUE(is_ok(back));
        EXPECT_TRUE(same_bytes(*back, std::span(data).first(4 * 4096)));
    });
}

// A loop device with 4096-byte logical blocks: blk_size must be at least that.
inline void check_loop_sector_size(Runtime& rt, const std::string& scheme) {
    FileTarget t(Backing::LoopDevice, 8 << 20, 4096);
    if (!t.skip_reason().empty()) {
        GTEST_SKIP() << t.skip_reason();
    }
    const auto before = registry_names();
    EXPECT_TRUE(
        fails_with(create(rt, t.uri(scheme, 512)), EINVAL, {"blk_size=512", "4096-byte logical blocks"}));
    EXPECT_TRUE(fails_with(create(rt, scheme + "://" + t.path()), EINVAL, {"logical"}));
    EXPECT_EQ(registry_names(), before);
    auto dev = create(rt, t.uri(scheme, 4096));
    ASSERT_TRUE(is_ok(dev));
    EXPECT_EQ((*dev)->geometry().buf_align, 4096u);
    EXPECT_EQ((*dev)->num_blocks(), (8u << 20) / 4096);
    auto d = open_rw(*dev);
    ASSERT_NO_FATAL_FAILURE(check_round_trips(rt, *d, 77));
    // 512-byte aligned buffers are not enough for this device.
    auto buf = DmaBuf::allocate(2 * 4096 + 512, 512);
    ASSERT_TRUE(is_ok(buf));
    uint8_t* p = buf->data();
    if (reinterpret_cast<uintptr_t>(p) % 4096 == 0) {
        p += 512;
    }
    EXPECT_TRUE(fails_with(writev_raw(rt, *d, 0, {iovec{p, 4096}}), EINVAL, {"align"}));
    d.reset();
    dev->reset();
    EXPECT_TRUE(is_ok(destroy(rt, t.uri(scheme, 4096))));
}

// Concurrent requests that count their completions.
namespace detail {
struct InflightState {
    std::atomic<int> started{0};
    std::atomic<int> completed{0};
    std::atomic<int> succeeded{0};
    std::vector<std::atomic<int>> completions;
    explicit InflightState(std::size_t n) : completions(n) {}
};

inline Task<void> one_request(Descriptor* d, DmaBuf* buf, uint64_t offset, bool write, std::size_t index,
                              InflightState* state) {
    state->started.fetch_add(1);
    Status s;
    if (write) {
        s = co_await d->write_at(offset, *buf);
    } else {
        s = co_await d->read_at(offset, *buf);
    }
    state->completions[index].fetch_add(1);
    if (s) {
        state->succeeded.fetch_add(1);
    }
    state->completed.fetch_add(1);
}
}  // namespace detail

// `count` writes to distinct blocks all in flight at once, then `count` reads of them at
// once; every read returns its block's data.
inline void check_many_concurrent(Runtime& rt, Descriptor& d, std::size_t count) {
    const uint64_t bs = d.block_size();
    ASSERT_GE(d.size_bytes() / bs, count);
    std::vector<DmaBuf> bufs;
    std::vector<std::vector<uint8_t>> patterns;
    for (std::size_t i = 0; i < count; ++i) {
        auto b = d.dma_malloc(bs);
        ASSERT_TRUE(is_ok(b));
        patterns.push_back(random_bytes(bs, 5000 + i));
        std::memcpy(b->data(), patterns.back().data(), bs);
        bufs.push_back(std::move(*b));
    }
    for (bool writing : {true, false}) {
        SCOPED_TRACE(writing ? "writes" : "reads");
        if (!writing) {
            for (auto& b : bufs) {
                b.fill(0);
            }
        }
        detail::InflightState state(count);
        run_on(rt.reactor(0), [&]() -> Task<void> {
            for (std::size_t i = 0; i < count; ++i) {
                // Reverse order, so the device sees no sequential stream.
                std::size_t block = count - 1 - i;
                Reactor::current()->spawn(
                    detail::one_request(&d, &bufs[block], block * bs, writing, block, &state));
            }
            while (state.completed.load() < static_cast<int>(count)) {
                co_await sleep_for(std::chrono::microseconds(200));
            }
        });
        EXPECT_EQ(state.succeeded.load(), static_cast<int>(count));
        for (std::size_t i = 0; i < count; ++i) {
            EXPECT_EQ(state.completions[i].load(), 1) << "request " << i;
        }
    }
    for (std::size_t i = 0; i < count; ++i) {
        ASSERT_TRUE(same_bytes(bufs[i].span(), patterns[i])) << "block " << i;
    }
}

// Starts `count` concurrent reads and writes (every request on its own block) with
// reactor.spawn, stops the runtime at once, and checks that every request completed exactly
// once, successfully, and that the runtime joined. Then checks the written data with a new
// runtime and destroys the device.
inline void check_stop_with_io_in_flight(const std::string& uri, std::size_t count, bool wait_for_start) {
    SCOPED_TRACE(uri + (wait_for_start ? " (stop once all started)" : " (stop at once)"));
    detail::InflightState state(count);
    std::vector<DmaBuf> bufs;
    std::vector<std::vector<uint8_t>> patterns;
    std::shared_ptr<BlockDevice> dev;
    std::unique_ptr<Descriptor> d;
    {
        Runtime rt({});
        auto made = create(rt, uri);
        ASSERT_TRUE(is_ok(made));
        dev = *made;
        d = open_rw(dev);
        ASSERT_TRUE(d);
        const uint64_t bs = d->block_size();
        ASSERT_GE(dev->num_blocks(), count);
        for (std::size_t i = 0; i < count; ++i) {
            auto b = d->dma_malloc(bs);
            ASSERT_TRUE(is_ok(b));
            patterns.push_back(random_bytes(bs, 1000 + i));
            std::memcpy(b->data(), patterns.back().data(), bs);
            bufs.push_back(std::move(*b));
        }
        Reactor& r = rt.reactor(0);
        Descriptor* dp = d.get();
        r.post([&r, dp, &bufs, &state, count, bs] {
            for (std::size_t i = 0; i < count; ++i) {
                // Even requests write their block, odd ones read theirs.
                r.spawn(detail::one_request(dp, &bufs[i], i * bs, i % 2 == 0, i, &state));
            }
        });
        if (wait_for_start) {
            while (state.started.load() < static_cast<int>(count)) {
                std::this_thread::yield();
            }
        }
        int done_before_stop = state.completed.load();
        rt.stop();
        ::testing::Test::RecordProperty(
            "completed_before_stop_" + std::string(wait_for_start ? "after_start" : "at_once"),
            done_before_stop);
        EXPECT_EQ(state.started.load(), static_cast<int>(count));
        EXPECT_EQ(state.completed.load(), state.started.load());
        EXPECT_EQ(state.succeeded.load(), static_cast<int>(count));
        for (std::size_t i = 0; i < count; ++i) {
            EXPECT_EQ(state.completions[i].load(), 1) << "request " << i;
        }
    }
    // The writes reached the device.
    Runtime rt({});
    const uint64_t bs = d->block_size();
    auto back = read(rt, *d, 0, count * bs);
    ASSERT_TRUE(is_ok(back));
    for (std::size_t i = 0; i < count; i += 2) {
        ASSERT_TRUE(same_bytes(std::span(*back).subspan(i * bs, bs), patterns[i])) << "block " << i;
    }
    d.reset();
    dev.reset();
    EXPECT_TRUE(is_ok(destroy(rt, uri)));
}

}  // namespace ms::test
