// pool create | destroy | list
#include <memory>

#include "mayastor-client/cli.h"
#include "mayastor-client/pool_view.h"

namespace ms::client {

void add_pool_commands(Cli& cli) {
    CLI::App* pool = cli.group(cli.root(), "pool", "Storage pool management");

    struct CreateArgs {
        std::string name;
        std::vector<std::string> disks;
    };
    auto create = std::make_shared<CreateArgs>();
    CLI::App* c = cli.command(pool, "create", "Create storage pool", [create](Context& ctx) {
        mayastor::CreatePoolRequest request;
        request.set_name(create->name);
        for (const auto& d : create->disks) {
            request.add_disks(d);
        }
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::CreatePool, request);
        ctx.changed(reply, create->name);
    });
    c->add_option("pool", create->name, "Storage pool name")->required();
    c->add_option("disk", create->disks, "Disk device files (paths or URIs)")->required();

    auto destroy = std::make_shared<std::string>();
    CLI::App* d = cli.command(pool, "destroy", "Destroy storage pool", [destroy](Context& ctx) {
        mayastor::DestroyPoolRequest request;
        request.set_name(*destroy);
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::DestroyPool, request);
        ctx.changed(reply, *destroy);
    });
    d->add_option("pool", *destroy, "Storage pool name")->required();

    cli.command(pool, "list", "List storage pools", [](Context& ctx) {
        ctx.diag("Requesting a list of pools");
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListPools, mayastor::Null());
        ctx.queried(reply, [&] { return render_pools(reply, ctx.style()); });
    });
}

}  // namespace ms::client
