// rebuild start | stop | pause | resume | state | stats | progress <uuid> <uri>
#include <memory>

#include "mayastor-client/cli.h"
#include "mayastor-client/nexus_view.h"

namespace ms::client {
namespace {

struct Args {
    std::string uuid;
    std::string uri;
};

template <class Request>
Request request_of(const Args& a) {
    Request request;
    request.set_uuid(a.uuid);
    request.set_uri(a.uri);
    return request;
}

CLI::App* add_command(Cli& cli, CLI::App* rebuild, const std::string& name, const std::string& about,
                      const std::shared_ptr<Args>& a, Handler handler) {
    CLI::App* c = cli.command(rebuild, name, about, std::move(handler));
    c->add_option("uuid", a->uuid, "uuid of the nexus")->required();
    c->add_option("uri", a->uri, "uri of the child being rebuilt")->required();
    return c;
}

// start, stop, pause, resume: print the uri.
template <class Request, class Method>
void add_control(Cli& cli, CLI::App* rebuild, const std::string& name, const std::string& about,
                 Method method) {
    auto a = std::make_shared<Args>();
    add_command(cli, rebuild, name, about, a, [a, method](Context& ctx) {
        auto reply = call(ctx.mayastor(), method, request_of<Request>(*a));
        ctx.changed(reply, a->uri);
    });
}

// state, stats, progress: a one-row table.
template <class Request, class Method, class Render>
void add_query(Cli& cli, CLI::App* rebuild, const std::string& name, const std::string& about, Method method,
               Render render) {
    auto a = std::make_shared<Args>();
    add_command(cli, rebuild, name, about, a, [a, method, render](Context& ctx) {
        auto reply = call(ctx.mayastor(), method, request_of<Request>(*a));
        ctx.queried(reply, [&] { return render(reply, ctx.style()); });
    });
}

}  // namespace

void add_rebuild_commands(Cli& cli) {
    using Stub = mayastor::Mayastor::Stub;
    CLI::App* rebuild = cli.group(cli.root(), "rebuild", "Rebuild management");
    add_control<mayastor::StartRebuildRequest>(cli, rebuild, "start", "starts a rebuild",
                                               &Stub::StartRebuild);
    add_control<mayastor::StopRebuildRequest>(cli, rebuild, "stop", "stops a rebuild", &Stub::StopRebuild);
    add_control<mayastor::PauseRebuildRequest>(cli, rebuild, "pause", "pauses a rebuild",
                                               &Stub::PauseRebuild);
    add_control<mayastor::ResumeRebuildRequest>(cli, rebuild, "resume", "resumes a rebuild",
                                                &Stub::ResumeRebuild);
    add_query<mayastor::RebuildStateRequest>(cli, rebuild, "state", "gets the rebuild state of the child",
                                             &Stub::GetRebuildState, render_rebuild_state);
    add_query<mayastor::RebuildStatsRequest>(cli, rebuild, "stats", "gets the rebuild stats of the child",
                                             &Stub::GetRebuildStats, render_rebuild_stats);
    add_query<mayastor::RebuildProgressRequest>(cli, rebuild, "progress", "shows the progress of a rebuild",
                                                &Stub::GetRebuildProgress, render_rebuild_progress);
}

}  // namespace ms::client
