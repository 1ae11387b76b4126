// The accept loop of a stream server (the NVMe-oF target, the NBD server): accepts on a listener
// until the server stops and hands each connection to the server's `serve`, on the next reactor
// round-robin, so that connections spread over every core.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "core/log.h"
#include "core/net.h"
#include "core/runtime.h"
#include "target/live_tasks.h"

namespace ms::target {

// The reactors' round-robin turn (one per server, shared by its listeners).
inline Reactor& next_reactor(Runtime& runtime, std::atomic<unsigned>& turn) {
    return runtime.reactor(turn.fetch_add(1) % runtime.size());
}

// Runs on one reactor. The loop counts in `live` (started by the caller, finished here), so does
// each connection: `serve(Socket, Reactor&)` returns the connection's task, which calls
// live.finished() when it ends. `what` names the server in logs.
template <typename Serve>
Task<void> accept_loop(Runtime& runtime, std::atomic<unsigned>& turn, const std::atomic<bool>& stopping,
                       LiveTasks& live, Listener& listener, std::string what, Serve serve) {
    while (!stopping.load()) {
        auto s = co_await listener.accept();
        if (!s) {
            if (stopping.load() || s.error().code == ECANCELED || Reactor::current()->stopping()) {
                break;
            }
            log::warn("{}: accept on port {}: {}", what, listener.port(), s.error().to_string());
            co_await sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        Reactor& r = next_reactor(runtime, turn);
        live.started();
        Reactor::current()->spawn(serve(std::move(*s), r));
    }
    live.finished();
}

}  // namespace ms::target
