// nbd_perf: our NBD export against two peer servers, in the same run. fio's nbd engine (libnbd)
// drives 4 KiB random reads and random writes at queue depth 32 (-q) against, in turn:
//   ours     NbdServer (src/target/nbd) in this process, one reactor pinned to --server-cpu,
//            exporting a malloc device;
//   nbdkit   `nbdkit --foreground memory SIZE`, pinned to --server-cpu with taskset;
//   qsd      `qemu-storage-daemon` exporting a null-co device, pinned the same way;
// fio itself is pinned to --client-cpu. For each server the program reads the CPU time of its
// process (utime + stime from /proc/PID/stat: every thread, exited ones included, the kernel's
// work done in them and io_uring workers too) before and after each fio run, and prints
// IOPS, server CPU microseconds per I/O and the ratios ours/nbdkit and ours/qsd. With -n N the
// servers alternate N times and each keeps its best IOPS and its lowest CPU per I/O.
//
//   nbd_perf [-t SECONDS] [-n RUNS] [-s SIZE_MB] [-q DEPTH] [--server-cpu N] [--client-cpu N]
//            [-w randread|randwrite] [--only ours|nbdkit|qsd] [--coalesce-us US] [--stats]
//
// The malloc device and nbdkit's memory are written in full first (fio, 1 MiB sequential), so
// that reads copy real pages; null-co keeps no data (reads copy nothing), as the issue's
// baseline does. BENCH_REPEAT=N sets the default of -n. A program that prints figures, not a
// test: exit status 1 only for bad arguments or a failed setup.
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bdev/device_factory.h"
#include "bench_util.h"
#include "core/log.h"
#include "core/runtime.h"
#include "target/nbd/nbd_server.h"

extern char** environ;

namespace ms::bench {
namespace {

using Clock = std::chrono::steady_clock;

// CPU time (utime + stime) of process `pid`, in nanoseconds: every thread it has had, those
// that have exited included (nbdkit runs a thread per connection that ends with it).
uint64_t process_cpu_ns(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(f, line);
    // Fields after the command name (which may hold spaces) in parentheses: utime is the 14th
    // field of the line, stime the 15th.
    auto close = line.rfind(')');
    if (close == std::string::npos) {
        return 0;
    }
    std::istringstream in(line.substr(close + 2));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
        if (i == 14) {
            utime = std::stoull(field);
        } else if (i == 15) {
            stime = std::stoull(field);
        }
    }
    static const long hz = ::sysconf(_SC_CLK_TCK);
    return (utime + stime) * 1'000'000'000ull / static_cast<uint64_t>(hz);
}

// A child process (argv[0] looked up in PATH); stdout to `out_fd` when >= 0.
pid_t spawn(const std::vector<std::string>& args, int out_fd = -1, bool quiet = false) {
    std::vector<char*> argv;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
    } else if (quiet) {
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    }
    if (quiet) {
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    }
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        throw Failure("spawn " + args[0] + ": " + std::strerror(rc));
    }
    return pid;
}

