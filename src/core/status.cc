#include "core/status.h"

#include <cstdlib>
#include <cstring>

namespace ms {

std::string Error::to_string() const {
    return fmt::format("{} ({})", message, std::strerror(code));
}

std::unexpected<Error> errno_error(int err, std::string_view what) {
    int code = std::abs(err);
    return make_error(code, fmt::format("{}: {}", what, std::strerror(code)));
}

}  // namespace ms
