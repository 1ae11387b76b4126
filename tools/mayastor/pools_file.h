// The pools file (-P pools.yaml): the pools a node creates or imports at start, kept up to date
// when the API creates or destroys a pool. Format (unknown keys are rejected):
//
//   pools:
//     - name: pool-1
//       disks: ["aio:///dev/sdb"]     # exactly one disk URI (a bare path means aio://)
//
// The file is rewritten atomically (a temporary file in the same folder, fsync, rename), so a
// crash leaves either the old or the new list.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ms::daemon {

struct PoolSpec {
    std::string name;
    std::vector<std::string> disks;

    friend bool operator==(const PoolSpec&, const PoolSpec&) = default;
};

// The `pools:` sequence of a YAML document; `where` names the file for messages.
Result<std::vector<PoolSpec>> parse_pool_specs(const YAML::Node& pools, std::string_view where);
// A whole pools file: a map with the single key `pools` (an empty document is no pools).
Result<std::vector<PoolSpec>> parse_pools_yaml(std::string_view text, std::string_view where);
std::string pools_to_yaml(const std::vector<PoolSpec>& pools);

// Writes `content` to `path` atomically: temporary file beside it, fsync, rename, fsync of the
// folder.
Status write_file_atomically(const std::string& path, std::string_view content);
Result<std::string> read_text_file(const std::string& path);

// The pools file of a running daemon. Thread-safe.
class PoolsFile {
   public:
    // Reads `path`; a file that does not exist is an empty list (it is created on first change).
    static Result<std::unique_ptr<PoolsFile>> open(std::string path);

    const std::string& path() const { return _path; }
    std::vector<PoolSpec> pools() const;
    // Adds the pool, or replaces the entry of that name; rewrites the file if that changed it.
    Status add(PoolSpec pool);
    // Removes the pool of that name (nothing to do if absent); rewrites the file if needed.
    Status remove(const std::string& name);

    // The API's pool hooks (api::PoolHooks) as calls to this file: a created pool is added
    // with its disk as a URI (a bare, maybe relative, path becomes the absolute aio:// URI it
    // means, so the file does not depend on the daemon's working folder); a destroyed one
    // removed. Failures are logged: the pool itself was made or removed.
    void pool_created(const std::string& name, const std::string& disk);
    void pool_destroyed(const std::string& name);

   private:
    PoolsFile(std::string path, std::vector<PoolSpec> pools)
        : _path(std::move(path)), _pools(std::move(pools)) {}
    Status save_locked() const;

    std::string _path;
    mutable std::mutex _mutex;
    std::vector<PoolSpec> _pools;
};

}  // namespace ms::daemon
