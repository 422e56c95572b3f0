/* audit/internal.h: what the files of audit/ share; nothing outside audit/ includes it. */
#ifndef GH_AUDIT_INTERNAL_H
#define GH_AUDIT_INTERNAL_H

#include "audit/audit.h"

/* ---- remote sinks (sink.c): syslog and OTLP, sending from the audit file as their spool ---- */

struct gh_audit_sinks;
/**
 * Compiles the audit.sinks list (node: a sequence; see docs/audit.md). path is the audit file
 * the sinks read from (records are sent from it, never from memory, so a slow or down sink never
 * blocks the gateway and never loses a record). Errors name the node.
 */
enum gh_rc gh_audit__sinks_compile(const struct gh_config_node *node, const char *path,
                                   struct gh_audit_sinks **out, struct gh_config_error *err);
/** Starts one sender thread per sink (after the writer has opened the file). */
void gh_audit__sinks_start(struct gh_audit_sinks *s);
/** Stops the senders (they send what is on disk first, for at most a short grace) and frees. */
void gh_audit__sinks_stop(struct gh_audit_sinks *s);

#endif
