// device list, perf resource, controller list, jsonrpc: the node and the raw JSON-RPC proxy.
#include <memory>

#include "mayastor-client/cli.h"
#include "mayastor-client/node_view.h"

namespace ms::client {

void add_device_commands(Cli& cli) {
    CLI::App* device = cli.group(cli.root(), "device", "Host devices");
    auto all = std::make_shared<bool>(false);
    CLI::App* list = cli.command(device, "list", "List available block devices", [all](Context& ctx) {
        mayastor::ListBlockDevicesRequest request;
        request.set_all(*all);
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListBlockDevices, request);
        ctx.queried(reply, [&] { return render_devices(reply, ctx.style()); });
    });
    list->add_flag("-a,--all", *all, "List all block devices (ie. also include devices currently in use)");
}

void add_perf_commands(Cli& cli) {
    CLI::App* perf = cli.group(cli.root(), "perf", "Performance statistics");
    cli.command(perf, "resource", "Resource usage statistics", [](Context& ctx) {
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::GetResourceUsage, mayastor::Null());
        ctx.queried(reply, [&] { return render_resource_usage(reply, ctx.style()); });
    });
}

void add_controller_commands(Cli& cli) {
    CLI::App* controller = cli.group(cli.root(), "controller", "NVMe controllers");
    cli.command(controller, "list", "List existing NVMe controllers", [](Context& ctx) {
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListNvmeControllers, mayastor::Null());
        ctx.queried(reply, [&] { return render_controllers(reply, ctx.style()); });
    });
}

void add_jsonrpc_command(Cli& cli) {
    struct Args {
        std::string method;
        std::string params;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(
        cli.root(), "jsonrpc", "Call a json-rpc method with a raw JSON payload", [a](Context& ctx) {
            mayastor::JsonRpcRequest request;
            request.set_method(a->method);
            request.set_params(a->params);
            auto reply = call(ctx.jsonrpc(), &mayastor::JsonRpc::Stub::JsonRpcCall, request);
            ctx.print_line(reply.result());  // the result text as received, whatever -o says
        });
    c->add_option("method", a->method, "Name of method to call")->required();
    c->add_option("params", a->params, "Parameters (JSON string) to pass to method call");
}

}  // namespace ms::client
