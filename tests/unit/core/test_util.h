// Helpers shared by the core unit tests (not a test file: the glob picks *_test.cc only).
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/runtime.h"

namespace ms::test {

using Clock = std::chrono::steady_clock;

// Two CPUs this process may run on (the same one twice on a single-CPU machine).
inline std::vector<int> two_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    std::vector<int> cpus;
    for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
        if (CPU_ISSET(c, &set)) {
            cpus.push_back(c);
        }
    }
    while (cpus.size() < 2) {
        cpus.push_back(cpus.empty() ? 0 : cpus.front());
    }
    return cpus;
}

inline RuntimeOptions runtime_options(std::vector<int> cpus, ReactorOptions reactor = {}) {
    RuntimeOptions o;
    o.cpus = std::move(cpus);
    o.reactor = reactor;
    return o;
}

inline ReactorOptions busy_poll_options(std::chrono::microseconds busy_poll) {
    ReactorOptions o;
    o.busy_poll = busy_poll;
    return o;
}

inline ReactorOptions queue_depth_options(unsigned depth) {
    ReactorOptions o;
    o.queue_depth = depth;
    return o;
}

inline pid_t thread_id() {
    return static_cast<pid_t>(::syscall(SYS_gettid));
}

// CPU time consumed so far by the thread whose CPU clock is `clock`.
inline std::chrono::nanoseconds cpu_time(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

inline clockid_t this_thread_cpu_clock() {
    clockid_t c{};
    pthread_getcpuclockid(pthread_self(), &c);
    return c;
}

// Whether the thread `tid` of this process has exited, waiting up to `limit` for it.
inline bool wait_thread_exit(pid_t tid, std::chrono::milliseconds limit) {
    std::string path = "/proc/self/task/" + std::to_string(tid);
    auto deadline = Clock::now() + limit;
    while (::access(path.c_str(), F_OK) == 0) {
        if (Clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

// Polls `pred` until it holds or `limit` passes.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
    auto deadline = Clock::now() + limit;
    while (!pred()) {
        if (Clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace ms::test
