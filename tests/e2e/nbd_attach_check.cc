// nbd_attach_check: the kernel NBD attach (src/target/nbd/kernel_nbd.cc) against the real
// driver, run INSIDE the vm-run.sh guest (tests/e2e/nbd_kernel_attach.sh). It is its own NBD
// server: the far ends of a few socketpairs are served by threads over an in-memory store
// (transmission phase only: READ, WRITE, FLUSH, TRIM, DISC), so that the netlink code is checked
// without the real server.
//
// Checks: the driver is found (loading it with modprobe if needed); attach over two sockets
// gives /dev/nbdN with the size and block size asked for; O_DIRECT reads return what the store
// holds, O_DIRECT writes land in the store and read back, fdatasync arrives as FLUSH, BLKDISCARD
// as TRIM; a second attach takes another device; bad requests are refused (EINVAL from us, the
// driver's error for a non-socket fd); detach sends DISC and closes the sockets, the device's
// size drops to 0; detaching again, or a device that does not exist, is OK.
//
// Prints "CHECK PASS: ..." per step and "nbd_attach_check: PASS" at the end (exit 0); the first
// failure prints "CHECK FAIL: ..." and exits 1. Without the driver (the host): exit 77 after
// checking that attach says ENODEV and names the missing driver.
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/nbd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "target/nbd/kernel_nbd.h"

