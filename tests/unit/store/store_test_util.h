// Helpers shared by the store unit tests: a temp directory, and synchronous wrappers that run
// KvStore calls on a reactor from the test thread.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/log.h"
#include "core/runtime.h"
#include "store/kv_store.h"

namespace ms::test {

using KvPairs = std::vector<std::pair<std::string, std::string>>;

inline const bool kQuietStoreLogs = [] {
    (void)log::set_level(std::getenv("MS_TEST_LOG") ? std::getenv("MS_TEST_LOG") : "warn");
    return true;
}();

// A fresh directory under /tmp, removed with everything in it at the end of the test.
class TempDir {
   public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "ms_store_XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp failed";
        }
        _path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return _path; }
    std::string sub(const std::string& name) const { return _path + "/" + name; }

   private:
    std::string _path;
};

inline Status put(Runtime& rt, const std::shared_ptr<store::KvStore>& s, std::string key, std::string value,
                  std::size_t reactor = 0) {
    return run_on(rt.reactor(reactor), [=] { return s->put(key, value); });
}

inline Result<std::optional<std::string>> get(Runtime& rt, const std::shared_ptr<store::KvStore>& s,
                                              std::string key) {
    return run_on(rt.reactor(0), [=] { return s->get(key); });
}

inline Status remove(Runtime& rt, const std::shared_ptr<store::KvStore>& s, std::string key) {
    return run_on(rt.reactor(0), [=] { return s->remove(key); });
}

inline Result<KvPairs> list(Runtime& rt, const std::shared_ptr<store::KvStore>& s, std::string prefix) {
    return run_on(rt.reactor(0), [=] { return s->list(prefix); });
}

// The message of a failed result, or "ok" (for assertion output).
template <typename T>
std::string describe(const Result<T>& r) {
    return r ? std::string("ok") : r.error().to_string();
}

// A value with every byte value in it, NULs included.
inline std::string binary_value(std::size_t size, unsigned seed) {
    std::string v(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        v[i] = static_cast<char>((i * 131 + seed * 7) & 0xff);
    }
    return v;
}

}  // namespace ms::test
