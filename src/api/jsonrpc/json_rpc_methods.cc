#include "api/jsonrpc/json_rpc_methods.h"

#include <charconv>

#include "api/jsonrpc/base64.h"
#include "api/ops/bdev_ops.h"
#include "api/ops/share_ops.h"
#include "lvs/lvs.h"

namespace ms::api::jsonrpc {

namespace {

const target::ShareRegistry& shares_of(const MethodContext& ctx) {
    static const target::ShareRegistry none;
    return ctx.shares != nullptr ? *ctx.shares : none;
}

// Parameter access: every failure is EINVAL, which the server reports as -32602.
Status expect_object(const json& params, bool required) {
    if (params.is_null() && !required) {
        return ok();
    }
    if (!params.is_object()) {
        return make_error(EINVAL, "params must be an object");
    }
    return ok();
}

Status reject_unknown(const json& params, std::initializer_list<std::string_view> known) {
    if (!params.is_object()) {
        return ok();
    }
    for (const auto& [key, value] : params.items()) {
        bool found = false;
        for (auto k : known) {
            found |= key == k;
        }
        if (!found) {
            return errorf(EINVAL, "unknown parameter '{}'", key);
        }
    }
    return ok();
}

Result<std::optional<std::string>> opt_string(const json& params, const char* key) {
    if (!params.is_object() || !params.contains(key) || params[key].is_null()) {
        return std::optional<std::string>();
    }
    if (!params[key].is_string()) {
        return errorf(EINVAL, "'{}' must be a string", key);
    }
    return std::optional<std::string>(params[key].get<std::string>());
}

Result<std::string> req_string(const json& params, const char* key) {
    auto v = opt_string(params, key);
    if (!v) {
        return std::unexpected(v.error());
    }
    if (!*v || (*v)->empty()) {
        return errorf(EINVAL, "'{}' is required", key);
    }
    return **v;
}

Result<std::optional<uint64_t>> opt_u64(const json& params, const char* key) {
    if (!params.is_object() || !params.contains(key) || params[key].is_null()) {
        return std::optional<uint64_t>();
    }
    const json& v = params[key];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
        return errorf(EINVAL, "'{}' must be a non-negative integer", key);
    }
    return std::optional<uint64_t>(v.get<uint64_t>());
}

Result<uint64_t> req_u64(const json& params, const char* key) {
    auto v = opt_u64(params, key);
    if (!v) {
        return std::unexpected(v.error());
    }
    if (!*v) {
        return errorf(EINVAL, "'{}' is required", key);
    }
    return **v;
}

// Reads a method's params: checks that they are an object (and, given the known names, that
// they hold no others), then reads one value a call. The first failure is kept and every read
// after it is skipped, so a method reads all its params and then asks for error() once.
class Params {
   public:
    Params(const json& params, bool required) : _params(params) { keep(expect_object(params, required)); }
    Params(const json& params, bool required, std::initializer_list<std::string_view> known)
        : Params(params, required) {
        keep(reject_unknown(params, known));
    }

    std::string str(const char* key) { return read(&req_string, key); }
    std::optional<std::string> opt_str(const char* key) { return read(&opt_string, key); }
    uint64_t u64(const char* key) { return read(&req_u64, key); }
    std::optional<uint64_t> opt_u64(const char* key) { return read(&jsonrpc::opt_u64, key); }

    std::optional<std::unexpected<Error>> error() const {
        if (!_error) {
            return std::nullopt;
        }
        return std::unexpected(*_error);
    }

   private:
    template <typename T>
    void keep(const Result<T>& r) {
        if (!r && !_error) {
            _error = r.error();
        }
    }

    template <typename T>
    T read(Result<T> (*fn)(const json&, const char*), const char* key) {
        if (_error) {
            return T();
        }
        Result<T> r = fn(_params, key);
        keep(r);
        return r ? std::move(*r) : T();
    }

