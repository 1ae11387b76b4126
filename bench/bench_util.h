// What the benchmark programs share: failing with a message, and scratch files.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "core/status.h"

namespace ms::bench {

// Thrown by check(); a program's run() catches it and prints it. Destructors on the way clean
// up (scratch files).
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A Failure naming `what` unless `r` holds a value.
template <typename T>
void check(const Result<T>& r, const std::string& what) {
    if (!r) {
        throw Failure(what + ": " + r.error().to_string());
    }
}

// The value of a temporary `r`, or a Failure naming `what`.
template <typename T>
T check(Result<T>&& r, const std::string& what) {
    check(static_cast<const Result<T>&>(r), what);
    if constexpr (!std::is_void_v<T>) {
        return std::move(*r);
    }
}

// Runs a benchmark's body; a Failure is printed as "program: what" and gives exit status 1.
template <typename F>
int run_reporting(const char* program, F body) {
    try {
        body();
    } catch (const Failure& e) {
        std::fprintf(stderr, "%s: %s\n", program, e.what());
        return 1;
    }
    return 0;
}

// A sparse file of `size` bytes in `dir` (named `prefix`-XXXXXX), removed at the end.
class ScratchFile {
   public:
    ScratchFile(const std::string& dir, const std::string& prefix, uint64_t size) {
        std::string tmpl = dir + "/" + prefix + "-XXXXXX";
        int fd = ::mkstemp(tmpl.data());
        if (fd < 0) {
            throw Failure("mkstemp in " + dir + ": " + std::strerror(errno));
        }
        _path = tmpl;
        const int rc = ::ftruncate(fd, static_cast<off_t>(size));
        const int err = errno;
        ::close(fd);
        if (rc != 0) {
            throw Failure(_path + ": " + std::strerror(err));
        }
    }
    ~ScratchFile() { ::unlink(_path.c_str()); }
    ScratchFile(const ScratchFile&) = delete;
    ScratchFile& operator=(const ScratchFile&) = delete;
    const std::string& path() const { return _path; }

   private:
    std::string _path;
};

}  // namespace ms::bench
