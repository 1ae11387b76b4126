#include "store/etcd_store.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "etcd/kv_rpc.grpc.pb.h"

namespace ms::store {

namespace {

using KvPairs = std::vector<std::pair<std::string, std::string>>;

// Reconnect promptly once etcd is back (gRPC's default backoff grows to two minutes).
constexpr int kMinReconnectMs = 100;
constexpr int kMaxReconnectMs = 1000;
// A list of many records may exceed gRPC's default 4 MiB receive limit.
constexpr int kMaxReceiveBytes = 256 * 1024 * 1024;

}  // namespace

std::string etcd_prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) {
        end.pop_back();
    }
    if (end.empty()) {
        return std::string(1, '\0');
    }
    end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
    return end;
}

// The gRPC side, used on the worker thread only.
struct EtcdStore::Client {
    std::string endpoint;
    EtcdOptions options;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> stub;

    Client(std::string ep, EtcdOptions o) : endpoint(std::move(ep)), options(o) {
        grpc::ChannelArguments args;
        args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kMinReconnectMs);
        args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kMinReconnectMs);
        args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectMs);
        args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
        channel = grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
        stub = etcdserverpb::KV::NewStub(channel);
    }

    // Runs `rpc(context)` until it succeeds, fails otherwise than UNAVAILABLE, or the deadline
    // passes. Each attempt waits for a connection (riding out an etcd restart); a call that
    // went out on a connection that then closed (etcd accepts before it serves, and drops
    // connections when it stops) comes back UNAVAILABLE and is tried again: every call here
    // is idempotent.
    template <typename Rpc>
    grpc::Status call(Rpc rpc) const {
        constexpr auto kRetryPause = std::chrono::milliseconds(50);
        auto deadline = std::chrono::system_clock::now() + options.timeout;
        for (;;) {
            grpc::ClientContext ctx;
            ctx.set_deadline(deadline);
            ctx.set_wait_for_ready(true);
            grpc::Status s = rpc(&ctx);
            if (s.error_code() != grpc::StatusCode::UNAVAILABLE ||
                std::chrono::system_clock::now() + kRetryPause >= deadline) {
                return s;
            }
            std::this_thread::sleep_for(kRetryPause);
        }
    }

    // An errno-like error for a failed call `what`, naming the endpoint.
    Error error(const grpc::Status& s, std::string_view what) const {
        switch (s.error_code()) {
            case grpc::StatusCode::DEADLINE_EXCEEDED:
            case grpc::StatusCode::UNAVAILABLE: {
                // The channel's state tells "never connected" from "connected, no answer".
                grpc_connectivity_state state = channel->GetState(false);
                if (state != GRPC_CHANNEL_READY) {
                    return Error{ECONNREFUSED,
                                 fmt::format("etcd at {} is unreachable: no connection within {} ms ({}: {})",
                                             endpoint, options.timeout.count(), what, s.error_message())};
                }
                return Error{ETIMEDOUT, fmt::format("etcd at {} did not answer {} within {} ms", endpoint,
                                                    what, options.timeout.count())};
            }
            case grpc::StatusCode::INVALID_ARGUMENT:
                return Error{EINVAL,
                             fmt::format("etcd at {} refused {}: {}", endpoint, what, s.error_message())};
            case grpc::StatusCode::RESOURCE_EXHAUSTED:
                return Error{E2BIG,
                             fmt::format("etcd at {} refused {}: {}", endpoint, what, s.error_message())};
            default:
                return Error{EIO, fmt::format("etcd at {}: {} failed (gRPC code {}): {}", endpoint, what,
                                              static_cast<int>(s.error_code()), s.error_message())};
        }
    }

    Status put(const std::string& key, const std::string& value) {
        etcdserverpb::PutRequest req;
        req.set_key(key);
        req.set_value(value);
        etcdserverpb::PutResponse resp;
        grpc::Status s = call([&](grpc::ClientContext* ctx) { return stub->Put(ctx, req, &resp); });
        if (!s.ok()) {
            return std::unexpected(error(s, fmt::format("put '{}'", key)));
        }
        return ok();
    }

    Result<KvPairs> range(const std::string& key, const std::string& range_end, int64_t limit,
                          std::string_view what) {
        etcdserverpb::RangeRequest req;
        req.set_key(key);
        req.set_range_end(range_end);
        req.set_limit(limit);
        req.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
        req.set_sort_target(etcdserverpb::RangeRequest::KEY);
        etcdserverpb::RangeResponse resp;
        grpc::Status s = call([&](grpc::ClientContext* ctx) { return stub->Range(ctx, req, &resp); });
        if (!s.ok()) {
            return std::unexpected(error(s, what));
        }
        KvPairs out;
        out.reserve(static_cast<std::size_t>(resp.kvs_size()));
        for (auto& kv : *resp.mutable_kvs()) {
            out.emplace_back(std::move(*kv.mutable_key()), std::move(*kv.mutable_value()));
        }
        return out;
    }

    Result<std::optional<std::string>> get(const std::string& key) {
        auto kvs = range(key, "", 0, fmt::format("get '{}'", key));
        if (!kvs) {
            return std::unexpected(kvs.error());
        }
        if (kvs->empty()) {
            return std::nullopt;
        }
        return std::optional{std::move(kvs->front().second)};
    }

    Result<KvPairs> list(const std::string& prefix) {
        // An empty prefix is every key: key "\0" with range_end "\0".
        std::string key = prefix.empty() ? std::string(1, '\0') : prefix;
        return range(key, etcd_prefix_end(prefix), 0, fmt::format("list '{}'", prefix));
    }

    Status remove(const std::string& key) {
        etcdserverpb::DeleteRangeRequest req;
        req.set_key(key);
        etcdserverpb::DeleteRangeResponse resp;
        grpc::Status s = call([&](grpc::ClientContext* ctx) { return stub->DeleteRange(ctx, req, &resp); });
        if (!s.ok()) {
            return std::unexpected(error(s, fmt::format("remove '{}'", key)));
        }
        return ok();
    }
};

