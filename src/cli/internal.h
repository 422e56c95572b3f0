/* cli/internal.h: what the cli files share (configuration reload on SIGHUP: reload.c). */
#ifndef GH_CLI_INTERNAL_H
#define GH_CLI_INTERNAL_H

#include "config/config.h"

#define GH_CLI_RELOAD_SECTIONS 32

struct gh_cli_reload_section {
    char key[64];
    unsigned char digest[32];
};

/** What the running process was started from: the file and its top-level sections' digests. */
struct gh_cli_reload {
    char path[1024]; /* "" when started without --config */
    struct gh_cli_reload_section running[GH_CLI_RELOAD_SECTIONS];
    size_t nrunning;
};

struct gh_mcp_gateway;
struct gh_audit;
/** Notes the file the process runs from (NULL: none); call at start. */
void gh_cli_reload_init(struct gh_cli_reload *rl, const char *path);
/** Reads the file again: applies its policy, names what needs a restart, records the attempt. */
void gh_cli_reload_run(struct gh_cli_reload *rl, struct gh_mcp_gateway *gw, struct gh_audit *audit);

#endif
