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

/** `gatehouse scan [PATH...]`: hard-coded secrets and risky settings in MCP client configs. */
int gh_cli_scan(int argc, char **argv);
/** `gatehouse export --client NAME ...`: a client's config from the catalog, without secrets. */
int gh_cli_export(int argc, char **argv);
/** `gatehouse import --client NAME FILE`: a client's config into the catalog. */
int gh_cli_import(int argc, char **argv);
/** `gatehouse migrate FILE`: rewrite a client file so no secret stays in it. */
int gh_cli_migrate(int argc, char **argv);
/** `gatehouse connect URL`: stdio-to-Streamable-HTTP bridge with OAuth for stdio-only clients. */
int gh_cli_connect(int argc, char **argv);

/** Runs the gateway until SIGTERM/SIGINT; returns the process exit status. */
int gh_cli_run(struct gh_cli_run_opts *opts);

#endif
