// rebuild start | stop | pause | resume | state | stats | progress [--follow] <uuid> <uri>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "mayastor-client/cli.h"
#include "mayastor-client/nexus_view.h"
#include "mayastor-client/proto_json.h"

namespace ms::client {
namespace {

// How often `rebuild progress --follow` asks.
constexpr std::chrono::milliseconds kFollowInterval{500};

struct Args {
    std::string uuid;
    std::string uri;
    bool follow = false;
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

// One unary call that reports failure as a status instead of throwing.
template <class Request, class Reply>
grpc::Status try_call(Context& ctx,
                      grpc::Status (mayastor::Mayastor::Stub::*method)(grpc::ClientContext*, const Request&,
                                                                       Reply*),
                      const Request& request, Reply* reply) {
    grpc::ClientContext context;
    return (ctx.mayastor().*method)(&context, request, reply);
}

// Prints progress when it changed: a bar on a terminal, lines otherwise, JSON with -o json,
// nothing with -q.
class ProgressPrinter {
   public:
    explicit ProgressPrinter(Context& ctx) : _ctx(ctx), _tty(::isatty(STDOUT_FILENO) == 1) {}

    void show(uint32_t percent) {
        if (_shown == percent || _ctx.verbosity() == 0) {
            return;
        }
        _shown = percent;
        if (_ctx.json()) {
            mayastor::RebuildProgressReply reply;
            reply.set_progress(percent);
            _ctx.print_line(json_text(reply));
        } else if (_tty) {
            _ctx.print(rebuild_progress_bar(percent));
        } else {
            _ctx.print(rebuild_progress_line(percent));
        }
    }
    // Ends the bar's line.
    void finish() {
        if (_tty && _shown && !_ctx.json() && _ctx.verbosity() > 0) {
            _ctx.print("\n");
        }
    }

   private:
    Context& _ctx;
    bool _tty;
    std::optional<uint32_t> _shown;
};

// The job is gone (the server removes a job that has ended): did it complete? The child says
// so. Once rebuilt it goes online, but only after the store has recorded it as current, so for
// a moment a completed job's child is still out of sync (degraded): a degraded child is only
// taken as stopped when it stays so for kSettleTime. A faulted child: the rebuild failed.
constexpr std::chrono::seconds kSettleTime{3};
constexpr std::chrono::milliseconds kSettlePoll{100};

void check_gone_job(Context& ctx, const Args& a, ProgressPrinter& printer) {
    auto deadline = std::chrono::steady_clock::now() + kSettleTime;
    for (;;) {
        auto list = call(ctx.mayastor(), &mayastor::Mayastor::Stub::ListNexus, mayastor::Null());
        const mayastor::Nexus* nexus = nullptr;
        for (const auto& n : list.nexus_list()) {
            if (n.uuid() == a.uuid) {
                nexus = &n;
            }
        }
        if (nexus == nullptr) {
            printer.finish();
            throw CommandError{grpc::StatusCode::ABORTED,
                               fmt::format("rebuild of {} ended: nexus {} is gone", a.uri, a.uuid)};
        }
        const mayastor::Child* child = nullptr;
        for (const auto& c : nexus->children()) {
            if (c.uri() == a.uri) {
                child = &c;
            }
        }
        if (child == nullptr) {
            printer.finish();
            throw CommandError{grpc::StatusCode::ABORTED,
                               fmt::format("rebuild of {} ended: the child was removed", a.uri)};
        }
        if (child->state() == mayastor::CHILD_ONLINE) {
            printer.show(100);
            printer.finish();
            return;
        }
        if (child->state() != mayastor::CHILD_DEGRADED || std::chrono::steady_clock::now() >= deadline) {
            printer.finish();
            throw CommandError{child->state() == mayastor::CHILD_FAULTED ? grpc::StatusCode::INTERNAL
                                                                         : grpc::StatusCode::ABORTED,
                               fmt::format("rebuild of {} ended without completing: the child is {}", a.uri,
                                           child_state_word(child->state()))};
        }
        std::this_thread::sleep_for(kSettlePoll);
    }
}

// `rebuild progress --follow`: polls the job's state and progress until it ends. Returns when
// it completed; a CommandError (exit 1) when it failed or was stopped.
void follow_progress(Context& ctx, const Args& a) {
    using Stub = mayastor::Mayastor::Stub;
    ProgressPrinter printer(ctx);
    for (bool first = true;; first = false) {
        mayastor::RebuildStateReply state;
        grpc::Status s =
            try_call(ctx, &Stub::GetRebuildState, request_of<mayastor::RebuildStateRequest>(a), &state);
        if (!s.ok()) {
            if (first || s.error_code() != grpc::StatusCode::INTERNAL) {
                // No job to follow (or the nexus is unknown): the plain command's error.
                printer.finish();
                throw CommandError{s.error_code(), s.error_message()};
            }
            check_gone_job(ctx, a, printer);
            return;
        }
        if (state.state() == "completed") {
            printer.show(100);
            printer.finish();
            return;
        }
        if (state.state() == "failed" || state.state() == "stopped") {
            printer.finish();
            throw CommandError{
                state.state() == "failed" ? grpc::StatusCode::INTERNAL : grpc::StatusCode::ABORTED,
                fmt::format("rebuild of {} {}", a.uri, state.state())};
        }
        mayastor::RebuildProgressReply progress;
        if (try_call(ctx, &Stub::GetRebuildProgress, request_of<mayastor::RebuildProgressRequest>(a),
                     &progress)
                .ok()) {
            printer.show(progress.progress());
        }  // else the job ended in between: the next state call says how
        std::this_thread::sleep_for(kFollowInterval);
    }
}

void add_progress(Cli& cli, CLI::App* rebuild) {
    auto a = std::make_shared<Args>();
    CLI::App* c =
        add_command(cli, rebuild, "progress", "shows the progress of a rebuild", a, [a](Context& ctx) {
            if (a->follow) {
                follow_progress(ctx, *a);
                return;
            }
            auto reply = call(ctx.mayastor(), &mayastor::Mayastor::Stub::GetRebuildProgress,
                              request_of<mayastor::RebuildProgressRequest>(*a));
            ctx.queried(reply, [&] { return render_rebuild_progress(reply, ctx.style()); });
        });
    c->add_flag("-f,--follow", a->follow,
                "follow the rebuild until it ends (a progress bar on a terminal); fails if it fails or is "
                "stopped");
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
    add_progress(cli, rebuild);
}

}  // namespace ms::client
