// Errors as values: Result<T> carries either a T or an Error (errno-like code + message).
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <expected>
#include <string>
#include <utility>

namespace ms {

struct Error {
    int code = EIO;  // a positive errno value
    std::string message;

    std::string to_string() const;
};

template <typename T>
using Result = std::expected<T, Error>;

using Status = Result<void>;

inline std::unexpected<Error> make_error(int code, std::string message) {
    return std::unexpected<Error>(Error{code, std::move(message)});
}

template <typename... Args>
std::unexpected<Error> errorf(int code, fmt::format_string<Args...> f, Args&&... args) {
    return make_error(code, fmt::format(f, std::forward<Args>(args)...));
}

inline Status ok() {
    return {};
}

// Error from a negative errno returned by the kernel (io_uring CQE res, syscalls).
std::unexpected<Error> errno_error(int negative_or_positive_errno, std::string_view what);

}  // namespace ms
