// The store on an etcd v3 server (the daemon's -p host[:port]), over gRPC with etcd's KV
// service (proto/etcd/kv_rpc.proto). A put that returned is committed by etcd's quorum and in
// its write-ahead log. Reads are linearizable. Every call has a deadline; while etcd is down a
// call fails with ECONNREFUSED (no connection) or ETIMEDOUT (no answer), naming the endpoint,
// and the channel keeps reconnecting (backoff at most 1 s), so calls work again once it is back.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "store/kv_store.h"
#include "store/store_worker.h"

namespace ms::store {

struct EtcdOptions {
    // Deadline of one call, including the wait for a connection.
    std::chrono::milliseconds timeout{5000};
};

// range_end for "every key starting with `prefix`": the prefix with its last byte + 1 (trailing
// 0xff bytes dropped first); "\0" (every key) for an empty or all-0xff prefix.
std::string etcd_prefix_end(std::string_view prefix);

class EtcdStore final : public KvStore {
   public:
    // Connects to `endpoint` ("host:port") and checks that etcd answers (one read): an
    // unreachable etcd is an error here, not at the first put. Blocking: call it at start.
    static Result<std::shared_ptr<EtcdStore>> open(std::string endpoint, EtcdOptions options = {});
    ~EtcdStore() override;

    Task<Status> put(std::string key, std::string value) override;
    Task<Result<std::optional<std::string>>> get(std::string key) override;
    Task<Status> remove(std::string key) override;
    Task<Result<std::vector<std::pair<std::string, std::string>>>> list(std::string prefix) override;
    std::string describe() const override { return "etcd:" + _endpoint; }

   private:
    struct Client;
    EtcdStore(std::string endpoint, EtcdOptions options);

    std::string _endpoint;
    std::unique_ptr<Client> _client;
    // Last member: destroyed (joined) first, while the client still exists.
    StoreWorker _worker{"ms_store_etcd"};
};

}  // namespace ms::store
