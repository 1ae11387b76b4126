// What every command gets: the connection (one channel, the three service stubs), the output
// settings, and helpers that print replies the way the global options say.
#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mayastor-client/bind_uri.h"
#include "mayastor-client/style.h"
#include "mayastor.grpc.pb.h"

namespace ms::client {

// A failed call, or a request the client refuses to send; reported like the server's errors.
struct CommandError {
    grpc::StatusCode code;
    std::string message;
};

// Opens the channel and waits until it is connected: nullptr (and `why`) if the server refuses
// the connection or does not answer within `timeout`.
std::shared_ptr<grpc::Channel> connect(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                                       std::string* why);

class Context {
   public:
    Context(Style style, bool json, std::shared_ptr<grpc::Channel> channel);

    const Style& style() const { return style_; }
    int verbosity() const { return style_.verbosity; }
    bool json() const { return json_; }

    mayastor::Mayastor::Stub& mayastor() { return *mayastor_; }
    mayastor::BdevRpc::Stub& bdev() { return *bdev_; }
    mayastor::JsonRpc::Stub& jsonrpc() { return *jsonrpc_; }

    // Text as is (lines already end in '\n').
    void print(std::string_view text);
    void print_line(std::string_view line);
    // A diagnostic line, printed at -v (verbosity >= 2).
    void diag(std::string_view line);

    // The reply of a command that changes something: JSON with -o json; otherwise `line`, but only
    // at -v (by default such commands print nothing).
    void changed(const google::protobuf::Message& reply, std::string_view line);
    // The reply of a query: JSON with -o json; otherwise what `render` makes of it.
    void queried(const google::protobuf::Message& reply, const std::function<std::string()>& render);

   private:
    Style style_;
    bool json_;
    std::shared_ptr<grpc::Channel> channel_;
    std::unique_ptr<mayastor::Mayastor::Stub> mayastor_;
    std::unique_ptr<mayastor::BdevRpc::Stub> bdev_;
    std::unique_ptr<mayastor::JsonRpc::Stub> jsonrpc_;
};

// One unary call; a non-OK status becomes a CommandError.
template <class Stub, class Request, class Reply>
Reply call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Reply*),
           const Request& request) {
    grpc::ClientContext context;
    Reply reply;
    grpc::Status status = (stub.*method)(&context, request, &reply);
    if (!status.ok()) {
        throw CommandError{status.error_code(), status.error_message()};
    }
    return reply;
}

}  // namespace ms::client
