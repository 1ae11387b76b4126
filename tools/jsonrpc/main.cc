// jsonrpc: one JSON-RPC 2.0 call on the mayastor daemon's Unix socket.
//   jsonrpc [-s SOCKET] [-t SECONDS] raw METHOD [PARAMS-JSON]
// Prints the result as pretty JSON on stdout (exit 0); a JSON-RPC error or a transport failure
// goes to stderr (exit 1).
#include <CLI/CLI.hpp>
#include <iostream>

#include "api/jsonrpc/json_rpc_client.h"

int main(int argc, char** argv) {
    CLI::App app{"jsonrpc: make one JSON-RPC call on the mayastor daemon's socket and print the result."};
    app.name("jsonrpc");
    std::string socket = "/var/tmp/mayastor.sock";
    unsigned timeout_s = 60;
    app.add_option("-s,--socket", socket, "The daemon's JSON-RPC socket (its -r option)")
        ->type_name("PATH")
        ->capture_default_str();
    app.add_option("-t,--timeout", timeout_s, "Give up after this many seconds")
        ->type_name("SECONDS")
        ->check(CLI::Range(1u, 86400u))
        ->capture_default_str();
    auto* raw =
        app.add_subcommand("raw", "Call METHOD with PARAMS (a JSON object or array; none if omitted)");
    std::string method;
    std::string params_text;
    raw->add_option("method", method, "Method name, e.g. rpc_get_methods")->required();
    raw->add_option("params", params_text,
                    "Parameters as JSON text, e.g. '{\"uri\": \"malloc:///m0?size_mb=8\"}'");
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    using ms::api::jsonrpc::json;
    json params = nullptr;
    if (!params_text.empty()) {
        params = json::parse(params_text, nullptr, false);
        if (params.is_discarded()) {
            std::cerr << "jsonrpc: the parameters are not valid JSON: " << params_text << "\n";
            return 1;
        }
    }
    auto r = ms::api::jsonrpc::call(socket, method, params, std::chrono::seconds(timeout_s));
    if (!r) {
        std::cerr << "jsonrpc: " << r.error().message << "\n";
        return 1;
    }
    if (!*r) {
        std::cerr << "jsonrpc: error " << r->error().code << ": " << r->error().message << "\n";
        return 1;
    }
    std::cout << (*r)->dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
}
