/*
 * state: shared state the request path consults — seen-once sets (DPoP proof jti replay), and
 * later revocation lists, rate limits and sessions. DESIGN.md gives it two backends: in-process
 * (this file's, the default: one gateway process) and Redis (replicas); callers see one API.
 */
#ifndef GH_STATE_H
#define GH_STATE_H

#include "core/core.h"

struct gh_state;

/** An in-process store holding at most max_entries live keys (any thread). */
struct gh_state *gh_state_new_memory(size_t max_entries);
void gh_state_free(struct gh_state *s);

/**
 * Records key under namespace ns for ttl_ms unless it is already there. Returns GH_OK the first
 * time (the caller may proceed), GH_E_DECLINED when the key is live (a replay), GH_E_LIMIT when
 * the store is full of live keys — security callers must then refuse: failing open would let a
 * flood of unique keys switch replay protection off.
 */
enum gh_rc gh_state_once(struct gh_state *s, struct gh_slice ns, struct gh_slice key,
                         uint64_t ttl_ms);

/** Live keys now (expired ones may still be counted until they are swept). */
size_t gh_state_size(struct gh_state *s);

#endif
