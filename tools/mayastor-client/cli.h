// The command tree of mayastor-client (CLI11) and what happens around a command: the global
// options, syntax errors, connecting, reporting errors, exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mayastor-client/context.h"

namespace ms::client {

using Handler = std::function<void(Context&)>;

// Exit codes: 0 success, 1 failed call / bad command line, 101 server unreachable.
inline constexpr int kExitUnreachable = 101;

class Cli {
   public:
    Cli();

    CLI::App* root() { return &app_; }
    // A group (pool, nexus, ...): needs a subcommand; alone it prints its help and fails.
    CLI::App* group(CLI::App* parent, const std::string& name, const std::string& about);
    // A command that runs `handler`.
    CLI::App* command(CLI::App* parent, const std::string& name, const std::string& about, Handler handler);

    int run(int argc, char** argv);

   private:
    // -q and -u are accepted before the subcommand only: subcommands get hidden copies, and
    // using one is a syntax error.
    void forbid_root_only_options(CLI::App* sub);
    int usage_error(const std::string& message);

    CLI::App app_;
    std::map<const CLI::App*, Handler> handlers_;
    std::vector<std::pair<CLI::Option*, std::string>> misplaced_;  // hidden option, its name
    std::string bind_;
    std::string units_;
    std::string output_ = "default";
    CLI::Option* bind_option_ = nullptr;
    CLI::Option* quiet_option_ = nullptr;
    CLI::Option* verbose_option_ = nullptr;
};

// Every command group (what main() registers).
void add_all_commands(Cli& cli);

// The command groups, one file each.
void add_pool_commands(Cli& cli);
void add_replica_commands(Cli& cli);
void add_nexus_commands(Cli& cli);
void add_rebuild_commands(Cli& cli);
void add_snapshot_commands(Cli& cli);
void add_bdev_commands(Cli& cli);
void add_device_commands(Cli& cli);
void add_perf_commands(Cli& cli);
void add_controller_commands(Cli& cli);
void add_jsonrpc_command(Cli& cli);

}  // namespace ms::client
