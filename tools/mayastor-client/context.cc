#include "mayastor-client/context.h"

#include <iostream>

#include "mayastor-client/proto_json.h"

namespace ms::client {

std::shared_ptr<grpc::Channel> connect(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                                       std::string* why) {
    grpc::ChannelArguments args;
    // Straight to the server, as the v0.8 client: no http_proxy from the environment.
    args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    auto channel = grpc::CreateCustomChannel(endpoint.target, grpc::InsecureChannelCredentials(), args);
    auto deadline = std::chrono::system_clock::now() + timeout;
    auto state = channel->GetState(true);
    while (state != GRPC_CHANNEL_READY) {
        // Like the v0.8 client, one attempt: a refused connection fails at once instead of
        // being retried until the deadline.
        if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
            *why = "connection failed";
            return nullptr;
        }
        if (!channel->WaitForStateChange(state, deadline)) {
            *why = "no answer within " + std::to_string(timeout.count() / 1000) + " s";
            return nullptr;
        }
        state = channel->GetState(true);
    }
    return channel;
}

Context::Context(Style style, bool json, std::shared_ptr<grpc::Channel> channel)
    : style_(style),
      json_(json),
      channel_(std::move(channel)),
      mayastor_(mayastor::Mayastor::NewStub(channel_)),
      bdev_(mayastor::BdevRpc::NewStub(channel_)),
      jsonrpc_(mayastor::JsonRpc::NewStub(channel_)) {}

void Context::print(std::string_view text) {
    std::cout << text << std::flush;
}

void Context::print_line(std::string_view line) {
    std::cout << line << '\n' << std::flush;
}

void Context::diag(std::string_view line) {
    if (style_.verbosity > 1) {
        print_line(line);
    }
}

void Context::changed(const google::protobuf::Message& reply, std::string_view line) {
    if (json_) {
        print_line(json_text(reply));
    } else if (style_.verbosity > 1) {
        print_line(line);
    }
}

void Context::queried(const google::protobuf::Message& reply, const std::function<std::string()>& render) {
    if (json_) {
        print_line(json_text(reply));
    } else {
        print(render());
    }
}

}  // namespace ms::client
