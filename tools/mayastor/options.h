// The daemon's command line: what each option means, its defaults and its validation. Nothing
// here starts anything; main.cc hands the result to run_daemon().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pools_file.h"
#include "store/open_store.h"

namespace ms::daemon {

// A TCP endpoint given as `host[:port]` (IPv6 literals in brackets).
struct Endpoint {
    std::string host;
    uint16_t port = 0;

    std::string to_string() const;
};

inline constexpr uint16_t kDefaultGrpcPort = 10124;
inline constexpr uint16_t kDefaultStorePort = 2379;
inline constexpr std::string_view kDefaultJsonRpcSocket = "/var/tmp/mayastor.sock";

struct DaemonOptions {
    // CPUs to run one reactor each on (from -m or -l), sorted.
    std::vector<int> cores;
    std::string log_level = "info";
    std::chrono::microseconds busy_poll{0};
    // Device URIs to create at start, in order (-d, repeatable).
    std::vector<std::string> devices;
    std::string node_name;
    // Where the gRPC API (Mayastor, BdevRpc, JsonRpc) and the JSON-RPC socket are served.
    Endpoint grpc_endpoint{"0.0.0.0", kDefaultGrpcPort};
    std::string json_rpc_socket{kDefaultJsonRpcSocket};
    // The store of nexus child health (src/store): etcd at this endpoint (-p), else the file
    // store in store_dir (--store-dir).
    std::optional<Endpoint> store_endpoint;
    std::string store_dir{store::kDefaultStoreDir};
    // Pools of the config file (-y) to create or import at start, before the pools file's.
    std::vector<PoolSpec> pools;
    // -P: the pools file, rewritten when a pool is created or destroyed over the API.
    std::string pools_file;
    // The IP placed in URIs the API returns: env MY_POD_IP (IPv4), else 127.0.0.1. Also the
    // address the NVMe-oF target advertises.
    std::string pod_ip = "127.0.0.1";
    // The NVMe-oF/TCP target: listen address (IPv4) and its two ports (0 = a free port, tests).
    std::string nvmf_address = "0.0.0.0";
    uint16_t nvmf_replica_port = 8420;
    uint16_t nvmf_nexus_port = 4421;
    std::string nbd_address = "0.0.0.0";
    uint16_t nbd_port = 10809;
    std::string nbd_socket;  // empty: no Unix socket
};

// What the command line asks for: run with `options`, or exit at once with `exit_code` (0 after
// --help or --version; 1 after a usage error, which has been printed to stderr).
struct CommandLine {
    std::optional<DaemonOptions> options;
    int exit_code = 0;
};

// `env_pod_ip` is the value of MY_POD_IP, if set.
CommandLine parse_command_line(int argc, const char* const* argv, std::optional<std::string> env_pod_ip);

// `host[:port]`: host is an IP literal ([v6] in brackets) or, when `allow_names`, a DNS name.
Result<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port, bool allow_names);

}  // namespace ms::daemon
