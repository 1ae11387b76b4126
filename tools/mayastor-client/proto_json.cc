#include "mayastor-client/proto_json.h"

#include <google/protobuf/descriptor.h>

namespace ms::client {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

Json bytes_json(const std::string& bytes) {
    Json array = Json::array();
    for (unsigned char b : bytes) {
        array.push_back(b);
    }
    return array;
}

Json single_value(const Message& m, const Reflection* r, const FieldDescriptor* f) {
    switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
            return r->GetInt32(m, f);
        case FieldDescriptor::CPPTYPE_INT64:
            return r->GetInt64(m, f);
        case FieldDescriptor::CPPTYPE_UINT32:
            return r->GetUInt32(m, f);
        case FieldDescriptor::CPPTYPE_UINT64:
            return r->GetUInt64(m, f);
        case FieldDescriptor::CPPTYPE_DOUBLE:
            return r->GetDouble(m, f);
        case FieldDescriptor::CPPTYPE_FLOAT:
            return r->GetFloat(m, f);
        case FieldDescriptor::CPPTYPE_BOOL:
            return r->GetBool(m, f);
        case FieldDescriptor::CPPTYPE_ENUM:
            return r->GetEnumValue(m, f);
        case FieldDescriptor::CPPTYPE_STRING:
            if (f->type() == FieldDescriptor::TYPE_BYTES) {
                return bytes_json(r->GetString(m, f));
            }
            return r->GetString(m, f);
        case FieldDescriptor::CPPTYPE_MESSAGE:
            // proto3 sub-messages have presence: an unset one is null.
            return r->HasField(m, f) ? to_json(r->GetMessage(m, f)) : Json(nullptr);
    }
    return nullptr;
}

Json repeated_value(const Message& m, const Reflection* r, const FieldDescriptor* f, int i) {
    switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
            return r->GetRepeatedInt32(m, f, i);
        case FieldDescriptor::CPPTYPE_INT64:
            return r->GetRepeatedInt64(m, f, i);
        case FieldDescriptor::CPPTYPE_UINT32:
            return r->GetRepeatedUInt32(m, f, i);
        case FieldDescriptor::CPPTYPE_UINT64:
            return r->GetRepeatedUInt64(m, f, i);
        case FieldDescriptor::CPPTYPE_DOUBLE:
            return r->GetRepeatedDouble(m, f, i);
        case FieldDescriptor::CPPTYPE_FLOAT:
            return r->GetRepeatedFloat(m, f, i);
        case FieldDescriptor::CPPTYPE_BOOL:
            return r->GetRepeatedBool(m, f, i);
        case FieldDescriptor::CPPTYPE_ENUM:
            return r->GetRepeatedEnumValue(m, f, i);
        case FieldDescriptor::CPPTYPE_STRING:
            if (f->type() == FieldDescriptor::TYPE_BYTES) {
                return bytes_json(r->GetRepeatedString(m, f, i));
            }
            return r->GetRepeatedString(m, f, i);
        case FieldDescriptor::CPPTYPE_MESSAGE:
            return to_json(r->GetRepeatedMessage(m, f, i));
    }
    return nullptr;
}

}  // namespace

Json to_json(const Message& message) {
    const auto* descriptor = message.GetDescriptor();
    const auto* reflection = message.GetReflection();
    Json object = Json::object();
    for (int i = 0; i < descriptor->field_count(); ++i) {
        const FieldDescriptor* field = descriptor->field(i);
        if (field->is_repeated()) {
            Json array = Json::array();
            int n = reflection->FieldSize(message, field);
            for (int k = 0; k < n; ++k) {
                array.push_back(repeated_value(message, reflection, field, k));
            }
            object[field->name()] = std::move(array);
        } else {
            object[field->name()] = single_value(message, reflection, field);
        }
    }
    return object;
}

std::string json_text(const Json& json) {
    return json.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace ms::client
