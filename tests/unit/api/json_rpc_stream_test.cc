#include <gtest/gtest.h>

#include "api/jsonrpc/json_rpc.h"

namespace ms::api::jsonrpc {
namespace {

using Next = JsonStream::Next;

TEST(JsonStream, SplitsConcatenatedMessages) {
    JsonStream s;
    s.append(R"( {"a":1}{"b":"}{"}
[1,[2]]  )");
    std::string out, why;
    ASSERT_EQ(s.next(out, why), Next::Message);
    EXPECT_EQ(out, R"({"a":1})");
    ASSERT_EQ(s.next(out, why), Next::Message);
    EXPECT_EQ(out, R"({"b":"}{"})");
    ASSERT_EQ(s.next(out, why), Next::Message);
    EXPECT_EQ(out, "[1,[2]]");
    EXPECT_EQ(s.next(out, why), Next::NeedMore);
}

TEST(JsonStream, WaitsForTheRestOfAMessageByteByByte) {
    JsonStream s;
    std::string msg = R"({"method":"x","params":{"s":"a\"}b\\"},"id":1})";
    std::string out, why;
    for (std::size_t i = 0; i + 1 < msg.size(); ++i) {
        s.append(msg.substr(i, 1));
        ASSERT_EQ(s.next(out, why), Next::NeedMore) << i;
    }
    s.append(msg.substr(msg.size() - 1));
    ASSERT_EQ(s.next(out, why), Next::Message);
    EXPECT_EQ(out, msg);
}

TEST(JsonStream, BreaksOnWhatCannotBeFramed) {
    std::string out, why;
    {
        JsonStream s;
        s.append("hello");
        EXPECT_EQ(s.next(out, why), Next::Broken);
        EXPECT_NE(why.find("object or array"), std::string::npos);
    }
    {
        JsonStream s(1 << 20, 8);
        s.append(std::string(9, '['));
        EXPECT_EQ(s.next(out, why), Next::Broken);
        EXPECT_NE(why.find("deeper"), std::string::npos);
    }
    {
        JsonStream s(100, 64);
        s.append("{\"a\":\"" + std::string(200, 'x'));
        EXPECT_EQ(s.next(out, why), Next::Broken);
        EXPECT_NE(why.find("larger"), std::string::npos);
    }
}

TEST(JsonRpcErrors, MapErrnoToCodes) {
    EXPECT_EQ(error_code(Error{EINVAL, ""}), kInvalidParams);
    EXPECT_EQ(error_code(Error{ENOENT, ""}), -2);
    EXPECT_EQ(error_code(Error{EEXIST, ""}), -17);
    EXPECT_EQ(error_code(Error{EBUSY, ""}), -EBUSY);
}

TEST(JsonRpcMessages, HaveTheVersionAndId) {
    auto r = make_response(7, "x");
    EXPECT_EQ(r["jsonrpc"], "2.0");
    EXPECT_EQ(r["id"], 7);
    EXPECT_EQ(r["result"], "x");
    auto e = make_error_response(nullptr, kParseError, "bad");
    EXPECT_TRUE(e["id"].is_null());
    EXPECT_EQ(e["error"]["code"], kParseError);
    json params{{"a", 1}};
    auto q = make_request("id", "m", &params);
    EXPECT_EQ(q["params"]["a"], 1);
    EXPECT_FALSE(make_request(1, "m", nullptr).contains("params"));
}

}  // namespace
}  // namespace ms::api::jsonrpc
