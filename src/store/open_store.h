// The daemon's choice of store: etcd when an endpoint is given (-p), else the file store in a
// directory (--store-dir, default /var/lib/mayastor/store).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/etcd_store.h"
#include "store/kv_store.h"

namespace ms::store {

inline constexpr std::string_view kDefaultStoreDir = "/var/lib/mayastor/store";

struct StoreSpec {
    // "host:port" of etcd; empty: the file store.
    std::string etcd_endpoint;
    std::string dir{kDefaultStoreDir};
    EtcdOptions etcd;
};

// Opens the store `spec` names; fails (with a message naming the directory or endpoint) if the
// directory cannot be made or written, or etcd does not answer. Blocking: call it at start.
Result<std::shared_ptr<KvStore>> open_store(const StoreSpec& spec);

}  // namespace ms::store
