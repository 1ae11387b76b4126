#include "mayastor-client/bind_uri.h"

#include <cctype>

namespace ms::client {
namespace {

bool all_digits(std::string_view s) {
    for (char c : s) {
        if (c < '0' || c > '9') {
            return false;
        }
    }
    return true;
}

bool host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == '~' ||
           c == '%';
}

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace

std::optional<Endpoint> parse_bind(std::string_view text) {
    std::string scheme = "http";
    if (auto sep = text.find("://"); sep != std::string_view::npos) {
        scheme = lowercase(text.substr(0, sep));
        text.remove_prefix(sep + 3);
    }
    if (scheme != "http" && scheme != "https") {
        return std::nullopt;
    }
    auto end = text.find_first_of("/?#");
    std::string_view authority = text.substr(0, end);
    std::string_view rest = end == std::string_view::npos ? std::string_view() : text.substr(end);

    std::string_view host;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos || close == 1) {
            return std::nullopt;
        }
        host = authority.substr(0, close + 1);
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return std::nullopt;
            }
            port = after.substr(1);
        }
        for (char c : host.substr(1, host.size() - 2)) {
            if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
                return std::nullopt;
            }
        }
    } else {
        auto colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
        }
        if (host.empty()) {
            return std::nullopt;
        }
        for (char c : host) {
            if (!host_char(c)) {
                return std::nullopt;
            }
        }
    }
    int port_number = kDefaultPort;
    if (!port.empty()) {
        if (!all_digits(port) || port.size() > 5) {
            return std::nullopt;
        }
        port_number = std::stoi(std::string(port));
        if (port_number > 65535) {
            return std::nullopt;
        }
    }
    for (char c : rest) {
        if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
            return std::nullopt;
        }
    }
    std::string hostport = std::string(host) + ":" + std::to_string(port_number);
    Endpoint e;
    e.uri = scheme + "://" + hostport + (rest.empty() ? std::string("/") : std::string(rest));
    e.target = hostport;
    return e;
}

}  // namespace ms::client
