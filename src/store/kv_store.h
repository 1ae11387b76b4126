// A small key-value store for state that must survive a crash of the process: which children of
// a nexus hold current data (src/nexus), and later the control plane's records. Two backends:
// an embedded file store (one directory on local disk, the default) and etcd (a real server,
// for clusters: the daemon's -p option).
//
// Every call is a coroutine that may be awaited on any reactor; the blocking work (fsync, a
// network round trip) runs on the store's own worker thread and the awaiting coroutine resumes
// on the reactor it came from. A put() that returned ok is durable: it survives kill -9 of the
// process and (file store) a power loss after it returned.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/task.h"

namespace ms::store {

class KvStore {
   public:
    virtual ~KvStore() = default;

    // Stores `value` under `key` (replacing any older value), durably.
    virtual Task<Status> put(std::string key, std::string value) = 0;
    // The value under `key`, or std::nullopt if there is none.
    virtual Task<Result<std::optional<std::string>>> get(std::string key) = 0;
    // Removes `key`; a missing key is ok.
    virtual Task<Status> remove(std::string key) = 0;
    // Every (key, value) whose key starts with `prefix`, sorted by key.
    virtual Task<Result<std::vector<std::pair<std::string, std::string>>>> list(std::string prefix) = 0;

    // Human description for logs ("file:/var/lib/mayastor/store", "etcd:127.0.0.1:2379").
    virtual std::string describe() const = 0;
};

}  // namespace ms::store
