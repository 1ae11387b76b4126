#include "api/jsonrpc/json_rpc.h"

namespace ms::api::jsonrpc {

int error_code(const Error& e) {
    if (e.code == EINVAL) {
        return kInvalidParams;
    }
    return e.code > 0 ? -e.code : (e.code < 0 ? e.code : kInternalError);
}

json make_response(const json& id, json result) {
    return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json make_error_response(const json& id, int code, std::string_view message) {
    return json{
        {"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", std::string(message)}}}};
}

json make_request(const json& id, std::string_view method, const json* params) {
    json req{{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}};
    if (params != nullptr) {
        req["params"] = *params;
    }
    return req;
}

JsonStream::Next JsonStream::next(std::string& out, std::string& why) {
    if (!_started) {
        std::size_t i = 0;
        while (i < _buf.size() && (_buf[i] == ' ' || _buf[i] == '\t' || _buf[i] == '\n' || _buf[i] == '\r')) {
            ++i;
        }
        _buf.erase(0, i);
        if (_buf.empty()) {
            return Next::NeedMore;
        }
        if (_buf[0] != '{' && _buf[0] != '[') {
            why = "a JSON-RPC message must be a JSON object or array";
            return Next::Broken;
        }
        _started = true;
        _pos = 0;
        _depth = 0;
        _in_string = false;
        _escape = false;
    }
    for (; _pos < _buf.size(); ++_pos) {
        char c = _buf[_pos];
        if (_in_string) {
            if (_escape) {
                _escape = false;
            } else if (c == '\\') {
                _escape = true;
            } else if (c == '"') {
                _in_string = false;
            }
            continue;
        }
        if (c == '"') {
            _in_string = true;
        } else if (c == '{' || c == '[') {
            if (++_depth > _max_depth) {
                why = fmt::format("JSON nested deeper than {} levels", _max_depth);
                return Next::Broken;
            }
        } else if (c == '}' || c == ']') {
            if (--_depth == 0) {
                out.assign(_buf, 0, _pos + 1);
                _buf.erase(0, _pos + 1);
                _started = false;
                _pos = 0;
                return Next::Message;
            }
        }
    }
    if (_buf.size() > _max_bytes) {
        why = fmt::format("message larger than {} bytes", _max_bytes);
        return Next::Broken;
    }
    return Next::NeedMore;
}

}  // namespace ms::api::jsonrpc
