// `-o json`: a gRPC reply as JSON, built by protobuf reflection so that it matches what the v0.8
// client printed: proto field names in declaration order, every field present (proto3 defaults
// included), enums as integers, 64-bit integers as numbers, an absent sub-message as null,
// repeated fields as arrays, an empty message as {}.
#pragma once

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>
#include <string>

namespace ms::client {

using Json = nlohmann::ordered_json;

Json to_json(const google::protobuf::Message& message);

// Pretty text, 2-space indentation, no trailing newline. Invalid UTF-8 is replaced, not thrown.
std::string json_text(const Json& json);

inline std::string json_text(const google::protobuf::Message& message) {
    return json_text(to_json(message));
}

}  // namespace ms::client
