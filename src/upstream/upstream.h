/*
 * upstream: the MCP servers behind the gateway, as the request path reaches them. For HTTP
 * upstreams: the address resolved at load, TLS, timeouts, and each worker's keep-alive pool. For
 * stdio upstreams: child processes, spawned, supervised and reaped (child.c, below).
 */
#ifndef GH_UPSTREAM_H
#define GH_UPSTREAM_H

#include "config/config.h"
#include "core/core.h"
#include "http/http.h"

#include <sys/types.h>

/** One configured upstream, resolved. Immutable once the set is built. */
struct gh_upstream {
    const struct gh_config_upstream *conf; /* in the config generation the set references */
    struct gh_http_client_target target;   /* resolved address, TLS, limits, timeouts */
    size_t index;                          /* position in the set (and in each worker's pools) */
    char host_header[300];                 /* Host sent upstream: "host:port" */
};

struct gh_upstream_health;

/** Every upstream of one config generation. */
struct gh_upstream_set {
    struct gh_config *cfg;   /* referenced */
    struct gh_upstream *ups; /* n entries */
    size_t n;
    struct ssl_ctx_st *client_tls; /* shared by https upstreams; NULL when none */
    struct gh_upstream_health
        *health;      /* per upstream, atomics: written by probes, read by /readyz */
    void *health_ctl; /* the probe timer, on its worker */
};

/** What the last probe of an HTTP upstream found, or how a shared stdio child is doing. */
enum gh_upstream_state {
    GH_UPSTREAM_UNKNOWN = 0, /* not probed yet; a shared child not started yet ("on-demand") */
    GH_UPSTREAM_UP,
    GH_UPSTREAM_DOWN,       /* a shared child: could not be started (retried on demand) */
    GH_UPSTREAM_RESTARTING, /* a shared child: exited or hung, started again after a backoff */
};

/** Which protocol eras an HTTP upstream serves, as the last probe found. */
enum gh_upstream_era {
    GH_UPSTREAM_ERA_UNKNOWN = 0,
    GH_UPSTREAM_ERA_SESSION = 1,   /* 2025-era only: initialize and sessions */
    GH_UPSTREAM_ERA_STATELESS = 2, /* 2026-07-28 only */
    GH_UPSTREAM_ERA_BOTH = 3,
};
/** The era of u (GH_UPSTREAM_ERA_UNKNOWN until probed; stdio upstreams are never probed). */
int gh_upstream_era(const struct gh_upstream_set *set, const struct gh_upstream *u);

/** Allocates the health states (the set does this itself). */
void gh_upstream_health_init(struct gh_upstream_set *set);
/** Probes every HTTP upstream now and every interval_ms, on worker w (after its pools exist). */
void gh_upstream_health_start(struct gh_upstream_set *set, struct gh_net_worker *w,
                              uint64_t interval_ms);
/** Stops probing; call on the probing worker's thread. */
void gh_upstream_health_stop(struct gh_upstream_set *set);
/**
 * The live state of the shared stdio child of u (mcp/ reports it; any thread). Each RESTARTING
 * counts one restart; retry_ms is the backoff before the next start.
 */
void gh_upstream_health_set_child(struct gh_upstream_set *set, const struct gh_upstream *u,
                                  enum gh_upstream_state st, uint64_t retry_ms);
/** Appends {"name":{"kind":…,"state":…},…}; *all_up is false when an HTTP upstream or a started
 *  shared stdio child is not up. */
void gh_upstream_health_json(const struct gh_upstream_set *set, struct gh_buf *out, bool *all_up);

/**
 * Resolves every upstream of cfg (getaddrinfo: blocking, so call at load on the main thread).
 * err gets "upstream NAME: why" on failure.
 */
enum gh_rc gh_upstream_set_new(struct gh_config *cfg, struct gh_upstream_set **out, char *err,
                               size_t errlen);
void gh_upstream_set_free(struct gh_upstream_set *set);
/** Creates this worker's pools (on the worker thread). */
void gh_upstream_worker_init(const struct gh_upstream_set *set, struct gh_net_worker *w);
/** Frees this worker's pools (on the worker thread). */
void gh_upstream_worker_fini(const struct gh_upstream_set *set);
/** This worker's keep-alive pool for u. */
struct gh_http_pool *gh_upstream_pool(const struct gh_upstream *u);
/** The upstream served at a gateway path, or NULL. */
const struct gh_upstream *gh_upstream_by_path(const struct gh_upstream_set *set,
                                              struct gh_slice path);

