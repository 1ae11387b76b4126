#include "store/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/log.h"
#include "store/file_record.h"

namespace ms::store {

namespace {

// Creates `dir` with `mode` and its missing parents with 0755 (both less the umask); fsyncs
// each parent that gained an entry, so that the new directory survives a power loss.
Status make_dir_tree(const std::string& dir, mode_t mode) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            return errorf(ENOTDIR, "'{}' exists and is not a directory", dir);
        }
        return ok();
    }
    if (errno != ENOENT) {
        return errno_error(errno, fmt::format("'{}'", dir));
    }
    std::string parent = ".";
    if (auto slash = dir.find_last_of('/'); slash != std::string::npos) {
        parent = slash == 0 ? "/" : dir.substr(0, slash);
        if (Status s = make_dir_tree(parent, 0755); !s) {
            return s;
        }
    }
    if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
        return errno_error(errno, fmt::format("cannot create directory '{}'", dir));
    }
    int pfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd >= 0) {
        ::fsync(pfd);
        ::close(pfd);
    }
    return ok();
}

Status write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno_error(errno, "write");
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return ok();
}

Result<std::string> read_all(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno_error(errno, "read");
        }
        if (n == 0) {
            return out;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Names of the directory's entries (not "." and "..").
Result<std::vector<std::string>> dir_entries(int dir_fd, const std::string& dir) {
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return errno_error(errno, fmt::format("cannot open store directory '{}'", dir));
    }
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        int e = errno;
        ::close(fd);
        return errno_error(e, fmt::format("cannot read store directory '{}'", dir));
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name != "." && name != "..") {
            names.emplace_back(name);
        }
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) {
        return errno_error(err, fmt::format("cannot read store directory '{}'", dir));
    }
    return names;
}

}  // namespace

