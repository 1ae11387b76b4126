#include "core/runtime.h"

#include <pthread.h>
#include <sched.h>

#include <condition_variable>
#include <mutex>

#include "core/log.h"

namespace ms {

Runtime::Runtime(RuntimeOptions options) : _cpus(options.cpus) {
    std::size_t n = _cpus.empty() ? 1 : _cpus.size();
    _reactors.resize(n);
    std::mutex m;
    std::condition_variable cv;
    std::size_t ready = 0;
    std::exception_ptr failure;
    for (std::size_t i = 0; i < n; ++i) {
        int cpu = _cpus.empty() ? -1 : _cpus[i];
        _threads.emplace_back([&, i, cpu, ropts = options.reactor] {
            if (cpu >= 0) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(cpu, &set);
                if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
                    log::warn("reactor {}: cannot pin to cpu {}", i, cpu);
                }
            }
            std::string tname = "reactor_" + std::to_string(i);
            pthread_setname_np(pthread_self(), tname.c_str());
            std::unique_ptr<Reactor> r;
            try {
                r = std::make_unique<Reactor>(static_cast<unsigned>(i), ropts);
            } catch (...) {
                std::lock_guard g(m);
                failure = std::current_exception();
                ++ready;
                cv.notify_all();
                return;
            }
            Reactor* raw = r.get();
            {
                std::lock_guard g(m);
                _reactors[i] = std::move(r);
                ++ready;
                cv.notify_all();
            }
            raw->run();
        });
    }
    std::unique_lock lk(m);
    cv.wait(lk, [&] { return ready == n; });
    lk.unlock();
    if (failure) {
        stop();
        std::rethrow_exception(failure);
    }
}

Runtime::~Runtime() {
    stop();
}

int Runtime::cpu(std::size_t i) const {
    return _cpus.empty() ? -1 : _cpus.at(i);
}

void Runtime::stop() {
    if (_stopped) {
        return;
    }
    _stopped = true;
    for (auto& r : _reactors) {
        if (r) {
            r->request_stop();
        }
    }
    for (auto& t : _threads) {
        t.join();
    }
    // A reactor must be destroyed on any thread only after its loop ended; the ring is no
    // longer used by then.
    _reactors.clear();
}

}  // namespace ms
