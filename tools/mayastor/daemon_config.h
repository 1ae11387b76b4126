// The daemon's configuration file (-y config.yaml). Every key is optional and mirrors a
// command-line option, which wins when both are given; `pools` lists pools to create or import
// at start. An unknown key is an error that names it. Schema (docs/config.md):
//
//   reactor_mask: "0x3"            # -m   (or cores: "0,2-3", -l; not both)
//   cores: "0-1"                   # -l
//   log_level: info                # -L   trace|debug|info|warn|error
//   busy_poll_us: 0                # --busy-poll-us
//   devices: ["malloc:///m0?size_mb=64"]   # -d (a list; added before the -d options)
//   node_name: node-1              # -N
//   grpc_endpoint: "0.0.0.0:10124" # -g
//   json_rpc_socket: /var/tmp/mayastor.sock  # -r
//   store_endpoint: "etcd:2379"    # -p   (etcd; or store_dir, not both)
//   store_dir: /var/lib/mayastor/store        # --store-dir
//   pools_file: /etc/mayastor/pools.yaml     # -P
//   nvmf_address: "0.0.0.0"        # --nvmf-address  (NVMe-oF/TCP listen address)
//   nvmf_replica_port: 8420        # --nvmf-port
//   nvmf_nexus_port: 4421          # --nvmf-nexus-port
//   nbd_address: "0.0.0.0"         # --nbd-address   (NBD server listen address)
//   nbd_port: 10809                # --nbd-port
//   nbd_socket: /run/mayastor.nbd  # --nbd-socket    (NBD on a Unix socket too)
//   pools:                         # created or imported at start
//     - name: pool-1
//       disks: ["aio:///dev/sdb"]
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pools_file.h"

namespace ms::daemon {

struct DaemonConfig {
    std::optional<std::string> reactor_mask;
    std::optional<std::string> cores;
    std::optional<std::string> log_level;
    std::optional<uint64_t> busy_poll_us;
    std::vector<std::string> devices;
    std::optional<std::string> node_name;
    std::optional<std::string> grpc_endpoint;
    std::optional<std::string> json_rpc_socket;
    std::optional<std::string> store_endpoint;
    std::optional<std::string> store_dir;
    std::optional<std::string> pools_file;
    std::optional<std::string> nvmf_address;
    std::optional<uint64_t> nvmf_replica_port;
    std::optional<uint64_t> nvmf_nexus_port;
    std::optional<std::string> nbd_address;
    std::optional<uint64_t> nbd_port;
    std::optional<std::string> nbd_socket;
    std::vector<PoolSpec> pools;
};

// `where` names the file in messages.
Result<DaemonConfig> parse_daemon_config(std::string_view text, std::string_view where);
Result<DaemonConfig> load_daemon_config(const std::string& path);

}  // namespace ms::daemon
