// libFuzzer target for the URI parser: any input either parses into a well-formed Uri that
// survives to_string() and a second parse unchanged, or fails with EINVAL and a message.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/uri.h"

namespace {

[[noreturn]] void fail(std::string_view what, std::string_view input, const std::string& detail) {
    std::fprintf(stderr, "uri_fuzz: %.*s\n  input: '%.*s'\n  %s\n", static_cast<int>(what.size()),
                 what.data(), static_cast<int>(input.size()), input.data(), detail.c_str());
    std::abort();
}

std::string describe(const ms::Uri& u) {
    std::string s = "scheme='" + u.scheme + "' host='" + u.host +
                    "' port=" + (u.port ? std::to_string(*u.port) : std::string("none")) + " path='" +
                    u.path + "' query=[";
    for (const auto& [k, v] : u.query) {
        s += "'" + k + "'='" + v + "' ";
    }
    return s + "]";
}

bool same(const ms::Uri& a, const ms::Uri& b) {
    return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.path == b.path &&
           a.query == b.query;
}

void check_well_formed(const ms::Uri& u, std::string_view input) {
    if (u.scheme.empty()) {
        fail("empty scheme accepted", input, describe(u));
    }
    for (char c : u.scheme) {
        if (c >= 'A' && c <= 'Z') {
            fail("scheme not lower-cased", input, describe(u));
        }
    }
    if (!u.path.empty() && u.path.front() != '/') {
        fail("path does not begin with '/'", input, describe(u));
    }
    if (u.port && *u.port == 0) {
        fail("port 0 accepted", input, describe(u));
    }
    for (std::size_t i = 0; i < u.query.size(); ++i) {
        if (u.query[i].first.empty()) {
            fail("empty query key accepted", input, describe(u));
        }
        for (std::size_t j = i + 1; j < u.query.size(); ++j) {
            if (u.query[i].first == u.query[j].first) {
                fail("duplicate query key accepted", input, describe(u));
            }
        }
    }
    std::string_view all[] = {u.host, u.path};
    for (std::string_view s : all) {
        if (s.find('\0') != std::string_view::npos) {
            fail("NUL byte in a parsed field", input, describe(u));
        }
    }
}

// What a device factory does with the query: take some keys, as numbers and booleans, then
// finish(). Must never crash, whatever the values.
void consume_query(const ms::Uri& u) {
    ms::QueryParams q(u);
    for (std::size_t i = 0; i < u.query.size(); ++i) {
        const std::string& key = u.query[i].first;
        switch (i % 3) {
            case 0:
                (void)q.take_u64(key);
                break;
            case 1:
                (void)q.take_bool(key);
                break;
            default:
                break;  // left for finish() to report
        }
    }
    auto st = q.finish();
    if (!st && st.error().code != EINVAL) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto u = ms::parse_uri(input);
    if (!u) {
        if (u.error().code != EINVAL || u.error().message.empty()) {
            fail("error is not EINVAL with a message", input, u.error().message);
        }
        return 0;
    }
    check_well_formed(*u, input);
    std::string text = u->to_string();
    auto again = ms::parse_uri(text);
    if (!again) {
        fail("to_string() gives a URI that does not parse", input, text + ": " + again.error().message);
    }
    if (!same(*u, *again)) {
        fail("round trip changes the URI", input,
             text + "\n  first:  " + describe(*u) + "\n  second: " + describe(*again));
    }
    if (again->to_string() != text) {
        fail("to_string() is not stable", input, text + " -> " + again->to_string());
    }
    consume_query(*u);
    return 0;
}
