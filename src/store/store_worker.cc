#include "store/store_worker.h"

#include <pthread.h>

#include <future>

namespace ms::store {

StoreWorker::StoreWorker(std::string name) {
    _thread = std::thread([this] { loop(); });
    name.resize(std::min<std::size_t>(name.size(), 15));
    pthread_setname_np(_thread.native_handle(), name.c_str());
}

StoreWorker::~StoreWorker() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _wake.notify_one();
    _thread.join();
}

void StoreWorker::submit(std::function<void()> job) {
    {
        std::lock_guard lock(_mutex);
        _jobs.push_back(std::move(job));
    }
    _wake.notify_one();
}

void StoreWorker::drain() {
    std::promise<void> done;
    auto fut = done.get_future();
    submit([&done] { done.set_value(); });
    fut.get();
}

void StoreWorker::loop() {
    std::unique_lock lock(_mutex);
    for (;;) {
        _wake.wait(lock, [this] { return _stopping || !_jobs.empty(); });
        if (_jobs.empty()) {
            return;  // stopping, and nothing left to run
        }
        std::function<void()> job = std::move(_jobs.front());
        _jobs.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
}

}  // namespace ms::store
