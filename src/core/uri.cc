#include "core/uri.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ms {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

Result<std::string> percent_decode(std::string_view s, std::string_view whole) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        int hi = i + 2 < s.size() ? hex_value(s[i + 1]) : -1;
        int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            return errorf(EINVAL, "bad percent-escape in URI '{}'", whole);
        }
        char c = static_cast<char>(hi * 16 + lo);
        if (c == '\0') {
            return errorf(EINVAL, "URI '{}' encodes a NUL byte", whole);
        }
        out.push_back(c);
        i += 2;
    }
    return out;
}

bool is_scheme_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '+' || c == '-' || c == '.';
}

}  // namespace

Result<Uri> parse_uri(std::string_view text) {
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            return errorf(EINVAL, "URI '{}' contains a space or control character", text);
        }
    }
    auto sep = text.find("://");
    if (sep == std::string_view::npos) {
        return errorf(EINVAL, "URI '{}' has no scheme (expected scheme://...)", text);
    }
    std::string_view scheme = text.substr(0, sep);
    if (scheme.empty() || std::isalpha(static_cast<unsigned char>(scheme[0])) == 0 ||
        !std::all_of(scheme.begin(), scheme.end(), is_scheme_char)) {
        return errorf(EINVAL, "URI '{}' has an invalid scheme", text);
    }
    Uri uri;
    uri.scheme.resize(scheme.size());
    std::transform(scheme.begin(), scheme.end(), uri.scheme.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });

    std::string_view rest = text.substr(sep + 3);
    if (auto hash = rest.find('#'); hash != std::string_view::npos) {
        return errorf(EINVAL, "URI '{}' has a fragment, which no device takes", text);
    }
    std::string_view query;
    if (auto q = rest.find('?'); q != std::string_view::npos) {
        query = rest.substr(q + 1);
        rest = rest.substr(0, q);
    }
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);

    if (authority.find('@') != std::string_view::npos) {
        return errorf(EINVAL, "URI '{}' has user information, which is not supported", text);
    }
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return errorf(EINVAL, "URI '{}' has an unterminated IPv6 address", text);
        }
        host = authority.substr(1, close - 1);
        // Only an IPv6 address may be bracketed: to_string() brackets a host with a ':' only.
        if (host.find(':') == std::string_view::npos ||
            host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
            return errorf(EINVAL, "URI '{}' has an invalid IPv6 address '{}'", text, host);
        }
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return errorf(EINVAL, "URI '{}' has garbage after the IPv6 address", text);
            }
            port = after.substr(1);
            if (port.empty()) {
                return errorf(EINVAL, "URI '{}' has an empty port", text);
            }
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty()) {
            return errorf(EINVAL, "URI '{}' has an empty port", text);
        }
    }
    if (host.find_first_of("[]:") != std::string_view::npos && authority.front() != '[') {
        return errorf(EINVAL, "URI '{}' has an invalid host", text);
    }
    uri.host = std::string(host);
    if (!port.empty()) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
        if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) {
            return errorf(EINVAL, "URI '{}' has an invalid port '{}'", text, port);
        }
        uri.port = static_cast<uint16_t>(v);
    }
    auto decoded_path = percent_decode(path, text);
    if (!decoded_path) {
        return std::unexpected(decoded_path.error());
    }
    uri.path = std::move(*decoded_path);

    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) {
            continue;
        }
        auto eq = item.find('=');
        auto key = percent_decode(item.substr(0, eq), text);
        auto value =
            percent_decode(eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1), text);
        if (!key || !value) {
            return std::unexpected(key ? value.error() : key.error());
        }
        if (key->empty()) {
            return errorf(EINVAL, "URI '{}' has a query parameter without a name", text);
        }
        for (const auto& [k, v] : uri.query) {
            if (k == *key) {
                return errorf(EINVAL, "URI '{}' gives parameter '{}' more than once", text, k);
            }
        }
        uri.query.emplace_back(std::move(*key), std::move(*value));
    }
    return uri;
}

std::string percent_encode(std::string_view s, bool keep_slash) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' ||
            (keep_slash && c == '/')) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 0xf]);
        }
    }
    return out;
}

std::string Uri::to_string() const {
    std::string s = scheme + "://";
    if (host.find(':') != std::string::npos) {
        s += "[" + host + "]";
    } else {
        s += host;
    }
    if (port) {
        // Appended piecewise: GCC 12 at -O3 warns (-Wrestrict, a false positive) on ":" + string.
        s.push_back(':');
        s += std::to_string(*port);
    }
    s += percent_encode(path, true);
    char sep = '?';
    for (const auto& [k, v] : query) {
        s.push_back(sep);
        s += percent_encode(k, false) + "=" + percent_encode(v, false);
        sep = '&';
    }
    return s;
}

QueryParams::QueryParams(const Uri& uri) : _uri_text(uri.to_string()), _left(uri.query) {}

std::optional<std::string> QueryParams::take(std::string_view key) {
    for (auto it = _left.begin(); it != _left.end(); ++it) {
        if (it->first == key) {
            std::string v = std::move(it->second);
            _left.erase(it);
            return v;
        }
    }
    return std::nullopt;
}

Result<std::optional<uint64_t>> QueryParams::take_u64(std::string_view key) {
    auto v = take(key);
    if (!v) {
        return std::optional<uint64_t>{};
    }
    std::string_view s = *v;
    int base = 10;
    if (s.starts_with("0x") || s.starts_with("0X")) {
        s.remove_prefix(2);
        base = 16;
    }
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n, base);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
        return errorf(EINVAL, "parameter '{}' of '{}' is not a valid number: '{}'", key, _uri_text, *v);
    }
    return std::optional<uint64_t>{n};
}

Result<std::optional<bool>> QueryParams::take_bool(std::string_view key) {
    auto v = take(key);
    if (!v) {
        return std::optional<bool>{};
    }
    if (*v == "true" || *v == "1" || *v == "yes") {
        return std::optional<bool>{true};
    }
    if (*v == "false" || *v == "0" || *v == "no") {
        return std::optional<bool>{false};
    }
    return errorf(EINVAL, "parameter '{}' of '{}' is not a boolean: '{}'", key, _uri_text, *v);
}

Status QueryParams::finish() const {
    if (!_left.empty()) {
        return errorf(EINVAL, "unknown parameter '{}' in URI '{}'", _left.front().first, _uri_text);
    }
    return ok();
}

}  // namespace ms
