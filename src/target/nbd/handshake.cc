// The fixed newstyle handshake of an NBD connection: greeting, client flags, then option
// haggling (EXPORT_NAME, INFO, GO, LIST, ABORT, STRUCTURED_REPLY; anything else is
// NBD_REP_ERR_UNSUP) until the client picks an export or leaves.
#include <algorithm>

#include "core/log.h"
#include "target/nbd/server_internal.h"

namespace ms::nbd::detail {

namespace {

// Option data we read: an INFO/GO request with the longest name and every information type
// fits with room to spare. Longer options close the connection (after NBD_REP_ERR_TOO_BIG).
constexpr uint32_t kMaxOptionData = 16 * 1024;
// A client that haggles longer than this is not going anywhere.
constexpr int kMaxOptions = 4096;

}  // namespace

Task<bool> Connection::send_now(std::vector<uint8_t>& bytes) {
    if (bytes.empty()) {
        co_return true;
    }
    auto st = co_await _sock.send_all(std::span<const uint8_t>(bytes));
    bytes.clear();
    co_return st.has_value();
}

void Connection::info_replies(uint32_t option, const Export& e, const InfoRequest& req,
                              std::vector<uint8_t>& out) {
    append_info_export(out, option, e.size, e.tx_flags);
    bool name = false;
    bool description = false;
    for (uint16_t type : req.requests) {
        name = name || type == kInfoName;
        description = description || type == kInfoDescription;
    }
    if (name) {
        append_info_string(out, option, kInfoName, e.name);
    }
    if (description) {
        append_info_string(out, option, kInfoDescription, e.description);
    }
    // Always: the constraints are not the defaults (min is the device's block size), and a
    // client that did not ask gets its unaligned requests refused with NBD_EINVAL.
    append_info_block_size(out, option, e.block_size, _core.preferred_block(e), _core.options.max_payload);
}

Connection::Next Connection::option(const OptionHeader& h, std::span<const uint8_t> data,
                                    std::vector<uint8_t>& out) {
    const uint32_t opt = h.option;
    switch (static_cast<Option>(opt)) {
        case Option::ExportName: {
            // No way to answer an error here: an unknown export closes the connection.
            auto name = decode_export_name(data);
            if (!name) {
                log::warn("nbd: {}: NBD_OPT_EXPORT_NAME: {}; closing", _peer, name.error().message);
                return Next::Close;
            }
            auto e = _core.find_export(*name);
            if (!e || !attach(e)) {
                log::warn("nbd: {}: no export '{}'; closing", _peer, *name);
                return Next::Close;
            }
            append_export_name_reply(out, _export->size, _export->tx_flags, _no_zeroes);
            return Next::Transmission;
        }
        case Option::Info:
        case Option::Go: {
            auto req = decode_info_request(data);
            if (!req) {
                append_rep_error(out, opt, kRepErrInvalid, req.error().message);
                return Next::Options;
            }
            auto e = _core.find_export(req->name);
            if (!e) {
                append_rep_error(out, opt, kRepErrUnknown, fmt::format("no export named '{}'", req->name));
                return Next::Options;
            }
            if (static_cast<Option>(opt) == Option::Go && !attach(e)) {
                append_rep_error(out, opt, kRepErrUnknown,
                                 fmt::format("export '{}' is going away", req->name));
                return Next::Options;
            }
            info_replies(opt, *e, *req, out);
            append_option_reply(out, opt, kRepAck);
            return static_cast<Option>(opt) == Option::Go ? Next::Transmission : Next::Options;
        }
        case Option::List: {
            if (!data.empty()) {
                append_rep_error(out, opt, kRepErrInvalid, "NBD_OPT_LIST takes no data");
                return Next::Options;
            }
            std::vector<std::shared_ptr<Export>> all;
            {
                std::lock_guard lk(_core.mu);
                for (auto& [n, e] : _core.exports) {
                    all.push_back(e);
                }
            }
            for (auto& e : all) {
                append_rep_server(out, e->name, e->description);
            }
            append_option_reply(out, opt, kRepAck);
            return Next::Options;
        }
        case Option::Abort:
            append_option_reply(out, opt, kRepAck);
            return Next::Close;
        case Option::StructuredReply:
            if (!data.empty()) {
                append_rep_error(out, opt, kRepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
                return Next::Options;
            }
            _structured = true;
            append_option_reply(out, opt, kRepAck);
            return Next::Options;
        default:
            append_rep_error(out, opt, kRepErrUnsup, fmt::format("option {} is not supported", opt));
            return Next::Options;
    }
}

Task<bool> Connection::handshake() {
    std::vector<uint8_t> out(kGreetingSize);
    encode_greeting(std::span<uint8_t, kGreetingSize>(out.data(), kGreetingSize),
                    kFlagFixedNewstyle | kFlagNoZeroes);
    if (!co_await send_now(out)) {
        co_return false;
    }
    if (!co_await fill(kClientFlagsSize)) {
        co_return false;
    }
    auto flags = decode_client_flags(std::span<const uint8_t>(rx_data() + _rx_head, kClientFlagsSize));
    if (!flags) {
        log::warn("nbd: {}: {}; closing", _peer, flags.error().message);
        co_return false;
    }
    _rx_head += kClientFlagsSize;
    _no_zeroes = (*flags & kClientFlagNoZeroes) != 0;
    for (int i = 0; i < kMaxOptions && !_closing.load(); ++i) {
        if (!co_await fill(kOptionHeaderSize)) {
            co_return false;
        }
        auto h = decode_option_header(std::span<const uint8_t>(rx_data() + _rx_head, kOptionHeaderSize),
                                      kMaxOptionData);
        if (!h) {
            log::warn("nbd: {}: {}; closing", _peer, h.error().message);
            if (h.error().code == EMSGSIZE) {
                // Tell the client why (its option data is not read: the connection ends).
                uint32_t opt = 0;
                for (int b = 0; b < 4; ++b) {
                    opt = (opt << 8) | rx_data()[_rx_head + 8 + b];
                }
                append_rep_error(out, opt, kRepErrTooBig, h.error().message);
                co_await send_now(out);
            }
            co_return false;
        }
        _rx_head += kOptionHeaderSize;
        if (!co_await fill(h->length)) {
            co_return false;
        }
        Next next = option(*h, std::span<const uint8_t>(rx_data() + _rx_head, h->length), out);
        _rx_head += h->length;
        if (!co_await send_now(out)) {
            co_return false;
        }
        if (next != Next::Options) {
            co_return next == Next::Transmission;
        }
    }
    log::warn("nbd: {}: too many options without choosing an export; closing", _peer);
    co_return false;
}

}  // namespace ms::nbd::detail
