#include "mayastor-client/cli.h"

#include <iostream>

#include "mayastor-client/bind_uri.h"
#include "mayastor-client/error_text.h"
#include "mayastor-client/size_format.h"

namespace ms::client {
namespace {

constexpr std::chrono::seconds kConnectTimeout{5};

}  // namespace

Cli::Cli() : app_("CLI utility for Mayastor", "mayastor-client") {
    app_.fallthrough();  // -b, -v and -o are accepted after the subcommand too
    app_.require_subcommand(0, 1);
    app_.set_version_flag("-V,--version", std::string("mayastor-client ") + MS_VERSION);
    bind_option_ = app_.add_option(
        "-b,--bind", bind_, "The URI of mayastor instance (default " + std::string(kDefaultBind) + ")");
    quiet_option_ =
        app_.add_flag("-q,--quiet")->description("Do not print any output except for list records");
    verbose_option_ = app_.add_flag("-v,--verbose")->description("Verbose output (repeatable)");
    quiet_option_->excludes(verbose_option_);
    app_.add_option("-u,--units", units_,
                    "Output with large units: i for KiB, etc. or d for KB, etc. (b: plain bytes)")
        ->check(CLI::IsMember({"i", "d", "b"}));
    app_.add_option("-o,--output", output_, "Output format: default or json")
        ->transform(CLI::IsMember({"default", "json"}, CLI::ignore_case));
}

void Cli::forbid_root_only_options(CLI::App* sub) {
    misplaced_.emplace_back(sub->add_flag("-q,--quiet")->group(""), "-q/--quiet");
    misplaced_.emplace_back(sub->add_option("-u,--units")->group(""), "-u/--units");
}

CLI::App* Cli::group(CLI::App* parent, const std::string& name, const std::string& about) {
    CLI::App* sub = parent->add_subcommand(name, about);
    sub->require_subcommand(0, 1);
    forbid_root_only_options(sub);
    return sub;
}

CLI::App* Cli::command(CLI::App* parent, const std::string& name, const std::string& about, Handler handler) {
    CLI::App* sub = parent->add_subcommand(name, about);
    forbid_root_only_options(sub);
    handlers_[sub] = std::move(handler);
    return sub;
}

void add_all_commands(Cli& cli) {
    add_pool_commands(cli);
    add_nexus_commands(cli);
    add_replica_commands(cli);
    add_bdev_commands(cli);
    add_device_commands(cli);
    add_perf_commands(cli);
    add_rebuild_commands(cli);
    add_snapshot_commands(cli);
    add_controller_commands(cli);
    add_jsonrpc_command(cli);
}

int Cli::usage_error(const std::string& message) {
    std::cerr << "error: " << message << "\n\n" << app_.help();
    return 1;
}

int Cli::run(int argc, char** argv) {
    try {
        app_.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        std::cout << app_.help();
        return 0;
    } catch (const CLI::CallForAllHelp&) {
        std::cout << app_.help("", CLI::AppFormatMode::All);
        return 0;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << '\n';
        return 0;
    } catch (const CLI::ParseError& e) {
        return usage_error(e.what());
    }
    for (const auto& [option, name] : misplaced_) {
        if (option->count() > 0) {
            return usage_error(name + " is only allowed before the subcommand");
        }
    }

    CLI::App* selected = &app_;
    while (!selected->get_subcommands().empty()) {
        selected = selected->get_subcommands().front();
    }
    auto handler = handlers_.find(selected);
    if (handler == handlers_.end()) {
        // A group without its subcommand: its help, and failure.
        std::cerr << app_.help();
        return 1;
    }

    Style style;
    style.verbosity = quiet_option_->count() > 0 ? 0 : 1 + static_cast<int>(verbose_option_->count());
    style.units = parse_units(units_).value_or(Units::Default);
    bool json = output_ == "json";

    std::string bind = bind_option_->count() > 0 ? bind_ : std::string(kDefaultBind);
    auto endpoint = parse_bind(bind);
    if (!endpoint) {
        std::cerr << "Error: ContextError { source: InvalidUri { uri: " << debug_quoted(bind) << " } }\n";
        return 1;
    }
    if (style.verbosity > 1) {
        std::cout << "Connecting to " << endpoint->uri << '\n' << std::flush;
    }
    std::string why;
    auto channel = connect(*endpoint, kConnectTimeout, &why);
    if (!channel) {
        std::cerr << "Error: cannot connect to " << endpoint->uri << ": " << why << '\n';
        return kExitUnreachable;
    }

    try {
        Context context(style, json, std::move(channel));
        handler->second(context);
    } catch (const CommandError& e) {
        std::cout << std::flush;
        std::cerr << grpc_error_text(static_cast<int>(e.code), e.message) << '\n';
        return 1;
    }
    return 0;
}

}  // namespace ms::client
