// mayastor-client: the operator's command line over the gRPC management API (docs/cli.md).
#include "mayastor-client/cli.h"

int main(int argc, char** argv) {
    ms::client::Cli cli;
    ms::client::add_all_commands(cli);
    return cli.run(argc, argv);
}
