// uring-support: tells whether io_uring works here, which every reactor needs. Sets up a ring,
// completes a NOP and a read of a temporary file, and prints one line saying whether that
// worked. Exit 0 if it did, 1 if not (e.g. io_uring disabled by sysctl or a seccomp filter).
#include <fcntl.h>
#include <liburing.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr char kPattern[] = "mayastor uring-support probe";

std::string kernel_release() {
    utsname u{};
    return uname(&u) == 0 ? std::string(u.release) : std::string("unknown");
}

int fail(const std::string& what, int err) {
    std::printf("io_uring does not work here (kernel %s): %s: %s\n", kernel_release().c_str(), what.c_str(),
                std::strerror(err));
    return 1;
}

// Submits what is prepared and waits for one completion; returns its result.
int submit_and_wait(io_uring& ring, int* res) {
    int rc = io_uring_submit(&ring);
    if (rc < 0) {
        return rc;
    }
    io_uring_cqe* cqe = nullptr;
    rc = io_uring_wait_cqe(&ring, &cqe);
    if (rc < 0) {
        return rc;
    }
    *res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    return 0;
}

int probe(io_uring& ring, int fd) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    int res = 0;
    if (int rc = submit_and_wait(ring, &res); rc < 0) {
        return fail("NOP submit", -rc);
    }
    if (res < 0) {
        return fail("NOP", -res);
    }

    char buf[sizeof kPattern] = {};
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_read(sqe, fd, buf, sizeof buf, 0);
    if (int rc = submit_and_wait(ring, &res); rc < 0) {
        return fail("read submit", -rc);
    }
    if (res < 0) {
        return fail("read", -res);
    }
    if (static_cast<std::size_t>(res) != sizeof kPattern ||
        std::memcmp(buf, kPattern, sizeof kPattern) != 0) {
        return fail("read returned wrong data", EIO);
    }
    std::printf("io_uring works here (kernel %s): a NOP and a file read completed\n",
                kernel_release().c_str());
    return 0;
}

}  // namespace

int main() {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string path =
        std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/uring-support.XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0) {
        std::printf("io_uring not checked: cannot create a temporary file %s: %s\n", path.c_str(),
                    std::strerror(errno));
        return 1;
    }
    unlink(path.c_str());
    if (pwrite(fd, kPattern, sizeof kPattern, 0) != static_cast<ssize_t>(sizeof kPattern)) {
        std::printf("io_uring not checked: cannot write a temporary file: %s\n", std::strerror(errno));
        close(fd);
        return 1;
    }

    io_uring ring{};
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc < 0) {
        close(fd);
        return fail("io_uring_setup", -rc);
    }
    int result = probe(ring, fd);
    io_uring_queue_exit(&ring);
    close(fd);
    return result;
}