Result<std::shared_ptr<EtcdStore>> EtcdStore::open(std::string endpoint, EtcdOptions options) {
    if (endpoint.empty()) {
        return make_error(EINVAL, "the etcd endpoint is empty");
    }
    std::shared_ptr<EtcdStore> store(new EtcdStore(std::move(endpoint), options));
    // One read proves that etcd answers (a key that is never written: nothing comes back).
    auto probe = store->_client->range(std::string(1, '\0'), "", 1, "a first read");
    if (!probe) {
        return std::unexpected(probe.error());
    }
    return store;
}

EtcdStore::EtcdStore(std::string endpoint, EtcdOptions options)
    : _endpoint(std::move(endpoint)), _client(std::make_unique<Client>(_endpoint, options)) {}

EtcdStore::~EtcdStore() {
    _worker.drain();
}

Task<Status> EtcdStore::put(std::string key, std::string value) {
    if (key.empty()) {
        co_return make_error(EINVAL, "the key is empty");
    }
    co_return co_await _worker.call<Status>([this, &key, &value] { return _client->put(key, value); });
}

Task<Result<std::optional<std::string>>> EtcdStore::get(std::string key) {
    if (key.empty()) {
        co_return make_error(EINVAL, "the key is empty");
    }
    co_return co_await _worker.call<Result<std::optional<std::string>>>(
        [this, &key] { return _client->get(key); });
}

Task<Status> EtcdStore::remove(std::string key) {
    if (key.empty()) {
        co_return make_error(EINVAL, "the key is empty");
    }
    co_return co_await _worker.call<Status>([this, &key] { return _client->remove(key); });
}

Task<Result<KvPairs>> EtcdStore::list(std::string prefix) {
    co_return co_await _worker.call<Result<KvPairs>>([this, &prefix] { return _client->list(prefix); });
}

}  // namespace ms::store