Result<std::shared_ptr<FileStore>> FileStore::open(const std::string& dir) {
    if (dir.empty()) {
        return make_error(EINVAL, "the store directory is empty");
    }
    std::string path = dir;
    while (path.size() > 1 && path.back() == '/') {
        path.pop_back();
    }
    if (Status s = make_dir_tree(path, 0700); !s) {
        return errorf(s.error().code, "store directory: {}", s.error().message);
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return errno_error(errno, fmt::format("cannot open store directory '{}'", path));
    }
    std::shared_ptr<FileStore> store(new FileStore(path, fd));
    // Temp files are puts that a crash cut short: their key still holds the old value.
    auto names = dir_entries(fd, path);
    if (!names) {
        return std::unexpected(names.error());
    }
    for (const auto& name : *names) {
        if (ends_with(name, kTempSuffix)) {
            if (::unlinkat(fd, name.c_str(), 0) != 0) {
                return errno_error(errno, fmt::format("cannot remove leftover '{}/{}'", path, name));
            }
            log::info("store: removed leftover temp file '{}/{}'", path, name);
        }
    }
    // Fail now, not at the first put, if the directory cannot be written.
    const std::string probe = std::string("open-probe") + std::string(kTempSuffix);
    int pfd = ::openat(fd, probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (pfd < 0) {
        return errno_error(errno, fmt::format("cannot write in store directory '{}'", path));
    }
    ::close(pfd);
    ::unlinkat(fd, probe.c_str(), 0);
    if (Status s = store->sync_dir(); !s) {
        return std::unexpected(s.error());
    }
    return store;
}

FileStore::FileStore(std::string dir, int dir_fd) : _dir(std::move(dir)), _dir_fd(dir_fd) {}

FileStore::~FileStore() {
    // The worker must be idle before the fd goes: nothing may be queued when the last owner
    // lets go, and the worker's destructor joins it (members are destroyed after this body).
    _worker.drain();
    ::close(_dir_fd);
}

Task<Status> FileStore::put(std::string key, std::string value) {
    co_return co_await _worker.call<Status>([this, &key, &value] { return put_now(key, value); });
}

Task<Result<std::optional<std::string>>> FileStore::get(std::string key) {
    co_return co_await _worker.call<Result<std::optional<std::string>>>(
        [this, &key] { return get_now(key); });
}

Task<Status> FileStore::remove(std::string key) {
    co_return co_await _worker.call<Status>([this, &key] { return remove_now(key); });
}

Task<Result<std::vector<std::pair<std::string, std::string>>>> FileStore::list(std::string prefix) {
    co_return co_await _worker.call<Result<std::vector<std::pair<std::string, std::string>>>>(
        [this, &prefix] { return list_now(prefix); });
}

Status FileStore::sync_dir() {
    if (::fsync(_dir_fd) != 0) {
        return errno_error(errno, fmt::format("fsync of store directory '{}'", _dir));
    }
    return ok();
}

Status FileStore::put_now(const std::string& key, const std::string& value) {
    auto encoded = encode_key(key);
    if (!encoded) {
        return std::unexpected(encoded.error());
    }
    const std::string tmp = *encoded + std::string(kTempSuffix);
    const std::string name = *encoded + std::string(kRecordSuffix);
    int fd = ::openat(_dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno_error(errno, fmt::format("cannot create '{}/{}'", _dir, tmp));
    }
    Status s = write_all(fd, encode_record(key, value));
    if (s && ::fsync(fd) != 0) {
        s = errno_error(errno, "fsync");
    }
    if (::close(fd) != 0 && s) {
        s = errno_error(errno, "close");
    }
    if (s && ::renameat(_dir_fd, tmp.c_str(), _dir_fd, name.c_str()) != 0) {
        s = errno_error(errno, "rename");
    }
    if (!s) {
        ::unlinkat(_dir_fd, tmp.c_str(), 0);
        return errorf(s.error().code, "store put '{}' into '{}': {}", key, _dir, s.error().message);
    }
    return sync_dir();
}

Result<std::optional<std::pair<std::string, std::string>>> FileStore::read_record(const std::string& name) {
    int fd = ::openat(_dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        return errno_error(errno, fmt::format("cannot open '{}/{}'", _dir, name));
    }
    auto bytes = read_all(fd);
    ::close(fd);
    if (!bytes) {
        return errorf(bytes.error().code, "cannot read '{}/{}': {}", _dir, name, bytes.error().message);
    }
    auto record = decode_record(*bytes);
    if (!record) {
        return errorf(record.error().code, "store file '{}/{}': {}", _dir, name, record.error().message);
    }
    auto key = decode_key(std::string_view(name).substr(0, name.size() - kRecordSuffix.size()));
    if (!key || *key != record->first) {
        return errorf(EBADMSG, "store file '{}/{}' holds the record of another key", _dir, name);
    }
    return std::optional{std::move(*record)};
}

Result<std::optional<std::string>> FileStore::get_now(const std::string& key) {
    auto encoded = encode_key(key);
    if (!encoded) {
        return std::unexpected(encoded.error());
    }
    auto record = read_record(*encoded + std::string(kRecordSuffix));
    if (!record) {
        return std::unexpected(record.error());
    }
    if (!*record) {
        return std::nullopt;
    }
    return std::optional{std::move((*record)->second)};
}

Status FileStore::remove_now(const std::string& key) {
    auto encoded = encode_key(key);
    if (!encoded) {
        return std::unexpected(encoded.error());
    }
    const std::string name = *encoded + std::string(kRecordSuffix);
    if (::unlinkat(_dir_fd, name.c_str(), 0) != 0) {
        if (errno == ENOENT) {
            return ok();
        }
        return errno_error(errno, fmt::format("cannot remove '{}/{}'", _dir, name));
    }
    return sync_dir();
}

Result<std::vector<std::pair<std::string, std::string>>> FileStore::list_now(const std::string& prefix) {
    auto names = dir_entries(_dir_fd, _dir);
    if (!names) {
        return std::unexpected(names.error());
    }
    const std::string want = encode_prefix(prefix);
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& name : *names) {
        if (!ends_with(name, kRecordSuffix) || !name.starts_with(want)) {
            continue;  // temp files, and files that are not the store's
        }
        auto record = read_record(name);
        if (!record) {
            return std::unexpected(record.error());
        }
        if (*record) {  // else removed since the directory was read
            out.push_back(std::move(**record));
        }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

}  // namespace ms::store
