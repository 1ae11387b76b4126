#include "options.h"

#include <arpa/inet.h>
#include <sched.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <set>

#include "core/cpu_list.h"
#include "core/uri.h"
#include "daemon_config.h"

#ifndef MS_VERSION
#define MS_VERSION "0.0.0"
#endif

namespace ms::daemon {

namespace {

constexpr unsigned kMaxBusyPollUs = 1'000'000;

bool is_ip_literal(const std::string& host) {
    in_addr v4{};
    in6_addr v6{};
    return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

bool is_dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') {
        return false;
    }
    return std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '.';
    });
}

// Node names are Kubernetes node names: DNS-subdomain-like, at most 253 characters.
Status check_node_name(std::string_view name) {
    bool valid = !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
               c == '.' || c == '_';
    });
    if (!valid) {
        return errorf(EINVAL, "bad node name '{}' (1-253 characters of letters, digits, '-', '.', '_')",
                      name);
    }
    return ok();
}

Status check_socket_path(std::string_view path) {
    if (path.empty()) {
        return make_error(EINVAL, "the JSON-RPC socket path is empty");
    }
    if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
        return errorf(EINVAL, "JSON-RPC socket path '{}' is longer than {} characters", path,
                      sizeof(sockaddr_un{}.sun_path) - 1);
    }
    return ok();
}

// Every core must be one this process may run on (the affinity mask, which also bounds it by
// the CPUs that exist); a reactor pinned elsewhere would not be where the user asked.
Status check_cores_available(const std::vector<int>& cores) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
        return errno_error(errno, "sched_getaffinity");
    }
    for (int c : cores) {
        if (c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed)) {
            std::string avail;
            for (int i = 0; i < CPU_SETSIZE; ++i) {
                if (CPU_ISSET(i, &allowed)) {
                    avail += (avail.empty() ? "" : ",") + std::to_string(i);
                }
            }
            return errorf(EINVAL, "core {} is not available here (this process may run on cores {})", c,
                          avail);
        }
    }
    return ok();
}

std::string host_name() {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
        return "mayastor-node";
    }
    return buf;
}

int usage_error(std::string_view message) {
    std::cerr << "mayastor: error: " << message << "\nRun 'mayastor --help' for the options.\n";
    return 1;
}

}  // namespace

std::string Endpoint::to_string() const {
    if (host.find(':') != std::string::npos) {
        return fmt::format("[{}]:{}", host, port);
    }
    return fmt::format("{}:{}", host, port);
}

Result<Endpoint> parse_endpoint(std::string_view text, uint16_t default_port, bool allow_names) {
    std::string what = allow_names ? "host[:port]" : "ip[:port]";
    if (text.empty() || text.find_first_of("/?#@") != std::string_view::npos) {
        return errorf(EINVAL, "bad endpoint '{}' (expected {})", text, what);
    }
    auto uri = parse_uri("tcp://" + std::string(text));
    if (!uri && uri.error().message.find("port") != std::string::npos) {
        return errorf(EINVAL, "bad endpoint '{}': the port must be 1-65535", text);
    }
    if (!uri || uri->host.empty() || !uri->path.empty() || !uri->query.empty()) {
        return errorf(EINVAL, "bad endpoint '{}' (expected {})", text, what);
    }
    if (!is_ip_literal(uri->host) && !(allow_names && is_dns_name(uri->host))) {
        return errorf(EINVAL, "bad endpoint '{}': '{}' is not an IP address", text, uri->host);
    }
    return Endpoint{uri->host, uri->port.value_or(default_port)};
}