/* ======================================================================================
 * stdio upstreams: child processes (child.c)
 *
 * Threading: every call on a child happens on the worker thread that spawned it, and its
 * callbacks run there; only gh_upstream_children_live(), gh_upstream_children_set_limit() and
 * gh_upstream_children_stop_all() may be called from any thread. The process must not set
 * SIGCHLD to SIG_IGN (children would vanish before they are reaped) and must ignore SIGPIPE
 * (cli/run.c does; worker threads also block it).
 * ====================================================================================== */

struct gh_net_worker;
struct gh_upstream_child;

/** What a child reports to its owner, on the spawning worker's thread. */
struct gh_upstream_child_cbs {
    /** One complete line from the child's stdout (without the newline, a trailing CR dropped,
     *  empty lines skipped); valid during the call only. May call send/stop. */
    void (*on_message)(void *arg, const char *json, size_t len);
    /**
     * The child is gone (exited, killed by signal, stdout closed, a line over message_bytes,
     * stdin backlog over its cap). why is a fixed string: "exited", "killed by signal",
     * "stdout closed", "stdout read error", "stdin closed by the child", "message over
     * message_bytes", "stdin backlog over cap". status is the exit code or -signal. Called once;
     * no callback after it, and c is freed when it returns (do not touch it; stop() inside it
     * is a no-op). Every complete stdout line written before the exit is delivered first.
     */
    void (*on_exit)(void *arg, int status, const char *why);
};

/**
 * Spawns the stdio upstream u on worker w (call on w's thread): posix_spawn into a new process
 * group, with exactly u's environment (env:/file: references resolved now), u->cwd, stdin/
 * stdout/stderr on non-blocking pipes driven by w's loop, every other fd closed. A bare command
 * is looked up in u's own PATH, never the gateway's. stderr lines are logged as warnings
 * ("upstream: NAME: line", cut at 512 bytes, at most 50 lines a second). u is read only during
 * the call. On failure nothing is left running and err gets "upstream NAME: why" (it may name
 * a variable, never a value): GH_E_LIMIT when limits.stdio_children children are alive,
 * GH_E_PARSE for an unresolvable env:/file: reference, GH_E_IO when the command is not found or
 * cannot start.
 */
enum gh_rc gh_upstream_child_spawn(struct gh_net_worker *w, const struct gh_config_upstream *u,
                                   const struct gh_upstream_child_cbs *cbs, void *arg,
                                   struct gh_upstream_child **out, char *err, size_t errlen);

/**
 * Queues one JSON text + '\n' for the child's stdin and writes what the pipe takes now. CR/LF
 * between tokens become spaces; one inside a string (invalid JSON) gives GH_E_PARSE. Returns
 * GH_E_LIMIT without harm to the child when len > message_bytes; GH_E_LIMIT when the queue would
 * pass message_bytes * 4 (the child stopped reading: it is being stopped, on_exit follows with
 * "stdin backlog over cap"); GH_E_CLOSED once the child is going. Never calls a callback.
 */
enum gh_rc gh_upstream_child_send(struct gh_upstream_child *c, const char *json, size_t len);

/**
 * Stops the child: stdin closed, SIGTERM to its process group, SIGKILL after stop_grace_ms;
 * the leader is reaped and the group swept. No callback after this call; the module frees c
 * once reaped, so the caller must not touch c afterwards. Safe inside the child's callbacks.
 */
void gh_upstream_child_stop(struct gh_upstream_child *c);

/** The child's pid (also its process group id). */
pid_t gh_upstream_child_pid(const struct gh_upstream_child *c);

/** Children spawned and not yet reaped, in this process (any thread). */
size_t gh_upstream_children_live(void);

/** Sets the cap on live children (limits.stdio_children; default 64). Any thread. */
void gh_upstream_children_set_limit(size_t max);

/**
 * Shutdown backstop, any thread: SIGTERM to every child's group, waits up to the longest
 * stop_grace_ms for them to exit, SIGKILLs the rest and reaps all. Does not free the children's
 * structs (their workers do, on the pidfd event, or gh_upstream_children_worker_fini()).
 */
void gh_upstream_children_stop_all(void);

/**
 * On worker w's thread before its loop stops (not inside a child's callback): SIGKILLs and reaps
 * every child spawned on w that is still known and frees them without callbacks.
 */
void gh_upstream_children_worker_fini(struct gh_net_worker *w);

#endif
