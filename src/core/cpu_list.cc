#include "core/cpu_list.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace ms {

namespace {
constexpr int kMaxCpu = 1023;

Result<int> parse_int(std::string_view s, std::string_view whole) {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0 || v > kMaxCpu) {
        return errorf(EINVAL, "bad core number '{}' in '{}'", s, whole);
    }
    return v;
}
}  // namespace

Result<std::vector<int>> parse_core_mask(std::string_view mask) {
    std::string_view digits = mask;
    if (digits.starts_with("0x") || digits.starts_with("0X")) {
        digits.remove_prefix(2);
    }
    if (digits.empty() || digits.size() > (kMaxCpu + 1) / 4) {
        return errorf(EINVAL, "bad core mask '{}'", mask);
    }
    std::vector<int> cpus;
    int bit = 0;
    for (auto it = digits.rbegin(); it != digits.rend(); ++it, bit += 4) {
        int v;
        char c = *it;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            return errorf(EINVAL, "bad core mask '{}': '{}' is not a hex digit", mask, c);
        }
        for (int b = 0; b < 4; ++b) {
            if ((v & (1 << b)) != 0) {
                cpus.push_back(bit + b);
            }
        }
    }
    if (cpus.empty()) {
        return errorf(EINVAL, "core mask '{}' selects no core", mask);
    }
    std::sort(cpus.begin(), cpus.end());
    return cpus;
}

Result<std::vector<int>> parse_core_list(std::string_view list) {
    std::set<int> cpus;
    std::string_view rest = list;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        auto dash = item.find('-');
        if (dash == std::string_view::npos) {
            auto v = parse_int(item, list);
            if (!v) {
                return std::unexpected(v.error());
            }
            cpus.insert(*v);
        } else {
            auto lo = parse_int(item.substr(0, dash), list);
            auto hi = parse_int(item.substr(dash + 1), list);
            if (!lo || !hi) {
                return std::unexpected(lo ? hi.error() : lo.error());
            }
            if (*lo > *hi) {
                return errorf(EINVAL, "bad core range '{}' in '{}'", item, list);
            }
            for (int c = *lo; c <= *hi; ++c) {
                cpus.insert(c);
            }
        }
        if (comma != std::string_view::npos && rest.empty()) {
            return errorf(EINVAL, "bad core list '{}': trailing comma", list);
        }
    }
    if (cpus.empty()) {
        return errorf(EINVAL, "core list '{}' selects no core", list);
    }
    return std::vector<int>(cpus.begin(), cpus.end());
}

}  // namespace ms
