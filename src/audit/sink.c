/*
 * audit/sink.c owns the remote sinks (syslog RFC 5424, OTLP/HTTP logs) that send the audit file's
 * records from the file itself. Placeholder until the senders land: a configured sinks list is
 * refused, so no one believes records are shipped when they are not.
 */
#include "core/core.h"
#include "audit/internal.h"

enum gh_rc gh_audit__sinks_compile(const struct gh_config_node *node, const char *path,
                                   struct gh_audit_sinks **out, struct gh_config_error *err)
{
    (void)path;
    *out = NULL;
    return gh_config_node_error(err, node, "audit sinks are not available in this build");
}

void gh_audit__sinks_start(struct gh_audit_sinks *s)
{
    (void)s;
}

void gh_audit__sinks_stop(struct gh_audit_sinks *s)
{
    (void)s;
}