namespace {

constexpr uint32_t kRequestMagic = 0x25609513;
constexpr uint32_t kReplyMagic = 0x67446698;
constexpr size_t kRequestSize = 28;
constexpr uint64_t kMiB = 1024 * 1024;

[[noreturn]] void fail(const std::string& what) {
    std::printf("CHECK FAIL: %s\n", what.c_str());
    std::fflush(stdout);
    std::_Exit(1);
}

void pass(const std::string& what) {
    std::printf("CHECK PASS: %s\n", what.c_str());
    std::fflush(stdout);
}

uint32_t get_be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint64_t get_be64(const uint8_t* p) {
    return (uint64_t{get_be32(p)} << 32) | get_be32(p + 4);
}

void put_be32(uint8_t* p, uint32_t v) {
    p[0] = static_cast<uint8_t>(v >> 24);
    p[1] = static_cast<uint8_t>(v >> 16);
    p[2] = static_cast<uint8_t>(v >> 8);
    p[3] = static_cast<uint8_t>(v);
}

// The byte at `offset` of pattern `seed`: distinct per offset and per seed.
uint8_t pattern(uint64_t seed, uint64_t offset) {
    uint64_t x = (offset / 8) * 0x9E3779B97F4A7C15ULL + seed * 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 31;
    return static_cast<uint8_t>(x >> ((offset % 8) * 8));
}

// The export: a byte array and what the kernel asked of it.
struct Store {
    explicit Store(uint64_t size) : data(size, 0) {}
    std::mutex mutex;
    std::vector<uint8_t> data;
    std::atomic<uint64_t> reads{0}, writes{0}, flushes{0}, trims{0}, fua_writes{0}, discs{0};
};

bool read_exact(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t r = ::recv(fd, p, n, MSG_WAITALL);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

bool write_all(int fd, iovec* iov, int count) {
    while (count > 0) {
        ssize_t w = ::writev(fd, iov, count);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return false;
        }
        auto left = static_cast<size_t>(w);
        while (count > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + left;
            iov->iov_len -= left;
        }
    }
    return true;
}

// One connection's transmission phase, until DISC or the kernel closes the socket.
void serve(int fd, Store& store, std::atomic<int>& served_requests) {
    std::vector<uint8_t> payload;
    for (;;) {
        uint8_t req[kRequestSize];
        if (!read_exact(fd, req, sizeof(req))) {
            break;
        }
        if (get_be32(req) != kRequestMagic) {
            std::printf("fixture: bad request magic %08x\n", get_be32(req));
            break;
        }
        uint32_t type = get_be32(req + 4);
        uint16_t cmd = static_cast<uint16_t>(type & 0xffff);
        uint64_t from = get_be64(req + 16);
        uint32_t len = get_be32(req + 24);
        uint32_t error = 0;
        bool in_range = from <= store.data.size() && len <= store.data.size() - from;
        payload.clear();
        if (cmd == NBD_CMD_DISC) {
            store.discs++;
            break;
        }
        if (cmd == NBD_CMD_WRITE) {
            payload.resize(len);
            if (!read_exact(fd, payload.data(), len)) {
                break;
            }
            if (!in_range) {
                error = EINVAL;
            } else {
                std::lock_guard lock(store.mutex);
                std::memcpy(store.data.data() + from, payload.data(), len);
            }
            store.writes++;
            if ((type & NBD_CMD_FLAG_FUA) != 0) {
                store.fua_writes++;
            }
            payload.clear();
        } else if (cmd == NBD_CMD_READ) {
            if (!in_range) {
                error = EINVAL;
            } else {
                payload.resize(len);
                std::lock_guard lock(store.mutex);
                std::memcpy(payload.data(), store.data.data() + from, len);
            }
            store.reads++;
        } else if (cmd == NBD_CMD_FLUSH) {
            store.flushes++;
        } else if (cmd == NBD_CMD_TRIM) {
            if (!in_range) {
                error = EINVAL;
            } else {
                std::lock_guard lock(store.mutex);
                std::memset(store.data.data() + from, 0, len);
            }
            store.trims++;
        } else {
            error = EINVAL;
        }
        uint8_t reply[16];
        put_be32(reply, kReplyMagic);
        put_be32(reply + 4, error);
        std::memcpy(reply + 8, req + 8, 8);  // the handle, opaque
        iovec iov[2] = {{reply, sizeof(reply)}, {payload.data(), payload.size()}};
        if (!write_all(fd, iov, payload.empty() ? 1 : 2)) {
            break;
        }
        served_requests++;
    }
    ::close(fd);
}

// A store served over `connections` socketpairs; kernel_fds are the ends for the driver.
struct Fixture {
    Fixture(uint64_t size, int connections) : store(size) {
        std::vector<int> server_fds;
        for (int i = 0; i < connections; ++i) {
            int sv[2];
            if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                fail(std::string("socketpair: ") + std::strerror(errno));
            }
            kernel_fds.push_back(sv[0]);
            server_fds.push_back(sv[1]);
            served.push_back(std::make_unique<std::atomic<int>>(0));
        }
        for (int i = 0; i < connections; ++i) {
            threads.emplace_back([this, fd = server_fds[i], counter = served[i].get()] {
                serve(fd, store, *counter);
                stopped++;
            });
        }
    }
    ~Fixture() {
        for (auto& t : threads) {
            t.detach();  // a thread still running here is a failure reported already
        }
    }
    void close_kernel_ends() {
        for (int fd : kernel_fds) {
            ::close(fd);
        }
        kernel_fds.clear();
    }
    // True when every connection ended within `seconds`.
    bool wait_stopped(int seconds) {
        for (int i = 0; i < seconds * 100; ++i) {
            if (stopped.load() == static_cast<int>(threads.size())) {
                for (auto& t : threads) {
                    t.join();
                }
                threads.clear();
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    Store store;
    std::vector<int> kernel_fds;
    std::vector<std::unique_ptr<std::atomic<int>>> served;
    std::vector<std::thread> threads;
    std::atomic<int> stopped{0};
};

std::string read_sys(const std::string& path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    return s;
}

std::string dev_path(int index) {
    return "/dev/nbd" + std::to_string(index);
}

// Waits for /sys/block/nbdN/size to read `sectors` (the driver sets it while connecting and
// clears it after the last reference to the connection goes).
bool wait_size(int index, const std::string& sectors, int seconds) {
    std::string path = "/sys/block/nbd" + std::to_string(index) + "/size";
    for (int i = 0; i < seconds * 100; ++i) {
        if (read_sys(path) == sectors) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

int open_device(int index) {
    std::string path = dev_path(index);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        // No udev in the guest; devtmpfs normally has the node already.
        std::string dev = read_sys("/sys/block/nbd" + std::to_string(index) + "/dev");
        unsigned major = 0, minor = 0;
        if (std::sscanf(dev.c_str(), "%u:%u", &major, &minor) != 2 ||
            ::mknod(path.c_str(), S_IFBLK | 0600, makedev(major, minor)) != 0) {
            fail("no " + path + " and cannot make it (sysfs dev '" + dev + "')");
        }
    }
    int fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        fail("open " + path + " O_DIRECT: " + std::strerror(errno));
    }
    return fd;
}

struct AlignedBuf {
    explicit AlignedBuf(size_t n) : size(n), p(static_cast<uint8_t*>(std::aligned_alloc(4096, n))) {
        if (p == nullptr) {
            fail("aligned_alloc");
        }
    }
    ~AlignedBuf() { std::free(p); }
    size_t size;
    uint8_t* p;
};

void pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t off, const std::string& what) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w != static_cast<ssize_t>(n)) {
        fail(what + ": pwrite " + std::to_string(n) + " @" + std::to_string(off) + " -> " +
             std::to_string(w) + " (" + std::strerror(errno) + ")");
    }
}