    const json& _params;
    std::optional<Error> _error;
};

json to_json(const BdevInfo& b) {
    return json{{"name", b.name},
                {"uuid", b.uuid},
                {"num_blocks", b.num_blocks},
                {"blk_size", b.blk_size},
                {"claimed", !b.claimed_by.empty()},
                {"claimed_by", b.claimed_by.empty() ? "Orphaned" : b.claimed_by},
                {"uri", b.uri},
                {"product_name", b.product},
                {"share_uri", b.share_uri}};
}

std::string_view kind_name(lvs::LvolKind k) {
    switch (k) {
        case lvs::LvolKind::Replica:
            return "replica";
        case lvs::LvolKind::Snapshot:
            return "snapshot";
        case lvs::LvolKind::Clone:
            return "clone";
    }
    return "unknown";
}

std::string_view share_name(lvs::ShareProtocol p) {
    return share_protocol_name(p).value_or("none");
}

// ---- the methods ----

Task<Result<json>> rpc_get_methods(const MethodContext&, json params) {
    if (auto e = Params(params, false).error()) {
        co_return *e;
    }
    json names = json::array();
    for (const auto& m : methods()) {
        names.push_back(std::string(m.name));
    }
    co_return names;
}

Task<Result<json>> get_version(const MethodContext& ctx, json params) {
    if (auto e = Params(params, false).error()) {
        co_return *e;
    }
    // "0.1.0" -> major 0, minor 1, patch 0; anything after the numbers is the suffix.
    json fields{{"major", 0}, {"minor", 0}, {"patch", 0}, {"suffix", ""}};
    std::string_view v = ctx.version;
    const char* keys[] = {"major", "minor", "patch"};
    for (const char* key : keys) {
        unsigned n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc()) {
            break;
        }
        fields[key] = n;
        v.remove_prefix(static_cast<std::size_t>(end - v.data()));
        if (!v.empty() && v.front() == '.') {
            v.remove_prefix(1);
        }
    }
    fields["suffix"] = std::string(v);
    co_return json{{"version", "mayastor " + ctx.version}, {"fields", fields}};
}

Task<Result<json>> bdev_list(const MethodContext& ctx, json params) {
    Params p(params, false, {"name"});
    auto name = p.opt_str("name");
    if (auto e = p.error()) {
        co_return *e;
    }
    json out = json::array();
    for (auto& b : list_bdevs()) {
        if (!name || b.name == *name) {
            b.share_uri = share_uri(shares_of(ctx), b.name);
            out.push_back(to_json(b));
        }
    }
    if (name && out.empty()) {
        co_return errorf(ENOENT, "no device named '{}'", *name);
    }
    co_return out;
}

Task<Result<json>> bdev_create(const MethodContext&, json params) {
    Params p(params, true, {"uri"});
    auto uri = p.str("uri");
    if (auto e = p.error()) {
        co_return *e;
    }
    auto name = co_await create_bdev(uri);
    if (!name) {
        co_return std::unexpected(name.error());
    }
    co_return json(*name);
}

Task<Result<json>> bdev_destroy(const MethodContext&, json params) {
    Params p(params, true, {"uri", "name"});
    auto uri = p.opt_str("uri");
    auto name = p.opt_str("name");
    if (auto e = p.error()) {
        co_return *e;
    }
    if (uri.has_value() == name.has_value()) {
        co_return make_error(EINVAL, "give exactly one of 'uri' and 'name'");
    }
    std::string target = uri.has_value() ? *uri : *name;
    if (name.has_value() && target.find("://") != std::string::npos) {
        co_return errorf(EINVAL, "'{}' is a URI, not a name", target);
    }
    Status s = co_await destroy_bdev(target);
    if (!s) {
        // "No such device" is ENOENT on this interface (-2), like every other unknown object.
        if (s.error().code == ENODEV) {
            co_return make_error(ENOENT, s.error().message);
        }
        co_return std::unexpected(s.error());
    }
    co_return json(true);
}

Task<Result<json>> pool_list(const MethodContext&, json params) {
    if (auto e = Params(params, false).error()) {
        co_return *e;
    }
    json out = json::array();
    for (const auto& p : lvs::PoolRegistry::instance().list()) {
        out.push_back(json{{"name", p.name},
                           {"disks", json::array({p.disk})},
                           {"uuid", p.uuid.to_string()},
                           {"state", "online"},
                           {"capacity", p.capacity},
                           {"used", p.used},
                           {"cluster_size", p.cluster_size},
                           {"block_size", p.block_size}});
    }
    co_return out;
}

