// snapshot create <nexus uuid> (v0.8) | list | destroy <name> (replica snapshots, extensions)
#include <memory>

#include "mayastor-client/cli.h"
#include "mayastor-client/replica_view.h"

namespace ms::client {

void add_snapshot_commands(Cli& cli) {
    CLI::App* snapshot = cli.group(cli.root(), "snapshot", "Snapshot management");

    auto uuid = std::make_shared<std::string>();
    CLI::App* create = cli.command(
        snapshot, "create", "create a snapshot of every replica behind a nexus", [uuid](Context& ctx) {
            mayastor::CreateSnapshotRequest request;
            request.set_uuid(*uuid);
            auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::CreateSnapshot, request);
            ctx.changed(reply, *uuid);  // the nexus uuid, not the snapshot name (as v0.8)
        });
    create->add_option("uuid", *uuid, "uuid of the nexus")->required();

    cli.command(snapshot, "list", "list the snapshots of replicas", [](Context& ctx) {
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListReplicaSnapshots, mayastor::Null());
        ctx.queried(reply, [&] { return render_snapshots(reply, ctx.style()); });
    });

    auto name = std::make_shared<std::string>();
    CLI::App* destroy = cli.command(snapshot, "destroy", "destroy a replica snapshot", [name](Context& ctx) {
        mayastor::DestroyReplicaSnapshotRequest request;
        request.set_name(*name);
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::DestroyReplicaSnapshot, request);
        ctx.changed(reply, *name);
    });
    destroy->add_option("name", *name, "snapshot name")->required();
}

}  // namespace ms::client
