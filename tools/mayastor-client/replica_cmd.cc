// replica create | destroy | share | list | stats | snapshot | clone
#include <fmt/format.h>

#include <memory>

#include "mayastor-client/cli.h"
#include "mayastor-client/replica_view.h"
#include "mayastor-client/size_parse.h"

namespace ms::client {
namespace {

mayastor::ShareProtocolReplica replica_share_or_throw(std::string_view word) {
    auto share = parse_replica_share(word);
    if (!share) {
        throw CommandError{grpc::StatusCode::INTERNAL, "Invalid value of share protocol"};
    }
    return *share;
}

void add_create(Cli& cli, CLI::App* replica) {
    struct Args {
        std::string pool;
        std::string uuid;
        std::string size;
        std::string protocol;
        CLI::Option* protocol_given = nullptr;
        bool thin = false;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(replica, "create", "Create replica on pool", [a](Context& ctx) {
        // A bare number is MiB here (`--size=10` is 10 MiB); with a unit it is exact.
        auto size = parse_size(a->size, kMiB);
        if (!size) {
            throw CommandError{grpc::StatusCode::INVALID_ARGUMENT, fmt::format("Bad size '{}'", a->size)};
        }
        mayastor::CreateReplicaRequest request;
        request.set_uuid(a->uuid);
        request.set_pool(a->pool);
        request.set_size(*size);
        request.set_thin(a->thin);
        request.set_share(a->protocol_given->count() > 0 ? replica_share_or_throw(a->protocol)
                                                         : mayastor::REPLICA_NONE);
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::CreateReplica, request);
        ctx.changed(reply, reply.uri());
    });
    c->add_option("pool", a->pool, "Storage pool name")->required();
    c->add_option("uuid", a->uuid, "Unique replica uuid")->required();
    c->add_option("-s,--size", a->size,
                  "Size of the replica: a number of MiB, or a number with a unit (10GiB)")
        ->required();
    a->protocol_given =
        c->add_option("-p,--protocol", a->protocol,
                      "Name of a protocol (nvmf, iscsi) used for sharing the replica (default none)");
    c->add_flag("-t,--thin", a->thin, "Whether replica is thin provisioned (default false)");
}

void add_destroy(Cli& cli, CLI::App* replica) {
    auto ids = std::make_shared<std::vector<std::string>>();
    CLI::App* c = cli.command(replica, "destroy", "Destroy replica", [ids](Context& ctx) {
        std::string uuid = ids->back();
        if (ids->size() == 2) {
            // With a pool: refuse to destroy a replica of that name that lives in another pool.
            const std::string& pool = ids->front();
            auto list = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListReplicas, mayastor::Null());
            for (const auto& r : list.replicas()) {
                if (r.uuid() == uuid && r.pool() != pool) {
                    throw CommandError{
                        grpc::StatusCode::INVALID_ARGUMENT,
                        fmt::format("Replica {} is in pool {}, not in pool {}", uuid, r.pool(), pool)};
                }
            }
        }
        mayastor::DestroyReplicaRequest request;
        request.set_uuid(uuid);
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::DestroyReplica, request);
        ctx.changed(reply, uuid);
    });
    c->add_option("uuid", *ids, "[<pool>] <uuid>: the replica, optionally with the pool it must be in")
        ->required()
        ->expected(1, 2)
        ->type_name("[POOL] UUID");
}

void add_share(Cli& cli, CLI::App* replica) {
    struct Args {
        std::string uuid;
        std::string protocol;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(replica, "share", "Share or unshare replica", [a](Context& ctx) {
        mayastor::ShareReplicaRequest request;
        request.set_uuid(a->uuid);
        request.set_share(replica_share_or_throw(a->protocol));
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ShareReplica, request);
        ctx.changed(reply, reply.uri());
    });
    c->add_option("uuid", a->uuid, "Replica uuid")->required();
    c->add_option("protocol", a->protocol,
                  "Name of a protocol (nvmf, iscsi) used for sharing or \"none\" to unshare the replica")
        ->required();
}

void add_snapshot(Cli& cli, CLI::App* replica) {
    struct Args {
        std::string replica;
        std::string name;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(replica, "snapshot", "Create a snapshot of a replica", [a](Context& ctx) {
        mayastor::CreateReplicaSnapshotRequest request;
        request.set_replica(a->replica);
        request.set_name(a->name);
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::CreateReplicaSnapshot, request);
        ctx.changed(reply, reply.name());
    });
    c->add_option("replica", a->replica, "Replica uuid")->required();
    c->add_option("name", a->name, "Snapshot name (default <replica>-snap-<unix seconds>)");
}

void add_clone(Cli& cli, CLI::App* replica) {
    struct Args {
        std::string snapshot;
        std::string uuid;
        std::string protocol;
        CLI::Option* protocol_given = nullptr;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(replica, "clone", "Create a replica from a snapshot", [a](Context& ctx) {
        mayastor::CreateReplicaCloneRequest request;
        request.set_snapshot(a->snapshot);
        request.set_uuid(a->uuid);
        request.set_share(a->protocol_given->count() > 0 ? replica_share_or_throw(a->protocol)
                                                         : mayastor::REPLICA_NONE);
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::CreateReplicaClone, request);
        ctx.changed(reply, reply.uri());
    });
    c->add_option("snapshot", a->snapshot, "Snapshot name")->required();
    c->add_option("uuid", a->uuid, "Unique uuid of the new replica")->required();
    a->protocol_given = c->add_option("-p,--protocol", a->protocol,
                                      "Name of a protocol (nvmf, none) used for sharing the clone");
}

}  // namespace

void add_replica_commands(Cli& cli) {
    CLI::App* replica = cli.group(cli.root(), "replica", "Replica management");
    add_create(cli, replica);
    add_destroy(cli, replica);
    add_share(cli, replica);
    cli.command(replica, "list", "List replicas", [](Context& ctx) {
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListReplicas, mayastor::Null());
        ctx.queried(reply, [&] { return render_replicas(reply, ctx.style()); });
    });
    cli.command(replica, "stats", "IO stats of replicas", [](Context& ctx) {
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::StatReplicas, mayastor::Null());
        ctx.queried(reply, [&] { return render_replica_stats(reply, ctx.style()); });
    });
    add_snapshot(cli, replica);
    add_clone(cli, replica);
}

}  // namespace ms::client
