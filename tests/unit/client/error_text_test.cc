// The error line on stderr: Rust debug rendering of a gRPC status.
#include "mayastor-client/error_text.h"

#include <gtest/gtest.h>

namespace ms::client {
namespace {

TEST(ErrorText, CodeNames) {
    EXPECT_EQ(status_code_name(0), "Ok");
    EXPECT_EQ(status_code_name(1), "Cancelled");
    EXPECT_EQ(status_code_name(2), "Unknown");
    EXPECT_EQ(status_code_name(3), "InvalidArgument");
    EXPECT_EQ(status_code_name(4), "DeadlineExceeded");
    EXPECT_EQ(status_code_name(5), "NotFound");
    EXPECT_EQ(status_code_name(6), "AlreadyExists");
    EXPECT_EQ(status_code_name(7), "PermissionDenied");
    EXPECT_EQ(status_code_name(8), "ResourceExhausted");
    EXPECT_EQ(status_code_name(9), "FailedPrecondition");
    EXPECT_EQ(status_code_name(10), "Aborted");
    EXPECT_EQ(status_code_name(11), "OutOfRange");
    EXPECT_EQ(status_code_name(12), "Unimplemented");
    EXPECT_EQ(status_code_name(13), "Internal");
    EXPECT_EQ(status_code_name(14), "Unavailable");
    EXPECT_EQ(status_code_name(15), "DataLoss");
    EXPECT_EQ(status_code_name(16), "Unauthenticated");
    EXPECT_EQ(status_code_name(17), "Unknown");
    EXPECT_EQ(status_code_name(-1), "Unknown");
}

TEST(ErrorText, Line) {
    EXPECT_EQ(grpc_error_text(5, "pool tpool not found"),
              "Error: GrpcStatus { source: Status { code: NotFound, message: \"pool tpool not found\" } }");
    EXPECT_EQ(grpc_error_text(3, "Bad size '10X'"),
              "Error: GrpcStatus { source: Status { code: InvalidArgument, message: \"Bad size '10X'\" } }");
    EXPECT_EQ(grpc_error_text(13, ""),
              "Error: GrpcStatus { source: Status { code: Internal, message: \"\" } }");
}

TEST(ErrorText, StartsAsTheSheetSays) {
    std::string line = grpc_error_text(13, "Invalid value of share protocol");
    EXPECT_EQ(
        line.rfind("Error: GrpcStatus { source: Status { code: Internal, message: \"Invalid value of share "
                   "protocol\"",
                   0),
        0u);
}

TEST(ErrorText, RustDebugEscapes) {
    EXPECT_EQ(debug_quoted("plain"), "\"plain\"");
    EXPECT_EQ(debug_quoted("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
    EXPECT_EQ(debug_quoted("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
    EXPECT_EQ(debug_quoted(std::string("\0", 1)), "\"\\0\"");
    EXPECT_EQ(debug_quoted("\x01\x1b\x7f"), "\"\\u{1}\\u{1b}\\u{7f}\"");
    EXPECT_EQ(debug_quoted("it's"), "\"it's\"");
    EXPECT_EQ(debug_quoted("z\xc3\xbcrich"), "\"z\xc3\xbcrich\"");
}

}  // namespace
}  // namespace ms::client
