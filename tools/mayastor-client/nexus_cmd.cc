// nexus create | destroy | publish | unpublish | add | remove | ana_state | list | children |
// child fault
#include <fmt/format.h>

#include <memory>

#include "mayastor-client/cli.h"
#include "mayastor-client/nexus_view.h"
#include "mayastor-client/proto_json.h"
#include "mayastor-client/size_parse.h"

namespace ms::client {
namespace {

struct UuidUri {
    std::string uuid;
    std::string uri;
};

void add_create(Cli& cli, CLI::App* nexus) {
    struct Args {
        std::string uuid;
        std::string size;
        std::vector<std::string> children;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(nexus, "create", "Create a new nexus device", [a](Context& ctx) {
        auto size = parse_size(a->size);  // a bare number is bytes here
        if (!size) {
            throw CommandError{grpc::StatusCode::INVALID_ARGUMENT, fmt::format("Bad size '{}'", a->size)};
        }
        mayastor::CreateNexusRequest request;
        request.set_uuid(a->uuid);
        request.set_size(*size);
        for (const auto& child : a->children) {
            request.add_children(child);
        }
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::CreateNexus, request);
        ctx.changed(reply, reply.uuid());
    });
    c->add_option("uuid", a->uuid, "uuid for the nexus")->required();
    c->add_option("size", a->size, "size with optional unit suffix")->required();
    c->add_option("children", a->children, "list of children to add")->required();
}

void add_publish(Cli& cli, CLI::App* nexus) {
    struct Args {
        std::string uuid;
        std::string key;
        std::string protocol;
        CLI::Option* protocol_given = nullptr;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(nexus, "publish", "publish the nexus", [a](Context& ctx) {
        mayastor::PublishNexusRequest request;
        request.set_uuid(a->uuid);
        request.set_key(a->key);
        if (a->protocol_given->count() > 0) {
            auto share = parse_nexus_share(a->protocol);
            if (!share) {
                throw CommandError{grpc::StatusCode::INTERNAL, "Invalid value of share protocol"};
            }
            request.set_share(*share);
        } else {
            request.set_share(mayastor::NEXUS_NBD);
        }
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::PublishNexus, request);
        ctx.changed(reply, reply.device_uri());
    });
    a->protocol_given =
        c->add_option("-p,--protocol", a->protocol,
                      "Name of a protocol (nvmf, iscsi) used for publishing the nexus remotely");
    c->add_option("uuid", a->uuid, "uuid for the nexus")->required();
    c->add_option("key", a->key, "crypto key to use");
}

void add_add(Cli& cli, CLI::App* nexus) {
    struct Args {
        std::string uuid;
        std::string uri;
        std::string norebuild = "false";
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = cli.command(nexus, "add", "add a child", [a](Context& ctx) {
        mayastor::AddChildNexusRequest request;
        request.set_uuid(a->uuid);
        request.set_uri(a->uri);
        request.set_norebuild(parse_norebuild(a->norebuild));
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::AddChildNexus, request);
        ctx.changed(reply, a->uuid);
    });
    c->add_option("uuid", a->uuid, "uuid for the nexus")->required();
    c->add_option("uri", a->uri, "uri of child to add")->required();
    c->add_option("norebuild", a->norebuild,
                  "true: do not start a rebuild job automatically (default false)");
}

void add_ana_state(Cli& cli, CLI::App* nexus) {
    struct Args {
        std::string uuid;
        std::string state;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c =
        cli.command(nexus, "ana_state", "get or set the NVMe ANA state of the nexus", [a](Context& ctx) {
            // Prints a word whatever -o says, like the v0.8 client.
            if (a->state.empty()) {
                mayastor::GetNvmeAnaStateRequest request;
                request.set_uuid(a->uuid);
                auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::GetNvmeAnaState, request);
                if (ctx.verbosity() > 0) {
                    ctx.print_line(ana_state_word(reply.ana_state()));
                }
                return;
            }
            auto state = parse_ana_state(a->state);
            if (!state) {
                throw CommandError{grpc::StatusCode::INTERNAL, "Invalid value of NVMe ANA state"};
            }
            mayastor::SetNvmeAnaStateRequest request;
            request.set_uuid(a->uuid);
            request.set_ana_state(*state);
            call(ctx.mayastor(), &mayastor::Mayastor::Stub::SetNvmeAnaState, request);
            if (ctx.verbosity() > 1) {
                ctx.print_line(a->uuid);
            }
        });
    c->add_option("uuid", a->uuid, "uuid for the nexus")->required();
    c->add_option("state", a->state, "NVMe ANA state of the nexus")
        ->check(CLI::IsMember({"optimized", "non_optimized", "inaccessible"}));
}

void add_list(Cli& cli, CLI::App* nexus) {
    auto show_children = std::make_shared<bool>(false);
    CLI::App* c = cli.command(nexus, "list", "list all nexus devices", [show_children](Context& ctx) {
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListNexus, mayastor::Null());
        if (!ctx.json() && !reply.nexus_list().empty()) {
            ctx.diag("Found following nexus:");
        }
        ctx.queried(reply, [&] { return render_nexus_list(reply, *show_children, ctx.style()); });
    });
    c->add_flag("-c,--show-children", *show_children, "show the children of each nexus");
}

void add_children(Cli& cli, CLI::App* nexus) {
    auto uuid = std::make_shared<std::string>();
    CLI::App* c = cli.command(nexus, "children", "list nexus children", [uuid](Context& ctx) {
        auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListNexus, mayastor::Null());
        for (const auto& n : reply.nexus_list()) {
            if (n.uuid() != *uuid) {
                continue;
            }
            if (ctx.json()) {
                // Like the v0.8 client: the children of the nexus, not the whole ListNexus reply.
                Json children = Json::array();
                for (const auto& child : n.children()) {
                    children.push_back(to_json(child));
                }
                ctx.print_line(json_text(children));
            } else {
                ctx.print(render_nexus_children(n, ctx.style()));
            }
            return;
        }
        throw CommandError{grpc::StatusCode::INVALID_ARGUMENT, "Specified nexus not found"};
    });
    c->add_option("uuid", *uuid, "uuid of nexus")->required();
}

