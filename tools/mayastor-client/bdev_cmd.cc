// bdev list | create | destroy | share | unshare (service BdevRpc)
#include <memory>

#include "mayastor-client/cli.h"
#include "mayastor-client/node_view.h"

namespace ms::client {

void add_bdev_commands(Cli& cli) {
    using Stub = mayastor::BdevRpc::Stub;
    CLI::App* bdev = cli.group(cli.root(), "bdev", "Block device management");

    cli.command(bdev, "list", "List all bdevs", [](Context& ctx) {
        auto reply = call(ctx.bdev(), &Stub::List, mayastor::Null());
        ctx.queried(reply, [&] { return render_bdevs(reply, ctx.style()); });
    });

    auto uri = std::make_shared<std::string>();
    CLI::App* create =
        cli.command(bdev, "create", "Create a new bdev by specifying a URI", [uri](Context& ctx) {
            mayastor::BdevUri request;
            request.set_uri(*uri);
            auto reply = call(ctx.bdev(), &Stub::Create, request);
            ctx.changed(reply, reply.name());
        });
    create->add_option("uri", *uri, "URI of the bdev")->required();

    auto destroy_name = std::make_shared<std::string>();
    CLI::App* destroy = cli.command(bdev, "destroy", "destroy the given bdev", [destroy_name](Context& ctx) {
        // Destroy takes the URI the bdev was created from: find it by name, unshare, destroy.
        auto list = call(ctx.bdev(), &Stub::List, mayastor::Null());
        for (const auto& b : list.bdevs()) {
            if (b.name() != *destroy_name) {
                continue;
            }
            mayastor::CreateReply unshare;
            unshare.set_name(*destroy_name);
            call(ctx.bdev(), &Stub::Unshare, unshare);
            mayastor::BdevUri request;
            request.set_uri(b.uri());
            auto reply = call(ctx.bdev(), &Stub::Destroy, request);
            ctx.changed(reply, *destroy_name);
            return;
        }
        throw CommandError{grpc::StatusCode::NOT_FOUND, *destroy_name};
    });
    destroy->add_option("name", *destroy_name, "bdev name")->required();

    struct ShareArgs {
        std::string name;
        std::string protocol = "nvmf";
    };
    auto share_args = std::make_shared<ShareArgs>();
    CLI::App* share = cli.command(bdev, "share", "share the given bdev", [share_args](Context& ctx) {
        mayastor::BdevShareRequest request;
        request.set_name(share_args->name);
        request.set_proto(share_args->protocol);
        auto reply = call(ctx.bdev(), &Stub::Share, request);
        ctx.changed(reply, reply.uri());
    });
    share->add_option("name", share_args->name, "bdev name")->required();
    share->add_option("-p,--protocol", share_args->protocol, "the protocol used to share the given bdev")
        ->check(CLI::IsMember({"nvmf", "iscsi", "nbd"}))
        ->capture_default_str();

    auto unshare_name = std::make_shared<std::string>();
    CLI::App* unshare = cli.command(bdev, "unshare", "unshare the given bdev", [unshare_name](Context& ctx) {
        mayastor::CreateReply request;
        request.set_name(*unshare_name);
        auto reply = call(ctx.bdev(), &Stub::Unshare, request);
        ctx.changed(reply, *unshare_name);
    });
    unshare->add_option("name", *unshare_name, "bdev name")->required();
}

}  // namespace ms::client
