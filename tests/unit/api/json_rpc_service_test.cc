// gRPC JsonRpc.JsonRpcCall: forwarded over the real socket, errors mapped per the fact sheet.
#include "api_test_util.h"

namespace ms::api::test {
namespace {

using grpc::StatusCode;

class JsonRpcServiceTest : public ApiFixture {
   protected:
    std::pair<grpc::Status, mayastor::JsonRpcReply> rpc(const std::string& method,
                                                        const std::string& params = "") {
        mayastor::JsonRpcRequest req;
        req.set_method(method);
        req.set_params(params);
        return call(&mayastor::JsonRpc::Stub::JsonRpcCall, *_json, req);
    }
};

TEST_F(JsonRpcServiceTest, ForwardsAndPrettyPrints) {
    auto [s, rep] = rpc("get_version");
    ASSERT_TRUE(s.ok()) << s.error_message();
    auto v = jsonrpc::json::parse(rep.result());
    EXPECT_EQ(v["version"], "mayastor 1.2.3-test");
    EXPECT_EQ(rep.result(), v.dump(2));
    EXPECT_NE(rep.result().find("\n  \""), std::string::npos);

    auto [s2, rep2] = rpc("bdev_create", R"({"uri": "malloc:///g0?size_mb=8"})");
    ASSERT_TRUE(s2.ok()) << s2.error_message();
    EXPECT_EQ(rep2.result(), "\"g0\"");
}

TEST_F(JsonRpcServiceTest, MapsErrors) {
    EXPECT_EQ(rpc("get_version", "{not json").first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(rpc("bdev_create", "{}").first.error_code(), StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(rpc("bdev_destroy", R"({"name": "nope"})").first.error_code(), StatusCode::NOT_FOUND);
    ASSERT_TRUE(rpc("bdev_create", R"({"uri": "malloc:///g1?size_mb=8"})").first.ok());
    auto exists = rpc("bdev_create", R"({"uri": "malloc:///g1?size_mb=16"})");
    EXPECT_EQ(exists.first.error_code(), StatusCode::ALREADY_EXISTS);
    EXPECT_NE(exists.first.error_message().find("already exists"), std::string::npos);
    EXPECT_EQ(rpc("no_such_method").first.error_code(), StatusCode::INTERNAL);
    EXPECT_EQ(rpc("get_version", "\"a string\"").first.error_code(),
              StatusCode::INTERNAL);  // invalid request
}

TEST_F(JsonRpcServiceTest, SocketErrorsAreInternal) {
    run_on(reactor(), [this] { return _json_rpc->stop(); });
    auto [s, rep] = rpc("get_version");
    EXPECT_EQ(s.error_code(), StatusCode::INTERNAL);
    EXPECT_NE(s.error_message().find(_socket), std::string::npos) << s.error_message();
}

}  // namespace
}  // namespace ms::api::test