// destroy, unpublish: one uuid, print it.
template <class Request, class Method>
void add_uuid_command(Cli& cli, CLI::App* nexus, const std::string& name, const std::string& about,
                      Method method) {
    auto uuid = std::make_shared<std::string>();
    CLI::App* c = cli.command(nexus, name, about, [uuid, method](Context& ctx) {
        Request request;
        request.set_uuid(*uuid);
        auto reply = call(ctx.mayastor(), method, request);
        ctx.changed(reply, *uuid);
    });
    c->add_option("uuid", *uuid, "uuid for the nexus")->required();
}

// remove, child fault: uuid and uri, print the uri.
template <class Request, class Method>
void add_uri_command(Cli& cli, CLI::App* parent, const std::string& name, const std::string& about,
                     const std::string& uri_help, Method method) {
    auto a = std::make_shared<UuidUri>();
    CLI::App* c = cli.command(parent, name, about, [a, method](Context& ctx) {
        Request request;
        request.set_uuid(a->uuid);
        request.set_uri(a->uri);
        auto reply = call(ctx.mayastor(), method, request);
        ctx.changed(reply, a->uri);
    });
    c->add_option("uuid", a->uuid, "uuid of the nexus")->required();
    c->add_option("uri", a->uri, uri_help)->required();
}

}  // namespace

void add_nexus_commands(Cli& cli) {
    using Stub = mayastor::Mayastor::Stub;
    CLI::App* nexus = cli.group(cli.root(), "nexus", "Nexus device management");
    add_create(cli, nexus);
    add_uuid_command<mayastor::DestroyNexusRequest>(cli, nexus, "destroy",
                                                    "destroy the nexus with given name", &Stub::DestroyNexus);
    add_publish(cli, nexus);
    add_add(cli, nexus);
    add_uri_command<mayastor::RemoveChildNexusRequest>(cli, nexus, "remove", "remove a child",
                                                       "uri of child to remove", &Stub::RemoveChildNexus);
    add_uuid_command<mayastor::UnpublishNexusRequest>(cli, nexus, "unpublish", "unpublish the nexus",
                                                      &Stub::UnpublishNexus);
    add_ana_state(cli, nexus);
    add_list(cli, nexus);
    add_children(cli, nexus);

    CLI::App* child = cli.group(nexus, "child", "Nexus child management");
    add_uri_command<mayastor::FaultNexusChildRequest>(cli, child, "fault", "fault a child",
                                                      "uri of the child", &Stub::FaultNexusChild);
}

}  // namespace ms::client
