// Helpers for the nbd:// tests: NBD servers the project did not write (nbdkit, qemu-storage-
// daemon) run as child processes that the test owns (started with fork/exec, stopped by PID),
// on a Unix socket in a fresh directory or on a free port of 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../bdev_test_util.h"
#include "bdev/nbd/nbd_device.h"
#include "core/log.h"

namespace ms::test {

inline const bool kQuietNbdLogs = [] {
    (void)log::set_level(std::getenv("MS_TEST_LOG") ? std::getenv("MS_TEST_LOG") : "warn");
    return true;
}();

// A port on 127.0.0.1 that nobody listened on a moment ago.
inline uint16_t free_tcp_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        return 0;
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

// Where a server listens: a Unix socket path, or a TCP port on 127.0.0.1.
struct Endpoint {
    std::string socket_path;
    uint16_t port = 0;

    // The device URI for `export_name` with `params` ("a=1&b=2", may be empty).
    std::string uri(const std::string& export_name = "", const std::string& params = "") const {
        if (!socket_path.empty()) {
            return "nbd+unix:///" + export_name + "?socket=" + socket_path +
                   (params.empty() ? "" : "&" + params);
        }
        return "nbd://127.0.0.1:" + std::to_string(port) + "/" + export_name +
               (params.empty() ? "" : "?" + params);
    }

    bool accepts() const {
        int fd = -1;
        int rc = -1;
        if (!socket_path.empty()) {
            fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un a{};
            a.sun_family = AF_UNIX;
            std::strncpy(a.sun_path, socket_path.c_str(), sizeof a.sun_path - 1);
            rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        } else {
            fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            a.sin_port = htons(port);
            rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
        }
        ::close(fd);
        return rc == 0;
    }
};

// A server process the test started; killed (SIGKILL) and reaped at the latest when destroyed.
class ServerProcess {
   public:
    ServerProcess() = default;
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;
    ~ServerProcess() { kill_now(); }

    // Starts argv and waits (up to 10 s) until `ep` accepts connections. A stale Unix socket
    // file (left by a server killed with SIGKILL) is removed first.
    ::testing::AssertionResult start(std::vector<std::string> argv, const Endpoint& ep) {
        kill_now();
        if (!ep.socket_path.empty()) {
            ::unlink(ep.socket_path.c_str());
        }
        _argv = argv;
        pid_t pid = ::fork();
        if (pid < 0) {
            return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
        }
        if (pid == 0) {
            int devnull = ::open("/dev/null", O_RDWR);
            ::dup2(devnull, 0);
            ::dup2(devnull, 1);
            if (!std::getenv("MS_TEST_SERVER_STDERR")) {
                ::dup2(devnull, 2);
            }
            std::vector<char*> args;
            for (auto& a : argv) {
                args.push_back(a.data());
            }
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        _pid = pid;
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < until) {
            if (ep.accepts()) {
                return ::testing::AssertionSuccess();
            }
            int status = 0;
            if (::waitpid(_pid, &status, WNOHANG) == _pid) {
                _pid = -1;
                return ::testing::AssertionFailure() << argv[0] << " exited early (status " << status << ")";
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        kill_now();
        return ::testing::AssertionFailure() << argv[0] << " did not start listening within 10 s";
    }

    pid_t pid() const { return _pid; }
    bool running() const { return _pid > 0; }
    void signal(int sig) const {
        if (_pid > 0) {
            ::kill(_pid, sig);
        }
    }
    // SIGSTOP, and wait until every thread of it has stopped (kill() returns before that).
    void pause() const {
        if (_pid > 0) {
            ::kill(_pid, SIGSTOP);
            int status = 0;
            ::waitpid(_pid, &status, WUNTRACED);
        }
    }
    // SIGKILL by PID, then reap it.
    void kill_now() {
        if (_pid > 0) {
            ::kill(_pid, SIGCONT);
            ::kill(_pid, SIGKILL);
            int status = 0;
            ::waitpid(_pid, &status, 0);
            _pid = -1;
        }
    }
    // SIGTERM by PID (a clean exit), then reap it.
    void terminate() {
        if (_pid > 0) {
            ::kill(_pid, SIGTERM);
            int status = 0;
            ::waitpid(_pid, &status, 0);
            _pid = -1;
        }
    }

   private:
    pid_t _pid = -1;
    std::vector<std::string> _argv;
};

// nbdkit with the memory plugin (and optional filters/arguments) on `ep`.
inline std::vector<std::string> nbdkit_memory(const Endpoint& ep, const std::string& size = "64M",
                                              std::vector<std::string> filters = {},
                                              std::vector<std::string> extra = {}, bool read_only = false) {
    std::vector<std::string> argv = {"nbdkit", "--foreground", "--exit-with-parent"};
    if (!ep.socket_path.empty()) {
        argv.insert(argv.end(), {"-U", ep.socket_path});
    } else {
        argv.insert(argv.end(), {"-i", "127.0.0.1", "-p", std::to_string(ep.port)});
    }
    if (read_only) {
        argv.push_back("-r");
    }
    for (const auto& f : filters) {
        argv.push_back("--filter=" + f);
    }
    argv.push_back("memory");
    argv.push_back(size);
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

inline bool have_program(const std::string& name) {
    int status = 0;
    command_output("command -v " + name + " >/dev/null 2>&1", &status);
    return status == 0;
}

}  // namespace ms::test

namespace ms::test {

// The bytes [offset, offset + length) of the export behind `uri` as a third-party client
// (nbdcopy) reads them: proof that data reached the server, not just our read path.
inline std::vector<uint8_t> bytes_via_nbdcopy(const std::string& uri, uint64_t offset, std::size_t length) {
    TempDir dir;
    std::string out = dir.file("copy.img");
    int status = 0;
    std::string msg = command_output("nbdcopy '" + uri + "' '" + out + "' 2>&1", &status);
    EXPECT_EQ(status, 0) << "nbdcopy: " << msg;
    return read_file(out, offset, length);
}

// Many requests on one reactor at once; the count that failed and the first error.
struct Batch {
    std::atomic<int> left{0};
    std::atomic<int> failures{0};
    std::string first_error;
};

inline Task<void> batch_one(Descriptor* d, uint64_t offset, DmaBuf* buf, bool write, Batch* b,
                            WaitQueue* wq) {
    Status st;
    if (write) {
        st = co_await d->write_at(offset, *buf);
    } else {
        st = co_await d->read_at(offset, *buf);
    }
    if (!st && b->failures++ == 0) {
        b->first_error = st.error().to_string();
    }
    if (--b->left == 0) {
        wq->wake_all();
    }
}

// Every buffer bufs[i] at base + i * size, all in flight at once, on `reactor`.
inline void run_batch(Runtime& rt, std::size_t reactor, Descriptor& d, uint64_t base,
                      std::vector<DmaBuf>& bufs, bool write, Batch& b) {
    run_on(rt.reactor(reactor), [&]() -> Task<void> {
        WaitQueue wq;
        b.left = static_cast<int>(bufs.size());
        for (std::size_t i = 0; i < bufs.size(); ++i) {
            Reactor::current()->spawn(batch_one(&d, base + i * bufs[i].size(), &bufs[i], write, &b, &wq));
        }
        while (b.left > 0) {
            co_await wq.wait();
        }
    });
}

}  // namespace ms::test
