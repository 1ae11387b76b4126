#include "daemon_config.h"

#include "yaml_util.h"

namespace ms::daemon {

namespace {

Status take_string(const YAML::Node& doc, std::string_view key, std::string_view where,
                   std::optional<std::string>& out) {
    auto v = yaml_string(doc[std::string(key)], key, where);
    if (!v) {
        return std::unexpected(v.error());
    }
    out = std::move(*v);
    return ok();
}

}  // namespace

Result<DaemonConfig> parse_daemon_config(std::string_view text, std::string_view where) {
    auto doc = load_yaml(text, where);
    if (!doc) {
        return std::unexpected(doc.error());
    }
    DaemonConfig c;
    if (doc->IsNull()) {
        return c;
    }
    if (!doc->IsMap()) {
        return errorf(EINVAL, "{}: expected a map of settings at the top level", where);
    }
    const YAML::Node& d = *doc;
    Status s = reject_unknown_keys(
        d,
        {"reactor_mask", "cores", "log_level", "busy_poll_us", "devices", "node_name", "grpc_endpoint",
         "json_rpc_socket", "store_endpoint", "store_dir", "pools_file", "pools", "nvmf_address",
         "nvmf_replica_port", "nvmf_nexus_port", "nbd_address", "nbd_port", "nbd_socket"},
        where, "the configuration");
    for (auto [key, field] :
         {std::pair{"reactor_mask", &c.reactor_mask}, std::pair{"cores", &c.cores},
          std::pair{"log_level", &c.log_level}, std::pair{"node_name", &c.node_name},
          std::pair{"grpc_endpoint", &c.grpc_endpoint}, std::pair{"json_rpc_socket", &c.json_rpc_socket},
          std::pair{"store_endpoint", &c.store_endpoint}, std::pair{"store_dir", &c.store_dir},
          std::pair{"pools_file", &c.pools_file}, std::pair{"nvmf_address", &c.nvmf_address},
          std::pair{"nbd_address", &c.nbd_address}, std::pair{"nbd_socket", &c.nbd_socket}}) {
        if (s) {
            s = take_string(d, key, where, *field);
        }
    }
    if (!s) {
        return std::unexpected(s.error());
    }
    if (c.reactor_mask && c.cores) {
        return errorf(EINVAL, "{}: 'reactor_mask' and 'cores' cannot be used together", where);
    }
    auto busy = yaml_uint(d["busy_poll_us"], "busy_poll_us", where);
    if (!busy) {
        return std::unexpected(busy.error());
    }
    c.busy_poll_us = *busy;
    for (auto [key, field] :
         {std::pair{"nvmf_replica_port", &c.nvmf_replica_port},
          std::pair{"nvmf_nexus_port", &c.nvmf_nexus_port}, std::pair{"nbd_port", &c.nbd_port}}) {
        auto port = yaml_uint(d[key], key, where);
        if (!port) {
            return std::unexpected(port.error());
        }
        if (*port && **port > 65535) {
            return errorf(EINVAL, "{}: '{}' must be a TCP port (0-65535), not {}", where, key, **port);
        }
        *field = *port;
    }
    auto devices = yaml_string_list(d["devices"], "devices", where);
    if (!devices) {
        return std::unexpected(devices.error());
    }
    if (*devices) {
        c.devices = std::move(**devices);
    }
    auto pools = parse_pool_specs(d["pools"], where);
    if (!pools) {
        return std::unexpected(pools.error());
    }
    c.pools = std::move(*pools);
    return c;
}

Result<DaemonConfig> load_daemon_config(const std::string& path) {
    auto text = read_text_file(path);
    if (!text) {
        return std::unexpected(text.error());
    }
    return parse_daemon_config(*text, path);
}

}  // namespace ms::daemon
