/* cli: the `gatehouse` subcommands and the process runtime (listeners, workers, signals). */
#ifndef GH_CLI_H
#define GH_CLI_H

#include "config/config.h"

/** How the runtime should serve. */
struct gh_cli_run_opts {
    struct gh_config *cfg; /* validated; the runtime takes a reference */
    bool dev;              /* also serve the built-in demo MCP server as upstream "demo" */
    bool dev_issuer;       /* dev: authenticate with an ephemeral in-memory issuer */
};

/** Runs the gateway until SIGTERM/SIGINT; returns the process exit status. */
int gh_cli_run(struct gh_cli_run_opts *opts);

#endif
