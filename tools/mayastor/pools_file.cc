#include "pools_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "bdev/device_factory.h"
#include "core/log.h"
#include "yaml_util.h"

namespace ms::daemon {

Result<std::vector<PoolSpec>> parse_pool_specs(const YAML::Node& pools, std::string_view where) {
    std::vector<PoolSpec> out;
    if (!pools || pools.IsNull()) {
        return out;
    }
    if (!pools.IsSequence()) {
        return errorf(EINVAL, "{}: 'pools' must be a list of {{name, disks}} ({})", where,
                      yaml_position(pools));
    }
    std::set<std::string> names;
    for (const auto& entry : pools) {
        if (!entry.IsMap()) {
            return errorf(EINVAL, "{}: each entry of 'pools' must be a map with 'name' and 'disks' ({})",
                          where, yaml_position(entry));
        }
        if (Status s = reject_unknown_keys(entry, {"name", "disks"}, where, "pool entry"); !s) {
            return std::unexpected(s.error());
        }
        PoolSpec spec;
        auto name = yaml_string(entry["name"], "pool name", where);
        if (!name) {
            return std::unexpected(name.error());
        }
        if (!*name || (*name)->empty()) {
            return errorf(EINVAL, "{}: a pool entry has no 'name' ({})", where, yaml_position(entry));
        }
        spec.name = **name;
        auto disks = yaml_string_list(entry["disks"], fmt::format("disks of pool '{}'", spec.name), where);
        if (!disks) {
            return std::unexpected(disks.error());
        }
        if (!*disks || (*disks)->size() != 1) {
            return errorf(EINVAL, "{}: pool '{}' must have exactly one disk in 'disks' ({})", where,
                          spec.name, yaml_position(entry));
        }
        spec.disks = std::move(**disks);
        if (!names.insert(spec.name).second) {
            return errorf(EINVAL, "{}: pool '{}' is listed twice", where, spec.name);
        }
        out.push_back(std::move(spec));
    }
    return out;
}

Result<std::vector<PoolSpec>> parse_pools_yaml(std::string_view text, std::string_view where) {
    auto doc = load_yaml(text, where);
    if (!doc) {
        return std::unexpected(doc.error());
    }
    if (doc->IsNull()) {
        return std::vector<PoolSpec>{};
    }
    if (!doc->IsMap()) {
        return errorf(EINVAL, "{}: expected a map with the key 'pools'", where);
    }
    if (Status s = reject_unknown_keys(*doc, {"pools"}, where, "pools file"); !s) {
        return std::unexpected(s.error());
    }
    return parse_pool_specs((*doc)["pools"], where);
}

std::string pools_to_yaml(const std::vector<PoolSpec>& pools) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "pools" << YAML::Value << YAML::BeginSeq;
    for (const auto& p : pools) {
        out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << p.name;
        out << YAML::Key << "disks" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const auto& d : p.disks) {
            out << YAML::DoubleQuoted << d;
        }
        out << YAML::EndSeq << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
    return std::string("# Pools of this node, rewritten by mayastor when a pool is created or destroyed.\n") +
           out.c_str() + "\n";
}

Status write_file_atomically(const std::string& path, std::string_view content) {
    namespace fs = std::filesystem;
    fs::path target(path);
    fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string tmp = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    int fd = ::mkstemp(tmp.data());
    if (fd < 0) {
        return errno_error(errno, fmt::format("create a temporary file in '{}'", dir.string()));
    }
    auto fail = [&](std::string_view what) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return errno_error(err, fmt::format("{} '{}'", what, tmp));
    };
    const char* p = content.data();
    std::size_t left = content.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail("write");
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
        return fail("sync");
    }
    if (::close(fd) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return errno_error(err, fmt::format("close '{}'", tmp));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        return errno_error(err, fmt::format("rename '{}' to '{}'", tmp, path));
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return ok();
}

Result<std::string> read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return errno_error(errno != 0 ? errno : EIO, fmt::format("cannot read '{}'", path));
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        return errorf(EIO, "cannot read '{}'", path);
    }
    return ss.str();
}

Result<std::unique_ptr<PoolsFile>> PoolsFile::open(std::string path) {
    std::error_code ec;
    std::vector<PoolSpec> pools;
    if (std::filesystem::exists(path, ec)) {
        auto text = read_text_file(path);
        if (!text) {
            return std::unexpected(text.error());
        }
        auto parsed = parse_pools_yaml(*text, path);
        if (!parsed) {
            return std::unexpected(parsed.error());
        }
        pools = std::move(*parsed);
    } else if (ec) {
        return errorf(EIO, "cannot check '{}': {}", path, ec.message());
    }
    return std::unique_ptr<PoolsFile>(new PoolsFile(std::move(path), std::move(pools)));
}

std::vector<PoolSpec> PoolsFile::pools() const {
    std::lock_guard g(_mutex);
    return _pools;
}

Status PoolsFile::add(PoolSpec pool) {
    std::lock_guard g(_mutex);
    auto it =
        std::find_if(_pools.begin(), _pools.end(), [&](const PoolSpec& p) { return p.name == pool.name; });
    if (it != _pools.end()) {
        if (*it == pool) {
            return ok();
        }
        *it = std::move(pool);
    } else {
        _pools.push_back(std::move(pool));
    }
    return save_locked();
}

Status PoolsFile::remove(const std::string& name) {
    std::lock_guard g(_mutex);
    auto it = std::find_if(_pools.begin(), _pools.end(), [&](const PoolSpec& p) { return p.name == name; });
    if (it == _pools.end()) {
        return ok();
    }
    _pools.erase(it);
    return save_locked();
}

Status PoolsFile::save_locked() const {
    return write_file_atomically(_path, pools_to_yaml(_pools));
}

void PoolsFile::pool_created(const std::string& name, const std::string& disk) {
    std::string recorded = disk;
    if (auto uri = parse_device_uri(disk)) {
        recorded = uri->to_string();
    }
    if (Status s = add(PoolSpec{name, {recorded}}); !s) {
        log::error("pool '{}' created, but the pools file '{}' was not updated: {}", name, _path,
                   s.error().message);
    }
}

void PoolsFile::pool_destroyed(const std::string& name) {
    if (Status s = remove(name); !s) {
        log::error("pool '{}' destroyed, but the pools file '{}' was not updated: {}", name, _path,
                   s.error().message);
    }
}

}  // namespace ms::daemon
