// nexus_example: the README's example as a program. It creates a nexus mirrored over two
// children, opens it read-write, writes a 4 KiB block of 0xff at offset 0, reads it back into
// a zeroed buffer and checks every byte. A read is served by one child, round-robin, so it
// reads once per child (twice over); then, the nexus destroyed, it reads the file child with
// plain pread: the data is there, as plain blocks from offset 0.
//
//   nexus_example [CHILD_URI...]
//
// Without arguments it makes its own children: a malloc device and a sparse file in a new
// temporary directory ($TMPDIR or /tmp) reached through aio:///, removed at exit. The children
// must hold at least 64 MiB. Exit status: 0 the data read back is the data written; 1 anything
// failed (the message says what).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "mayastor/mayastor.h"

namespace {

constexpr uint64_t kNexusSize = 64ull << 20;
constexpr std::size_t kBlock = 4096;

// A new temporary directory with one sparse file of `size` bytes in it; removed with both.
class TempDisk {
   public:
    static std::optional<TempDisk> make(uint64_t size) {
        const char* tmp = std::getenv("TMPDIR");
        std::string dir =
            std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/ms-nexus-example-XXXXXX";
        if (::mkdtemp(dir.data()) == nullptr) {
            std::perror("nexus_example: mkdtemp");
            return std::nullopt;
        }
        TempDisk disk(dir);
        int fd = ::open(disk.path().c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) {
            std::perror(("nexus_example: " + disk.path()).c_str());
            if (fd >= 0) {
                ::close(fd);
            }
            return std::nullopt;
        }
        ::close(fd);
        return disk;
    }
    TempDisk(TempDisk&& o) noexcept : _dir(std::exchange(o._dir, {})) {}
    TempDisk(const TempDisk&) = delete;
    TempDisk& operator=(const TempDisk&) = delete;
    ~TempDisk() {
        if (!_dir.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(_dir, ec);
        }
    }
    std::string path() const { return _dir + "/disk1.img"; }

   private:
    explicit TempDisk(std::string dir) : _dir(std::move(dir)) {}
    std::string _dir;
};

int fail(const char* what, const ms::Error& e) {
    std::fprintf(stderr, "nexus_example: %s: %s\n", what, e.to_string().c_str());
    return 1;
}

bool all_bytes_are(std::span<const uint8_t> bytes, uint8_t value) {
    return std::all_of(bytes.begin(), bytes.end(), [value](uint8_t b) { return b == value; });
}

// The README's example, step by step.
ms::Task<int> example(std::vector<std::string> children) {
    // A nexus is known by its uuid: creating it again with the same one returns the same nexus.
    auto uuid = ms::Uuid::parse("0b6565df-af19-4645-9f98-e6a8b8c13b58");
    if (!uuid) {
        co_return fail("uuid", uuid.error());
    }
    const std::size_t reads = 2 * children.size();

    // Create the nexus over the child devices (each made from its URI).
    auto nexus = co_await ms::nexus_create("mynexus", kNexusSize, *uuid, std::move(children));
    if (!nexus) {
        co_return fail("nexus_create", nexus.error());
    }
    // Open a block descriptor: all I/O goes through one.
    auto bd = ms::Descriptor::open(*nexus, ms::OpenMode::ReadWrite);
    if (!bd) {
        co_return fail("Descriptor::open", bd.error());
    }
    // Only DMA buffers for I/O: aligned as the children need (O_DIRECT).
    auto buf = (*bd)->dma_malloc(kBlock);
    if (!buf) {
        co_return fail("dma_malloc", buf.error());
    }
    // Fill the buffer with a known value and write it: every child gets the same write.
    buf->fill(0xff);
    if (ms::Status s = co_await (*bd)->write_at(0, *buf); !s) {
        co_return fail("write_at", s.error());
    }
    // Fill the buffer with zeros, read the block back and check every byte of it.
    for (std::size_t i = 0; i < reads; ++i) {
        buf->fill(0x00);
        if (ms::Status s = co_await (*bd)->read_at(0, *buf); !s) {
            co_return fail("read_at", s.error());
        }
        if (!all_bytes_are(buf->span(), 0xff)) {
            std::fprintf(stderr, "nexus_example: read %zu did not return what was written\n", i + 1);
            co_return 1;
        }
    }
    bd->reset();
    if (ms::Status s = co_await ms::nexus_destroy(*uuid); !s) {
        co_return fail("nexus_destroy", s.error());
    }
    if (ms::nexus_lookup(*uuid)) {
        std::fprintf(stderr, "nexus_example: the nexus is still there after nexus_destroy\n");
        co_return 1;
    }
    std::printf("nexus_example: wrote 4 KiB of 0xff through the nexus, read it back %zu times: ok\n", reads);
    co_return 0;
}

// With the nexus gone, the file child holds the block at offset 0, readable without us.
bool file_holds_block(const std::string& path) {
    std::vector<uint8_t> block(kBlock, 0);
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) {
        std::perror(("nexus_example: " + path).c_str());
        return false;
    }
    ssize_t n = ::pread(fd, block.data(), block.size(), 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(block.size()) || !all_bytes_are(block, 0xff)) {
        std::fprintf(stderr, "nexus_example: %s does not hold the block written through the nexus\n",
                     path.c_str());
        return false;
    }
    std::printf("nexus_example: %s holds the block as plain data: ok\n", path.c_str());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> children(argv + 1, argv + argc);
    std::optional<TempDisk> disk;
    if (children.empty()) {
        auto made = TempDisk::make(kNexusSize);
        if (!made) {
            return 1;
        }
        disk.emplace(std::move(*made));
        children = {"malloc:///example_m0?size_mb=64", "aio://" + disk->path() + "?blk_size=512"};
    }

    auto env = ms::Environment::start({.cores = "", .log_level = "warn"});
    if (!env) {
        return fail("Environment::start", env.error());
    }
    int rc = env->run([&children] { return example(children); });
    env->stop();
    if (rc == 0 && disk && !file_holds_block(disk->path())) {
        rc = 1;
    }
    return rc;
}