void pread_all(int fd, uint8_t* p, size_t n, uint64_t off, const std::string& what) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r != static_cast<ssize_t>(n)) {
        fail(what + ": pread " + std::to_string(n) + " @" + std::to_string(off) + " -> " + std::to_string(r) +
             " (" + std::strerror(errno) + ")");
    }
}

// First offset in [off, off+n) where `p` differs from pattern `seed` (seed 0: zeros), or -1.
int64_t mismatch(const uint8_t* p, size_t n, uint64_t off, uint64_t seed) {
    for (size_t i = 0; i < n; ++i) {
        uint8_t want = seed == 0 ? 0 : pattern(seed, off + i);
        if (p[i] != want) {
            return static_cast<int64_t>(off + i);
        }
    }
    return -1;
}

void check_no_driver() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        fail("socketpair");
    }
    ms::nbd::KernelAttach a;
    a.sockets = std::span<const int>(fds, 1);
    a.size_bytes = kMiB;
    auto r = ms::nbd::kernel_nbd_attach(a);
    ::close(fds[0]);
    ::close(fds[1]);
    if (r) {
        fail("kernel_nbd_available() said no, yet attach gave /dev/nbd" + std::to_string(*r));
    }
    if (r.error().code != ENODEV || r.error().message.find("no nbd driver") == std::string::npos) {
        fail("attach without the driver: '" + r.error().to_string() + "', expected ENODEV naming the driver");
    }
    std::printf("nbd_attach_check: SKIP: no nbd driver in this kernel; attach says: %s\n",
                r.error().to_string().c_str());
}

}  // namespace

