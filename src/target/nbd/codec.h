// The NBD codec: bytes in, typed values out, and typed values to bytes; no sockets. Both sides
// of every message are here (the server's encoders and decoders, and the client's, which the
// tests and the fuzzer use), so each message can be checked by a round trip. Decoders take
// exactly the bytes of one message (the caller knows how many from a header) and return an
// error for anything malformed: EINVAL (short, inconsistent lengths, bad values), EPROTO (a
// wrong magic), EMSGSIZE (longer than the caller allows).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "target/nbd/protocol.h"

namespace ms::nbd {

// ---- handshake ------------------------------------------------------------------------------

// Server greeting: NBDMAGIC, IHAVEOPT, handshake flags.
void encode_greeting(std::span<uint8_t, kGreetingSize> out, uint16_t handshake_flags);
// Client side: the handshake flags of a fixed-newstyle greeting.
Result<uint16_t> decode_greeting(std::span<const uint8_t> in);

void encode_client_flags(std::span<uint8_t, kClientFlagsSize> out, uint32_t flags);
// The client's flags; unknown bits are an error (the server must then close), and so is a client
// that does not speak fixed newstyle (the only handshake this server speaks).
Result<uint32_t> decode_client_flags(std::span<const uint8_t> in);

struct OptionHeader {
    uint32_t option = 0;
    uint32_t length = 0;  // bytes of option data that follow
};
void encode_option_header(std::span<uint8_t, kOptionHeaderSize> out, const OptionHeader& h);
// EPROTO for a magic other than IHAVEOPT, EMSGSIZE when length > max_length.
Result<OptionHeader> decode_option_header(std::span<const uint8_t> in, uint32_t max_length);

// NBD_OPT_EXPORT_NAME's data is the bare name.
Result<std::string> decode_export_name(std::span<const uint8_t> data);

// NBD_OPT_INFO / NBD_OPT_GO data: name length, name, number of information requests, requests.
struct InfoRequest {
    std::string name;
    std::vector<uint16_t> requests;
};
void append_info_request(std::vector<uint8_t>& out, const InfoRequest& req);
Result<InfoRequest> decode_info_request(std::span<const uint8_t> data);

// Whole option (header and data), as a client sends it.
void append_option(std::vector<uint8_t>& out, uint32_t option, std::span<const uint8_t> data);

// ---- option replies (server side) -----------------------------------------------------------

void append_option_reply(std::vector<uint8_t>& out, uint32_t option, uint32_t type,
                         std::span<const uint8_t> payload = {});
void append_info_export(std::vector<uint8_t>& out, uint32_t option, uint64_t size, uint16_t tx_flags);
void append_info_block_size(std::vector<uint8_t>& out, uint32_t option, uint32_t minimum, uint32_t preferred,
                            uint32_t maximum);
// NBD_INFO_NAME or NBD_INFO_DESCRIPTION.
void append_info_string(std::vector<uint8_t>& out, uint32_t option, uint16_t info_type,
                        std::string_view text);
// NBD_REP_SERVER (one export of NBD_OPT_LIST): name length, name, description.
void append_rep_server(std::vector<uint8_t>& out, std::string_view name, std::string_view description);
// An NBD_REP_ERR_* reply with a message for humans (cut at kMaxString bytes).
void append_rep_error(std::vector<uint8_t>& out, uint32_t option, uint32_t error_type,
                      std::string_view message);
// The answer to NBD_OPT_EXPORT_NAME: size, transmission flags, and 124 zero bytes unless the
// client asked for NO_ZEROES.
void append_export_name_reply(std::vector<uint8_t>& out, uint64_t size, uint16_t tx_flags, bool no_zeroes);

// ---- option replies (client side) -----------------------------------------------------------

struct OptionReplyHeader {
    uint32_t option = 0;
    uint32_t type = 0;
    uint32_t length = 0;
};
Result<OptionReplyHeader> decode_option_reply_header(std::span<const uint8_t> in, uint32_t max_length);

// A decoded NBD_REP_INFO payload; which fields mean something depends on `type`.
struct Info {
    uint16_t type = 0;
    uint64_t size = 0;       // kInfoExport
    uint16_t tx_flags = 0;   // kInfoExport
    uint32_t minimum = 0;    // kInfoBlockSize
    uint32_t preferred = 0;  // kInfoBlockSize
    uint32_t maximum = 0;    // kInfoBlockSize
    std::string text;        // kInfoName, kInfoDescription
};
Result<Info> decode_info(std::span<const uint8_t> payload);
// NBD_REP_SERVER payload -> export name (and the description after it).
struct ServerEntry {
    std::string name;
    std::string description;
};
Result<ServerEntry> decode_rep_server(std::span<const uint8_t> payload);
struct ExportNameReply {
    uint64_t size = 0;
    uint16_t tx_flags = 0;
};
Result<ExportNameReply> decode_export_name_reply(std::span<const uint8_t> in);

// ---- transmission ---------------------------------------------------------------------------

struct Request {
    uint16_t flags = 0;
    uint16_t type = 0;  // a Command, or something unknown
    uint64_t handle = 0;
    uint64_t offset = 0;
    uint32_t length = 0;
    Command command() const { return static_cast<Command>(type); }
};
void encode_request(std::span<uint8_t, kRequestSize> out, const Request& r);
// EINVAL when short, EPROTO for a bad magic.
Result<Request> decode_request(std::span<const uint8_t> in);

// What an export allows; check_request() judges a request against it.
struct ExportLimits {
    uint64_t size = 0;
    uint32_t min_block = 1;
    uint32_t max_payload = 32u << 20;
    uint16_t tx_flags = 0;
};
// The server's verdict on a request: answer it with `error` (0: execute it), or close the
// connection (a write payload too large to read).
struct Verdict {
    uint32_t error = 0;
    bool close = false;
    const char* reason = "";
};
Verdict check_request(const Request& r, const ExportLimits& limits);

std::size_t encode_simple_reply(std::span<uint8_t, kSimpleReplySize> out, uint32_t error, uint64_t handle);
struct SimpleReply {
    uint32_t error = 0;
    uint64_t handle = 0;
};
Result<SimpleReply> decode_simple_reply(std::span<const uint8_t> in);

struct ChunkHeader {
    uint16_t flags = 0;
    uint16_t type = 0;
    uint64_t handle = 0;
    uint32_t length = 0;  // payload bytes after the header
};
void encode_chunk_header(std::span<uint8_t, kStructuredReplySize> out, const ChunkHeader& h);
Result<ChunkHeader> decode_chunk_header(std::span<const uint8_t> in);
// NBD_REPLY_TYPE_OFFSET_DATA header and its offset; the `data_len` data bytes follow.
std::size_t encode_offset_data_header(std::span<uint8_t, kOffsetDataHeaderSize> out, uint64_t handle,
                                      uint64_t offset, uint32_t data_len, bool done);
// NBD_REPLY_TYPE_NONE with DONE.
std::size_t encode_none_chunk(std::span<uint8_t, kStructuredReplySize> out, uint64_t handle);
// NBD_REPLY_TYPE_ERROR with DONE; the message is cut to what `out` holds after the header.
// Returns the bytes written (at least kStructuredReplySize + 6: `out` must hold that much).
std::size_t encode_error_chunk(std::span<uint8_t> out, uint64_t handle, uint32_t error,
                               std::string_view message);
struct ErrorChunk {
    uint32_t error = 0;
    std::string message;
    std::optional<uint64_t> offset;  // NBD_REPLY_TYPE_ERROR_OFFSET
};
// The payload of an error chunk (type kReplyTypeError or kReplyTypeErrorOffset).
Result<ErrorChunk> decode_error_chunk(uint16_t type, std::span<const uint8_t> payload);

// A positive errno from a device -> the NBD error a reply carries.
uint32_t to_nbd_error(int errno_value);

}  // namespace ms::nbd
