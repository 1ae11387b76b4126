#include "core/async.h"

#include "core/reactor.h"

namespace ms {

void WaitQueue::resume_all() {
    Reactor* r = Reactor::current();
    for (auto h : std::exchange(_waiters, {})) {
        r->schedule(h);
    }
}

Task<AsyncMutex::Guard> AsyncMutex::lock() {
    while (_locked) {
        co_await _queue.wait();
    }
    _locked = true;
    co_return Guard(this);
}

}  // namespace ms
