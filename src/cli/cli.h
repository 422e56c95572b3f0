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

/** check-config's policy part: compile errors (2), then lint warnings on stdout (0). */
int gh_cli_policy_check(const struct gh_config *cfg, const char *file);
/** `gatehouse policy explain ...` */
int gh_cli_policy(int argc, char **argv);
/** `gatehouse tools approve ...` */
int gh_cli_tools(int argc, char **argv);
/** `gatehouse audit verify [--key PUB] FILE...` */
int gh_cli_audit(int argc, char **argv);

/** Runs the gateway until SIGTERM/SIGINT; returns the process exit status. */
int gh_cli_run(struct gh_cli_run_opts *opts);

#endif