// Runs `args` to the end; returns its stdout. A non-zero exit is a Failure.
std::string run_capture(const std::vector<std::string>& args) {
    int p[2];
    if (::pipe(p) != 0) {
        throw Failure(std::string("pipe: ") + std::strerror(errno));
    }
    pid_t pid = spawn(args, p[1]);
    ::close(p[1]);
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(p[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(p[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        throw Failure(args[0] + " failed (status " + std::to_string(st) + ")");
    }
    return out;
}

// A free TCP port on 127.0.0.1 (bound, read, released: a peer server binds it next).
uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        ::close(fd);
        throw Failure(std::string("free port: ") + std::strerror(errno));
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

bool can_connect(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// A peer server in its own process, stopped (SIGTERM, then SIGKILL) by the destructor.
class PeerProcess {
   public:
    PeerProcess(std::string name, const std::vector<std::string>& args, uint16_t port)
        : _name(std::move(name)) {
        _pid = spawn(args, -1, true);
        const auto deadline = Clock::now() + std::chrono::seconds(10);
        while (!can_connect(port)) {
            int st = 0;
            if (::waitpid(_pid, &st, WNOHANG) == _pid) {
                _pid = -1;
                throw Failure(_name + " exited at start (status " + std::to_string(st) + ")");
            }
            if (Clock::now() > deadline) {
                throw Failure(_name + " does not listen on port " + std::to_string(port));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    ~PeerProcess() {
        if (_pid <= 0) {
            return;
        }
        ::kill(_pid, SIGTERM);
        for (int i = 0; i < 100; ++i) {
            if (::waitpid(_pid, nullptr, WNOHANG) == _pid) {
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ::kill(_pid, SIGKILL);
        ::waitpid(_pid, nullptr, 0);
    }
    PeerProcess(const PeerProcess&) = delete;
    PeerProcess& operator=(const PeerProcess&) = delete;
    pid_t pid() const { return _pid; }

   private:
    std::string _name;
    pid_t _pid = -1;
};

struct Options {
    double seconds = 10;
    int runs = 1;
    uint64_t size_mb = 256;
    int server_cpu = 0;
    int client_cpu = 1;
    std::string workload;  // empty: both
    std::string only;      // empty: all servers
    bool stats = false;
    int coalesce_us = -1;  // -1: the server's default
    int iodepth = 32;
};

struct Server {
    std::string name;
    std::string uri;
    pid_t pid;
    Reactor* reactor = nullptr;  // ours: for --stats
};

struct Rate {
    double iops = 0;
    double cpu_us = 1e18;  // server CPU per I/O
    double lat_us = 0;     // of the run kept for its IOPS
    double fio_cpu = 0;    // fio's user + system CPU, % of one CPU (same run)
    double loops = 0, sleeps = 0;
    void keep_best(const Rate& r) {
        if (r.iops > iops) {
            iops = r.iops;
            lat_us = r.lat_us;
            fio_cpu = r.fio_cpu;
            loops = r.loops;
            sleeps = r.sleeps;
        }
        cpu_us = std::min(cpu_us, r.cpu_us);
    }
};

ReactorStats reactor_stats(Reactor& r) {
    return run_on(r, []() -> Task<ReactorStats> { co_return Reactor::current()->stats(); });
}

std::vector<std::string> fio_args(const Options& o, const std::string& uri, const std::string& rw) {
    return {"taskset",
            "-c",
            std::to_string(o.client_cpu),
            "fio",
            "--name=nbd_perf",
            "--ioengine=nbd",
            "--uri=" + uri,
            "--rw=" + rw,
            "--bs=4k",
            "--iodepth=" + std::to_string(o.iodepth),
            "--norandommap",
            "--randrepeat=0",
            "--time_based",
            "--runtime=" + std::to_string(o.seconds),
            "--output-format=json"};
}

Rate measure(const Options& o, const Server& s, const std::string& rw) {
    ReactorStats st0 = s.reactor != nullptr ? reactor_stats(*s.reactor) : ReactorStats{};
    const uint64_t cpu0 = process_cpu_ns(s.pid);
    std::string out = run_capture(fio_args(o, s.uri, rw));
    const uint64_t cpu1 = process_cpu_ns(s.pid);
    ReactorStats st1 = s.reactor != nullptr ? reactor_stats(*s.reactor) : ReactorStats{};
    auto brace = out.find('{');
    if (brace == std::string::npos) {
        throw Failure("fio against " + s.name + ": no JSON output");
    }
    auto j = nlohmann::json::parse(out.substr(brace), nullptr, false);
    if (j.is_discarded() || !j.contains("jobs") || j["jobs"].empty()) {
        throw Failure("fio against " + s.name + ": unreadable JSON output");
    }
    const auto& job = j["jobs"][0];
    if (job.value("error", 0) != 0) {
        throw Failure("fio against " + s.name + ": error " + std::to_string(job.value("error", 0)));
    }
    const auto& side = job[rw == "randread" ? "read" : "write"];
    const double ios = side["total_ios"].get<double>();
    if (ios <= 0) {
        throw Failure("fio against " + s.name + ": no I/O done");
    }
    Rate r;
    r.iops = side["iops"].get<double>();
    r.cpu_us = double(cpu1 - cpu0) / 1e3 / ios;
    r.lat_us = side["clat_ns"]["mean"].get<double>() / 1e3;
    r.fio_cpu = job.value("usr_cpu", 0.0) + job.value("sys_cpu", 0.0);
    r.loops = double(st1.loops - st0.loops) / ios;
    r.sleeps = double(st1.sleeps - st0.sleeps) / ios;
    return r;
}

// Writes the whole export once (1 MiB sequential writes).
void prefill(const Options& o, const Server& s) {
    run_capture({"taskset", "-c", std::to_string(o.client_cpu), "fio", "--name=fill", "--ioengine=nbd",
                 "--uri=" + s.uri, "--rw=write", "--bs=1m", "--iodepth=8", "--output-format=json"});
}

void run_all(Runtime& rt, const Options& o) {
    const uint64_t size = o.size_mb << 20;
    const std::string dev_uri = "malloc:///nbd_perf0?size_mb=" + std::to_string(o.size_mb);
    auto dev = check(run_on(rt.reactor(0), [&] { return create_device(dev_uri); }), "create " + dev_uri);
    nbd::NbdServerOptions so;
    so.listen_address = "127.0.0.1";
    so.advertised_address = "127.0.0.1";
    so.port = 0;
    if (o.coalesce_us >= 0) {
        so.coalesce_us = static_cast<uint32_t>(o.coalesce_us);
    }
    auto server = check(nbd::NbdServer::start(rt, so), "start the NBD server");
    target::ShareRequest req;
    req.device = dev;
    req.claim_owner = "nbd_perf";
    const std::string our_uri = check(server->share(req), "share " + dev->name());

    const std::string cpu = std::to_string(o.server_cpu);
    std::vector<Server> servers;
    std::unique_ptr<PeerProcess> nbdkit, qsd;
    auto wanted = [&](const char* n) { return o.only.empty() || o.only == n; };
    if (wanted("ours")) {
        servers.push_back({"ours", our_uri, ::getpid(), &rt.reactor(0)});
    }
    if (wanted("nbdkit")) {
        const uint16_t port = free_port();
        nbdkit = std::make_unique<PeerProcess>(
            "nbdkit",
            std::vector<std::string>{"taskset", "-c", cpu, "nbdkit", "--foreground", "-i", "127.0.0.1", "-p",
                                     std::to_string(port), "memory", std::to_string(size)},
            port);
        servers.push_back({"nbdkit", "nbd://127.0.0.1:" + std::to_string(port) + "/", nbdkit->pid()});
    }
    if (wanted("qsd")) {
        const uint16_t port = free_port();
        qsd = std::make_unique<PeerProcess>(
            "qemu-storage-daemon",
            std::vector<std::string>{"taskset", "-c", cpu, "qemu-storage-daemon", "--blockdev",
                                     "driver=null-co,node-name=n0,size=" + std::to_string(size),
                                     "--nbd-server",
                                     "addr.type=inet,addr.host=127.0.0.1,addr.port=" + std::to_string(port),
                                     "--export", "type=nbd,id=e0,node-name=n0,writable=on"},
            port);
        servers.push_back({"qsd", "nbd://127.0.0.1:" + std::to_string(port) + "/n0", qsd->pid()});
    }
    for (const Server& s : servers) {
        if (s.name != "qsd") {
            prefill(o, s);
        }
    }

    std::printf("%-10s %-7s %10s %11s %8s %7s", "workload", "server", "IOPS", "CPU us/IO", "lat us", "fio %");
    if (o.stats) {
        std::printf(" %8s %8s", "loops/IO", "sleep/IO");
    }
    std::printf("\n");
    std::fflush(stdout);
    for (const char* rw : {"randread", "randwrite"}) {
        if (!o.workload.empty() && o.workload != rw) {
            continue;
        }
        std::vector<Rate> best(servers.size());
        for (int run = 0; run < o.runs; ++run) {
            for (std::size_t i = 0; i < servers.size(); ++i) {
                best[i].keep_best(measure(o, servers[i], rw));
            }
        }
        for (std::size_t i = 0; i < servers.size(); ++i) {
            std::printf("%-10s %-7s %10.0f %11.2f %8.1f %7.0f", rw, servers[i].name.c_str(), best[i].iops,
                        best[i].cpu_us, best[i].lat_us, best[i].fio_cpu);
            if (o.stats && servers[i].reactor != nullptr) {
                std::printf(" %8.2f %8.2f", best[i].loops, best[i].sleeps);
            }
            std::printf("\n");
        }
        if (!servers.empty() && servers[0].name == "ours") {
            for (std::size_t i = 1; i < servers.size(); ++i) {
                std::printf("%-10s ours/%-6s IOPS x%.2f, CPU per I/O x%.2f (%s/ours x%.2f)\n", rw,
                            servers[i].name.c_str(), best[0].iops / best[i].iops,
                            best[0].cpu_us / best[i].cpu_us, servers[i].name.c_str(),
                            best[i].cpu_us / best[0].cpu_us);
            }
        }
        std::fflush(stdout);
    }
    check(server->unshare(dev->name()), "unshare");
    server.reset();
    dev.reset();
    Status d = run_on(rt.reactor(0), [&] { return destroy_device(dev_uri); });
    if (!d) {
        std::fprintf(stderr, "nbd_perf: destroy %s: %s\n", dev_uri.c_str(), d.error().to_string().c_str());
    }
}

int run(int argc, char** argv) {
    Options o;
    if (const char* r = std::getenv("BENCH_REPEAT"); r != nullptr && std::atoi(r) > 0) {
        o.runs = std::atoi(r);
    }
    CLI::App app{"Our NBD export against nbdkit memory and qemu-storage-daemon null-co, fio's nbd engine"};
    app.add_option("-t,--seconds", o.seconds, "seconds per fio run")
        ->capture_default_str()
        ->check(CLI::Range(1.0, 3600.0));
    app.add_option("-n,--runs", o.runs,
                   "runs of each server, alternating; best of them (default: BENCH_REPEAT)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    app.add_option("-s,--size-mb", o.size_mb, "size of every export in MiB")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{16}, uint64_t{1} << 16));
    app.add_option("--server-cpu", o.server_cpu, "CPU of every server")->capture_default_str();
    app.add_option("--client-cpu", o.client_cpu, "CPU of fio")->capture_default_str();
    app.add_option("-w,--workload", o.workload, "randread or randwrite (default: both)")
        ->check(CLI::IsMember({"randread", "randwrite"}));
    app.add_option("--only", o.only, "measure one server")->check(CLI::IsMember({"ours", "nbdkit", "qsd"}));
    app.add_option("-q,--iodepth", o.iodepth, "fio's queue depth")
        ->capture_default_str()
        ->check(CLI::Range(1, 128));
    app.add_option("--coalesce-us", o.coalesce_us,
                   "our server's receive coalescing (NbdServerOptions::coalesce_us; default: its default)")
        ->check(CLI::Range(0, 1000));
    app.add_flag("--stats", o.stats, "our reactor's loop turns and sleeps in io_uring_enter per I/O");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 1;
    }
    (void)log::set_level("warn");
    std::printf(
        "fio --ioengine=nbd 4k QD%d, %.0f s per run, best of %d alternating run(s); servers on CPU %d, fio "
        "on "
        "CPU %d;\nours: NbdServer, one reactor, malloc %llu MiB; nbdkit memory; qemu-storage-daemon "
        "null-co.\n"
        "CPU us/IO: utime+stime of the server process (all its threads, /proc/PID/stat) per I/O; lat: fio's\n"
        "mean completion latency; fio %%: fio's own CPU (user + system, %% of one CPU) in the run kept for "
        "its IOPS\n",
        o.iodepth, o.seconds, o.runs, o.server_cpu, o.client_cpu, static_cast<unsigned long long>(o.size_mb));
    RuntimeOptions ro;
    ro.cpus = {o.server_cpu};
    Runtime rt(ro);
    return run_reporting("nbd_perf", [&] { run_all(rt, o); });
}

}  // namespace
}  // namespace ms::bench

int main(int argc, char** argv) {
    return ms::bench::run(argc, argv);
}
