// The embedded store: one directory on local disk, one file per key (file_record.h has the
// names and the format). A put writes a temp file, fsyncs it, renames it over the key's file
// and fsyncs the directory: after a crash or a power loss each key holds its old or its new
// value, whole, and a put that returned is on disk. One process uses a directory at a time.
#pragma once

#include <memory>
#include <string>

#include "store/kv_store.h"
#include "store/store_worker.h"

namespace ms::store {

class FileStore final : public KvStore {
   public:
    // Opens (creating it 0700, and missing parents 0755) the store directory `dir`, removes
    // temp files a crash left, and checks that a file can be written there. Blocking: call it
    // at start, not on a reactor.
    static Result<std::shared_ptr<FileStore>> open(const std::string& dir);
    ~FileStore() override;

    Task<Status> put(std::string key, std::string value) override;
    Task<Result<std::optional<std::string>>> get(std::string key) override;
    Task<Status> remove(std::string key) override;
    Task<Result<std::vector<std::pair<std::string, std::string>>>> list(std::string prefix) override;
    std::string describe() const override { return "file:" + _dir; }

    const std::string& dir() const { return _dir; }

   private:
    FileStore(std::string dir, int dir_fd);

    // The blocking halves, run on the worker thread.
    Status put_now(const std::string& key, const std::string& value);
    Result<std::optional<std::string>> get_now(const std::string& key);
    Status remove_now(const std::string& key);
    Result<std::vector<std::pair<std::string, std::string>>> list_now(const std::string& prefix);
    // The record in file `name` of the directory; nullopt if there is no such file.
    Result<std::optional<std::pair<std::string, std::string>>> read_record(const std::string& name);
    Status sync_dir();

    std::string _dir;
    int _dir_fd;
    // Last member: joined first, before the directory fd closes.
    StoreWorker _worker{"ms_store_file"};
};

}  // namespace ms::store