Task<Result<json>> replica_list(const MethodContext& ctx, json params) {
    if (auto e = Params(params, false).error()) {
        co_return *e;
    }
    json out = json::array();
    auto add = [&](const lvs::ReplicaInfo& r) {
        out.push_back(json{{"uuid", r.name},
                           {"lvol_uuid", r.uuid.to_string()},
                           {"pool", r.pool},
                           {"kind", kind_name(r.kind)},
                           {"thin", r.thin},
                           {"size", r.size},
                           {"allocated", r.allocated},
                           {"share", share_name(r.share)},
                           {"uri", replica_uri(shares_of(ctx), r)},
                           {"parent", r.parent},
                           {"created", r.created}});
    };
    auto& pools = lvs::PoolRegistry::instance();
    for (const auto& r : pools.list_replicas()) {
        add(r);
    }
    for (const auto& s : pools.list_snapshots()) {
        add(s);
    }
    co_return out;
}

Task<Result<json>> bdev_write(const MethodContext&, json params) {
    Params p(params, true, {"name", "offset", "data", "pattern", "length", "flush"});
    auto name = p.str("name");
    auto offset = p.u64("offset");
    auto data_text = p.opt_str("data");
    auto length = p.opt_u64("length");
    if (auto e = p.error()) {
        co_return *e;
    }
    bool has_pattern = params.contains("pattern") && !params["pattern"].is_null();
    bool flush = true;
    if (params.contains("flush")) {
        if (!params["flush"].is_boolean()) {
            co_return make_error(EINVAL, "'flush' must be true or false");
        }
        flush = params["flush"].get<bool>();
    }
    std::vector<uint8_t> data;
    if (data_text.has_value() == has_pattern) {
        co_return make_error(EINVAL, "give exactly one of 'data' (base64) and 'pattern' (with 'length')");
    }
    if (data_text.has_value()) {
        if (length.has_value()) {
            co_return make_error(EINVAL, "'length' goes with 'pattern', not with 'data'");
        }
        if (data_text->size() > (kMaxDiagnosticIo + 2) / 3 * 4) {
            co_return errorf(EINVAL, "'data' holds more than {} bytes", kMaxDiagnosticIo);
        }
        auto decoded = base64_decode(*data_text);
        if (!decoded) {
            co_return errorf(EINVAL, "'data': {}", decoded.error().message);
        }
        data = std::move(*decoded);
    } else {
        if (!length.has_value()) {
            co_return make_error(EINVAL, "'pattern' needs 'length'");
        }
        uint64_t n = *length;
        if (n == 0 || n > kMaxDiagnosticIo) {
            co_return errorf(EINVAL, "length {} must be in 1..{} bytes", n, kMaxDiagnosticIo);
        }
        const json& p = params["pattern"];
        if (p.is_number_integer() && p.get<int64_t>() >= 0 && p.get<int64_t>() <= 255) {
            data.assign(n, static_cast<uint8_t>(p.get<int64_t>()));
        } else if (p.is_string() && !p.get<std::string>().empty()) {
            const std::string text = p.get<std::string>();
            data.resize(n);
            for (uint64_t i = 0; i < n; ++i) {
                data[i] = static_cast<uint8_t>(text[i % text.size()]);
            }
        } else {
            co_return make_error(EINVAL, "'pattern' must be a byte value 0-255 or a non-empty string");
        }
    }
    if (data.empty()) {
        co_return make_error(EINVAL, "nothing to write");
    }
    uint64_t n = data.size();
    Status s = co_await write_bdev(name, offset, std::move(data), flush);
    if (!s) {
        co_return std::unexpected(s.error());
    }
    co_return json(n);
}

Task<Result<json>> bdev_read(const MethodContext&, json params) {
    Params p(params, true, {"name", "offset", "length"});
    auto name = p.str("name");
    auto offset = p.u64("offset");
    auto length = p.u64("length");
    if (auto e = p.error()) {
        co_return *e;
    }
    auto data = co_await read_bdev(name, offset, length);
    if (!data) {
        co_return std::unexpected(data.error());
    }
    co_return json(base64_encode(*data));
}

constexpr Method kMethods[] = {
    {"rpc_get_methods", &rpc_get_methods},
    {"get_version", &get_version},
    {"mayastor_get_version", &get_version},
    {"bdev_list", &bdev_list},
    {"bdev_create", &bdev_create},
    {"bdev_destroy", &bdev_destroy},
    {"bdev_write", &bdev_write},
    {"bdev_read", &bdev_read},
    {"pool_list", &pool_list},
    {"replica_list", &replica_list},
};

}  // namespace

std::span<const Method> methods() {
    return kMethods;
}

const Method* find_method(std::string_view name) {
    for (const auto& m : kMethods) {
        if (m.name == name) {
            return &m;
        }
    }
    return nullptr;
}

}  // namespace ms::api::jsonrpc