CommandLine parse_command_line(int argc, const char* const* argv, std::optional<std::string> env_pod_ip) {
    CLI::App app{
        "mayastor: the storage data plane daemon. Creates the devices given with -d and the pools of the\n"
        "config and pools files, serves the gRPC management API (-g) and the JSON-RPC socket (-r), and\n"
        "runs until SIGTERM or SIGINT."};
    app.name("mayastor");
    app.get_formatter()->column_width(34);
    app.set_version_flag("-V,--version", "mayastor " MS_VERSION);
    app.footer(
        "Device URIs: malloc:///NAME?size_mb=N, null:///NAME?size_mb=N, uring:///PATH, aio:///PATH or a\n"
        "bare path, bdev:///NAME, error:///NAME?base=NAME; README.md lists every parameter.\n"
        "Command-line options override the config file (-y, docs/config.md).\n"
        "Environment: MY_POD_IP (IPv4) is the address put in the URIs the API returns.");

    std::string mask;
    std::string list;
    std::string log_level = "info";
    unsigned busy_poll_us = 0;
    std::vector<std::string> devices;
    std::string node_name;
    std::string grpc = "0.0.0.0:" + std::to_string(kDefaultGrpcPort);
    std::string json_rpc{kDefaultJsonRpcSocket};
    std::string store_endpoint;
    std::string store_dir{store::kDefaultStoreDir};
    std::string config_file;
    std::string pools_file;
    std::string nvmf_address = "0.0.0.0";
    unsigned nvmf_port = 8420;
    unsigned nvmf_nexus_port = 4421;
    std::string nbd_address = "0.0.0.0";
    unsigned nbd_port = 10809;
    std::string nbd_socket;

    auto* mask_opt = app.add_option("-m,--reactor-mask", mask,
                                    "Hex mask of the cores to run one reactor each on (default 0x1)")
                         ->type_name("MASK");
    auto* list_opt =
        app.add_option("-l,--cores", list, "Cores to run one reactor each on, e.g. 0,2-3 (instead of -m)")
            ->type_name("LIST");
    auto* level_opt = app.add_option("-L,--log-level", log_level, "Log level")
                          ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
                          ->type_name("LEVEL")
                          ->capture_default_str();
    auto* busy_opt =
        app.add_option("--busy-poll-us", busy_poll_us,
                       "Keep polling this many microseconds after activity before sleeping in the kernel")
            ->type_name("N")
            ->check(CLI::Range(0u, kMaxBusyPollUs))
            ->capture_default_str();
    app.add_option("-d,--device", devices, "Create a device from this URI at start (repeatable)")
        ->type_name("URI")
        ->allow_extra_args(false);
    auto* node_opt = app.add_option("-N,--node-name", node_name, "Name of this node (default: the host name)")
                         ->type_name("NAME");
    auto* grpc_opt =
        app.add_option("-g,--grpc-endpoint", grpc, "Serve the gRPC API on ip[:port] (port 10124 by default)")
            ->type_name("IP[:PORT]")
            ->capture_default_str();
    auto* json_rpc_opt =
        app.add_option("-r,--json-rpc-socket", json_rpc, "Serve JSON-RPC on this Unix socket")
            ->type_name("PATH")
            ->capture_default_str();
    auto* store_opt = app.add_option("-p,--store-endpoint", store_endpoint,
                                     "Keep the store (nexus child health) in etcd at host[:port], port "
                                     "2379 by default, instead of --store-dir")
                          ->type_name("HOST[:PORT]");
    auto* store_dir_opt = app.add_option("--store-dir", store_dir,
                                         "Directory of the embedded store (nexus child health; created "
                                         "0700 if missing), when -p is not given")
                              ->type_name("DIR")
                              ->capture_default_str();
    app.add_option("-y,--config", config_file,
                   "YAML config file: the settings of these options and a list of pools (docs/config.md)")
        ->type_name("FILE");
    auto* pools_opt =
        app.add_option("-P,--pools-file", pools_file,
                       "YAML pools file: pools created or imported at start, rewritten when the "
                       "API creates or destroys a pool")
            ->type_name("FILE");

    auto* nvmf_address_opt =
        app.add_option("--nvmf-address", nvmf_address, "IPv4 address the NVMe-oF/TCP target listens on")
            ->type_name("IP")
            ->capture_default_str();
    auto* nvmf_port_opt =
        app.add_option("--nvmf-port", nvmf_port,
                       "NVMe-oF/TCP port of the subsystems of replicas and nexuses (0 = any free port)")
            ->type_name("PORT")
            ->check(CLI::Range(0u, 65535u))
            ->capture_default_str();
    auto* nvmf_nexus_port_opt =
        app.add_option("--nvmf-nexus-port", nvmf_nexus_port,
                       "Second NVMe-oF/TCP port the target listens on (0 = any free port)")
            ->type_name("PORT")
            ->check(CLI::Range(0u, 65535u))
            ->capture_default_str();
    auto* nbd_address_opt =
        app.add_option("--nbd-address", nbd_address, "IPv4 address the NBD server listens on")
            ->type_name("IP")
            ->capture_default_str();
    auto* nbd_port_opt =
        app.add_option("--nbd-port", nbd_port, "TCP port of the NBD server (0 = any free port)")
            ->type_name("PORT")
            ->check(CLI::Range(0u, 65535u))
            ->capture_default_str();
    auto* nbd_socket_opt =
        app.add_option("--nbd-socket", nbd_socket, "Also serve NBD on this Unix socket (default: none)")
            ->type_name("PATH");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return {std::nullopt, 0};
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << "\n";
        return {std::nullopt, 0};
    } catch (const CLI::ParseError& e) {
        return {std::nullopt, usage_error(e.what())};
    }

    DaemonOptions o;
    if (mask_opt->count() > 0 && list_opt->count() > 0) {
        return {std::nullopt, usage_error("-m/--reactor-mask and -l/--cores cannot be used together")};
    }
    bool use_mask = mask_opt->count() > 0;
    bool use_list = list_opt->count() > 0;
    // The config file fills in what the command line leaves out.
    if (!config_file.empty()) {
        auto config = load_daemon_config(config_file);
        if (!config) {
            return {std::nullopt, usage_error(config.error().message)};
        }
        auto& c = *config;
        auto fill = [](CLI::Option* opt, std::string& value, const std::optional<std::string>& from_file) {
            if (opt->count() == 0 && from_file) {
                value = *from_file;
            }
        };
        if (!use_mask && !use_list) {
            fill(mask_opt, mask, c.reactor_mask);
            fill(list_opt, list, c.cores);
            use_mask = c.reactor_mask.has_value();
            use_list = c.cores.has_value();
        }
        if (level_opt->count() == 0 && c.log_level) {
            static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error"};
            if (!kLevels.contains(*c.log_level)) {
                return {std::nullopt,
                        usage_error(fmt::format("{}: log_level must be trace, debug, info, warn or "
                                                "error, not '{}'",
                                                config_file, *c.log_level))};
            }
            log_level = *c.log_level;
        }
        if (busy_opt->count() == 0 && c.busy_poll_us) {
            if (*c.busy_poll_us > kMaxBusyPollUs) {
                return {std::nullopt, usage_error(fmt::format("{}: busy_poll_us must be at most {}",
                                                              config_file, kMaxBusyPollUs))};
            }
            busy_poll_us = static_cast<unsigned>(*c.busy_poll_us);
        }
        devices.insert(devices.begin(), c.devices.begin(), c.devices.end());
        fill(node_opt, node_name, c.node_name);
        fill(grpc_opt, grpc, c.grpc_endpoint);
        fill(json_rpc_opt, json_rpc, c.json_rpc_socket);
        fill(store_opt, store_endpoint, c.store_endpoint);
        fill(store_dir_opt, store_dir, c.store_dir);
        fill(pools_opt, pools_file, c.pools_file);
        fill(nvmf_address_opt, nvmf_address, c.nvmf_address);
        if (nvmf_port_opt->count() == 0 && c.nvmf_replica_port) {
            nvmf_port = static_cast<unsigned>(*c.nvmf_replica_port);
        }
        if (nvmf_nexus_port_opt->count() == 0 && c.nvmf_nexus_port) {
            nvmf_nexus_port = static_cast<unsigned>(*c.nvmf_nexus_port);
        }
        fill(nbd_address_opt, nbd_address, c.nbd_address);
        if (nbd_port_opt->count() == 0 && c.nbd_port) {
            nbd_port = static_cast<unsigned>(*c.nbd_port);
        }
        fill(nbd_socket_opt, nbd_socket, c.nbd_socket);
        o.pools = std::move(c.pools);
    }
    o.pools_file = pools_file;
    Result<std::vector<int>> cores = std::vector<int>{0};
    if (use_mask) {
        cores = parse_core_mask(mask);
    } else if (use_list) {
        cores = parse_core_list(list);
    }
    if (!cores) {
        return {std::nullopt, usage_error(cores.error().message)};
    }
    if (Status s = check_cores_available(*cores); !s) {
        return {std::nullopt, usage_error(s.error().message)};
    }
    o.cores = std::move(*cores);
    o.log_level = log_level;
    o.busy_poll = std::chrono::microseconds(busy_poll_us);
    o.devices = std::move(devices);

    o.node_name = node_name.empty() ? host_name() : node_name;
    if (Status s = check_node_name(o.node_name); !s) {
        return {std::nullopt, usage_error(s.error().message)};
    }
    auto grpc_ep = parse_endpoint(grpc, kDefaultGrpcPort, false);
    if (!grpc_ep) {
        return {std::nullopt, usage_error(fmt::format("-g: {}", grpc_ep.error().message))};
    }
    o.grpc_endpoint = *grpc_ep;
    if (Status s = check_socket_path(json_rpc); !s) {
        return {std::nullopt, usage_error(fmt::format("-r: {}", s.error().message))};
    }
    o.json_rpc_socket = json_rpc;
    if (!store_endpoint.empty()) {
        auto store_ep = parse_endpoint(store_endpoint, kDefaultStorePort, true);
        if (!store_ep) {
            return {std::nullopt, usage_error(fmt::format("-p: {}", store_ep.error().message))};
        }
        o.store_endpoint = *store_ep;
    }
    // Both named (on the command line or in the config file) is a mistake, not a preference.
    bool store_dir_given = store_dir_opt->count() > 0 || store_dir != store::kDefaultStoreDir;
    if (o.store_endpoint && store_dir_given) {
        return {std::nullopt, usage_error("-p (etcd) and --store-dir (file store) cannot be used together")};
    }
    if (store_dir.empty()) {
        return {std::nullopt, usage_error("--store-dir: the directory is empty")};
    }
    o.store_dir = store_dir;
    in_addr nvmf_addr{};
    if (inet_pton(AF_INET, nvmf_address.c_str(), &nvmf_addr) != 1) {
        return {std::nullopt,
                usage_error(fmt::format("--nvmf-address: '{}' is not an IPv4 address", nvmf_address))};
    }
    o.nvmf_address = nvmf_address;
    o.nvmf_replica_port = static_cast<uint16_t>(nvmf_port);
    o.nvmf_nexus_port = static_cast<uint16_t>(nvmf_nexus_port);
    if (o.nvmf_replica_port != 0 && o.nvmf_replica_port == o.nvmf_nexus_port) {
        return {std::nullopt, usage_error(fmt::format("--nvmf-port and --nvmf-nexus-port are both {}",
                                                      o.nvmf_replica_port))};
    }
    in_addr nbd_addr{};
    if (inet_pton(AF_INET, nbd_address.c_str(), &nbd_addr) != 1) {
        return {std::nullopt,
                usage_error(fmt::format("--nbd-address: '{}' is not an IPv4 address", nbd_address))};
    }
    o.nbd_address = nbd_address;
    o.nbd_port = static_cast<uint16_t>(nbd_port);
    if (!nbd_socket.empty()) {
        if (Status s = check_socket_path(nbd_socket); !s) {
            return {std::nullopt, usage_error(fmt::format("--nbd-socket: {}", s.error().message))};
        }
    }
    o.nbd_socket = nbd_socket;
    if (env_pod_ip) {
        in_addr addr{};
        if (inet_pton(AF_INET, env_pod_ip->c_str(), &addr) != 1) {
            return {std::nullopt,
                    usage_error(fmt::format("MY_POD_IP='{}' is not an IPv4 address", *env_pod_ip))};
        }
        o.pod_ip = *env_pod_ip;
    }
    return {std::move(o), 0};
}

}  // namespace ms::daemon