int main() {
    using ms::nbd::KernelAttach;
    auto t0 = std::chrono::steady_clock::now();
    if (!ms::nbd::kernel_nbd_available()) {
        check_no_driver();
        return 77;
    }
    pass("the kernel's nbd netlink family answers");

    // ---- device A: 16 MiB, 4 KiB blocks, two connections ----
    constexpr uint64_t size = 16 * kMiB;
    Fixture fx(size, 2);
    {
        std::lock_guard lock(fx.store.mutex);
        for (uint64_t i = 0; i < kMiB; ++i) {
            fx.store.data[i] = pattern(1, i);
        }
    }
    KernelAttach a;
    a.sockets = fx.kernel_fds;
    a.size_bytes = size;
    a.block_size = 4096;
    a.transmission_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
                           NBD_FLAG_CAN_MULTI_CONN;
    a.timeout_s = 30;
    auto attached = ms::nbd::kernel_nbd_attach(a);
    if (!attached) {
        fail("attach: " + attached.error().to_string());
    }
    int index = *attached;
    fx.close_kernel_ends();  // the driver holds its own references
    pass("attached over 2 sockets: " + dev_path(index));

    std::string sys = "/sys/block/nbd" + std::to_string(index);
    if (!wait_size(index, std::to_string(size / 512), 5)) {
        fail(sys + "/size is '" + read_sys(sys + "/size") + "', expected " + std::to_string(size / 512));
    }
    std::string lbs = read_sys(sys + "/queue/logical_block_size");
    if (lbs != "4096") {
        fail(sys + "/queue/logical_block_size is '" + lbs + "', expected 4096");
    }
    pass("size " + std::to_string(size) + " bytes, logical block size " + lbs);

    int fd = open_device(index);
    AlignedBuf buf(kMiB);
    pread_all(fd, buf.p, kMiB, 0, "read of the preloaded MiB");
    if (int64_t at = mismatch(buf.p, kMiB, 0, 1); at >= 0) {
        fail("O_DIRECT read differs from the store at byte " + std::to_string(at));
    }
    pass("O_DIRECT read of 1 MiB returns what the server's store holds");

    // 4 MiB from offset 1 MiB in 256 KiB writes, then read back through the device and compare
    // with the store itself.
    constexpr uint64_t woff = kMiB, wlen = 4 * kMiB, chunk = 256 * 1024;
    for (uint64_t off = woff; off < woff + wlen; off += chunk) {
        for (uint64_t i = 0; i < chunk; ++i) {
            buf.p[i] = pattern(2, off + i);
        }
        pwrite_all(fd, buf.p, chunk, off, "pattern write");
    }
    uint64_t flushes_before = fx.store.flushes.load();
    if (::fdatasync(fd) != 0) {
        fail(std::string("fdatasync: ") + std::strerror(errno));
    }
    for (uint64_t off = woff; off < woff + wlen; off += kMiB) {
        std::memset(buf.p, 0xEE, kMiB);
        pread_all(fd, buf.p, kMiB, off, "read-back");
        if (int64_t at = mismatch(buf.p, kMiB, off, 2); at >= 0) {
            fail("read-back through the device differs at byte " + std::to_string(at));
        }
    }
    {
        std::lock_guard lock(fx.store.mutex);
        if (int64_t at = mismatch(fx.store.data.data() + woff, wlen, woff, 2); at >= 0) {
            fail("the store differs from what was written at byte " + std::to_string(at));
        }
    }
    pass("4 MiB of O_DIRECT writes are in the store and read back");
    if (fx.store.flushes.load() == flushes_before) {
        fail("fdatasync sent no NBD_CMD_FLUSH (flags SEND_FLUSH given)");
    }
    pass("fdatasync arrived as NBD_CMD_FLUSH");

    uint64_t range[2] = {woff, kMiB};
    if (::ioctl(fd, BLKDISCARD, range) != 0) {
        fail(std::string("BLKDISCARD: ") + std::strerror(errno));
    }
    if (fx.store.trims.load() == 0) {
        fail("BLKDISCARD sent no NBD_CMD_TRIM (flags SEND_TRIM given)");
    }
    pread_all(fd, buf.p, kMiB, woff, "read after discard");
    if (int64_t at = mismatch(buf.p, kMiB, woff, 0); at >= 0) {
        fail("the discarded MiB is not zero at byte " + std::to_string(at));
    }
    pass("BLKDISCARD arrived as NBD_CMD_TRIM");
    std::printf("requests per connection: %d, %d (reads %llu, writes %llu, flushes %llu, trims %llu)\n",
                fx.served[0]->load(), fx.served[1]->load(),
                static_cast<unsigned long long>(fx.store.reads.load()),
                static_cast<unsigned long long>(fx.store.writes.load()),
                static_cast<unsigned long long>(fx.store.flushes.load()),
                static_cast<unsigned long long>(fx.store.trims.load()));

    // ---- device B while A is attached: another index, 512-byte blocks, one connection ----
    {
        Fixture fb(kMiB, 1);
        KernelAttach b;
        b.sockets = fb.kernel_fds;
        b.size_bytes = kMiB;
        b.transmission_flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH;
        auto second = ms::nbd::kernel_nbd_attach(b);
        if (!second) {
            fail("second attach: " + second.error().to_string());
        }
        fb.close_kernel_ends();
        if (*second == index) {
            fail("second attach got the busy device " + dev_path(index));
        }
        if (!wait_size(*second, std::to_string(kMiB / 512), 5)) {
            fail("second device size '" + read_sys("/sys/block/nbd" + std::to_string(*second) + "/size") +
                 "'");
        }
        int fd2 = open_device(*second);
        for (uint64_t i = 0; i < 4096; ++i) {
            buf.p[i] = pattern(3, i);
        }
        pwrite_all(fd2, buf.p, 4096, 512 * 7, "second device write");
        ::close(fd2);
        {
            std::lock_guard lock(fb.store.mutex);
            if (int64_t at = mismatch(fb.store.data.data() + 512 * 7, 4096, 0, 3); at >= 0) {
                fail("second device's store differs at byte " + std::to_string(at));
            }
        }
        if (auto d = ms::nbd::kernel_nbd_detach(*second); !d) {
            fail("detach " + dev_path(*second) + ": " + d.error().to_string());
        }
        if (!fb.wait_stopped(10)) {
            fail("the second device's connection still open 10 s after detach");
        }
        pass("a second attach took " + dev_path(*second) +
             " (512-byte blocks, unaligned 4 KiB write), detached");
    }

    // ---- refused requests ----
    {
        KernelAttach bad = a;
        bad.sockets = {};
        auto r = ms::nbd::kernel_nbd_attach(bad);
        if (r || r.error().code != EINVAL) {
            fail("attach without sockets: expected EINVAL");
        }
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
            fail("socketpair");
        }
        bad.sockets = std::span<const int>(fds, 1);
        bad.block_size = 1000;
        r = ms::nbd::kernel_nbd_attach(bad);
        if (r || r.error().code != EINVAL) {
            fail("attach with block size 1000: expected EINVAL");
        }
        bad.block_size = 4096;
        bad.size_bytes = 4096 * 3 + 512;
        r = ms::nbd::kernel_nbd_attach(bad);
        if (r || r.error().code != EINVAL) {
            fail("attach with a size that is not a multiple of the block size: expected EINVAL");
        }
        ::close(fds[0]);
        ::close(fds[1]);
        int notsock = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        bad.size_bytes = kMiB;
        bad.sockets = std::span<const int>(&notsock, 1);
        r = ms::nbd::kernel_nbd_attach(bad);
        ::close(notsock);
        if (r) {
            fail("the driver accepted /dev/null as a socket: " + dev_path(*r));
        }
        pass("refused: no sockets, block size 1000, unaligned size (EINVAL); a non-socket fd: " +
             r.error().to_string());
    }

    // ---- detach A ----
    ::close(fd);
    if (auto d = ms::nbd::kernel_nbd_detach(index); !d) {
        fail("detach: " + d.error().to_string());
    }
    if (!fx.wait_stopped(10)) {
        fail("connections still open 10 s after detach");
    }
    if (fx.store.discs.load() == 0) {
        fail("detach sent no NBD_CMD_DISC");
    }
    if (!wait_size(index, "0", 10)) {
        fail(sys + "/size is still '" + read_sys(sys + "/size") + "' 10 s after detach");
    }
    pass("detached: NBD_CMD_DISC received, both connections closed, size 0");
    if (auto d = ms::nbd::kernel_nbd_detach(index); !d) {
        fail("second detach of " + dev_path(index) + ": " + d.error().to_string());
    }
    if (auto d = ms::nbd::kernel_nbd_detach(99999); !d) {
        fail("detach of a device that does not exist: " + d.error().to_string());
    }
    pass("detach again, and of /dev/nbd99999, is OK");

    auto ms_total =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    std::printf("nbd_attach_check: PASS (%lld ms)\n", static_cast<long long>(ms_total.count()));
    return 0;
}
