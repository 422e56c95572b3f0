/*
 * audit/ocsf: maps native audit records (src/audit/FORMAT.md) to OCSF 1.3.0 events, one line in,
 * one event out, for shipping the trail to a SIEM. Pure: no I/O, no state, any thread.
 *
 * Mapping decisions and the field-by-field table: docs/audit-ocsf.md.
 */
#ifndef GH_AUDIT_OCSF_H
#define GH_AUDIT_OCSF_H

#include "core/core.h"

#define GH_OCSF_VERSION "1.3.0"

/**
 * Maps one native record line (FORMAT.md; a trailing "\n" or "\r\n" is allowed) to one OCSF 1.3
 * event, compact JSON without a newline, appended to out.
 *
 * request.*, session.*, tool.definition_changed and config.reload map to class "API Activity"
 * (6003); auth.failure maps to class "Authentication" (3002), activity Logon, status Failure.
 * Types without an OCSF meaning (audit.start, audit.checkpoint, and any type this version does
 * not know) map to "API Activity" with activity "Other" and the native record kept under
 * "unmapped".
 *
 * Returns GH_OK; GH_E_PARSE when the line is not a native record (not strict JSON, not an
 * object, v is not 1, seq/time/type/gateway missing or malformed, a member of the wrong type);
 * GH_E_LIMIT when out's cap is hit. On error out is left as it was.
 */
enum gh_rc gh_audit_ocsf_from_native(const char *line, size_t len, struct gh_buf *out);

#endif
