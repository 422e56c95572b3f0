/*
 * net: worker threads with their own event loops, SO_REUSEPORT listeners, non-blocking sockets
 * with optional TLS, timers, cross-thread posts and outbound connects. The only module that
 * touches the event-loop library (libevent's event_base; evhttp and bufferevents are not used).
 *
 * Threading: a worker's objects (sockets, timers) are touched only on that worker's thread.
 * Other threads reach a worker with gh_net_worker_post().
 */
#ifndef GH_NET_H
#define GH_NET_H

#include "core/core.h"

#include <netinet/in.h>
#include <sys/socket.h>

struct gh_net_worker;
struct ssl_ctx_st;

/** A resolved socket address (numeric; names are resolved at config load, never on a worker). */
struct gh_net_addr {
    struct sockaddr_storage ss; /* the address */
    socklen_t len;              /* its length */
};
/** Parses "1.2.3.4:80", "[::1]:80" or "localhost:80" (localhost resolves to 127.0.0.1). */
enum gh_rc gh_net_addr_parse(const char *hostport, struct gh_net_addr *out);
/** Resolves host + port with getaddrinfo (blocking: call only at load time, never on a worker). */
enum gh_rc gh_net_addr_resolve(const char *host, uint16_t port, struct gh_net_addr *out);
/** Formats as "ip:port" / "[ip]:port" into out (at least 64 bytes). */
void gh_net_addr_format(const struct gh_net_addr *a, char *out, size_t n);
uint16_t gh_net_addr_port(const struct gh_net_addr *a);
bool gh_net_addr_is_loopback(const struct gh_net_addr *a);

/** An IP network: family AF_INET or AF_INET6, address bytes (4 or 16) and prefix length. */
struct gh_net_cidr {
    int family;
    unsigned char ip[16];
    unsigned prefix;
};
/** Parses "ip" (a host: full prefix) or "ip/prefix"; IPv4-mapped IPv6 is not folded. */
enum gh_rc gh_net_cidr_parse(const char *s, size_t len, struct gh_net_cidr *out);
/** True when ip (bytes of the given family) lies in c. */
bool gh_net_cidr_contains(const struct gh_net_cidr *c, int family, const unsigned char *ip);
/** The address bytes of a (4 or 16) into out; its family. */
int gh_net_addr_ip(const struct gh_net_addr *a, unsigned char out[16]);

/** Where an address leads, for the egress guard (SSRF: RFC 9728 §7.7, security-cases §1.4). */
enum gh_net_addr_class {
    GH_NET_ADDR_PUBLIC = 0,
    GH_NET_ADDR_LOOPBACK,  /* 127.0.0.0/8, ::1 */
    GH_NET_ADDR_PRIVATE,   /* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 */
    GH_NET_ADDR_LINKLOCAL, /* 169.254/16 (cloud metadata), fe80::/10 */
    GH_NET_ADDR_RESERVED,  /* unspecified, multicast, broadcast, 0/8, 240/4, documentation */
};
/** Classifies an address; IPv4-mapped and NAT64 IPv6 forms are judged by the IPv4 inside. */
enum gh_net_addr_class gh_net_addr_classify(const struct gh_net_addr *a);
/**
 * The egress verdict for an outbound fetch (discovery, JWKS, introspection): public addresses
 * are allowed; loopback only with allow_loopback; private and link-local only with
 * allow_private; reserved never. Decide on the resolved address, for every redirect hop too.
 */
enum gh_verdict gh_net_egress_allowed(const struct gh_net_addr *a, bool allow_loopback,
                                      bool allow_private);

/* ---- workers ---- */
typedef void (*gh_net_task_fn)(void *arg);
/** Creates n workers (not started). */
struct gh_net_worker **gh_net_workers_new(unsigned n);
/** Starts each worker's thread; init(worker, ctx) runs first on that thread. */
void gh_net_workers_start(struct gh_net_worker **w, unsigned n,
                          void (*init)(struct gh_net_worker *, void *), void *ctx);
/** Asks every worker loop to exit and joins the threads; then frees them. */
void gh_net_workers_stop(struct gh_net_worker **w, unsigned n);
/** Runs fn(arg) on the worker's thread, soon. Safe from any thread. */
void gh_net_worker_post(struct gh_net_worker *w, gh_net_task_fn fn, void *arg);
/** The worker running on this thread, or NULL. */
struct gh_net_worker *gh_net_worker_current(void);
unsigned gh_net_worker_id(const struct gh_net_worker *w);
/** Per-worker slot for the layer above (http keeps its pools here). */
void *gh_net_worker_data(const struct gh_net_worker *w);
void gh_net_worker_set_data(struct gh_net_worker *w, void *data);
/** Runs a loop on the calling (main) thread until gh_net_main_break(); for signals and timers. */
struct gh_net_worker *gh_net_main_new(void);
void gh_net_main_run(struct gh_net_worker *m);
void gh_net_main_break(struct gh_net_worker *m);
void gh_net_main_free(struct gh_net_worker *m);
/** Calls fn(signo, arg) on the main loop when one of the signals arrives. */
void gh_net_main_on_signal(struct gh_net_worker *m, int signo, void (*fn)(int, void *), void *arg);

/* ---- timers ---- */
struct gh_net_timer;
struct gh_net_timer *gh_net_timer_new(struct gh_net_worker *w, void (*cb)(void *arg), void *arg);
/** (Re)arms the timer to fire once after ms milliseconds. */
void gh_net_timer_arm(struct gh_net_timer *t, uint64_t ms);
void gh_net_timer_cancel(struct gh_net_timer *t);
void gh_net_timer_free(struct gh_net_timer *t);

/* ---- TLS ---- */
/** Builds a server TLS context (TLS 1.2+) from PEM files; err gets a message on failure. */
enum gh_rc gh_net_tls_server_ctx(const char *cert, const char *key, struct ssl_ctx_st **out,
                                 char *err, size_t errlen);
/** A client TLS context that verifies peers against the system trust store. */
struct ssl_ctx_st *gh_net_tls_client_ctx(void);

/* ---- sockets ---- */
/** Readiness flags passed to socket callbacks. */
enum gh_net_ev_flags {
    GH_NET_READABLE = 1 << 0,
    GH_NET_WRITABLE = 1 << 1,
    GH_NET_TIMEOUT = 1 << 2,
};
struct gh_net_sock;
typedef void (*gh_net_sock_cb)(struct gh_net_sock *s, int flags, void *arg);

/** Binds a listening socket with SO_REUSEPORT (call on the main thread, once per worker). */
enum gh_rc gh_net_listen_fd(const struct gh_net_addr *a, int backlog, int *fd_out);
/** Accepts connections on fd in worker w; on_accept(worker, fd, peer, arg) takes ownership of fd.
 */
void gh_net_listener_add(struct gh_net_worker *w, int fd,
                         void (*on_accept)(struct gh_net_worker *, int fd,
                                           const struct gh_net_addr *, void *),
                         void *arg);
/** Stops accepting on every listener of this worker (drain). */
void gh_net_listeners_close(struct gh_net_worker *w);

/** Wraps an accepted or connecting fd. tls may be NULL. is_server picks the TLS role. */
struct gh_net_sock *gh_net_sock_new(struct gh_net_worker *w, int fd, struct ssl_ctx_st *tls,
                                    bool is_server, const char *sni, gh_net_sock_cb cb, void *arg);
/**
 * Wraps a non-blocking fd that is not a socket (a pipe end, a pidfd): the same read/write/want/
 * close calls apply, writes use write(2) instead of send(2) (pipes refuse send with ENOTSOCK).
 * gh_net_sock_write on a pipe whose reader is gone returns GH_E_IO (EPIPE): the process must
 * ignore SIGPIPE (the gateway does) or the writing thread block it (worker threads do).
 * gh_net_sock_shutdown_write does not apply: close the write end instead.
 */
struct gh_net_sock *gh_net_fd_new(struct gh_net_worker *w, int fd, gh_net_sock_cb cb, void *arg);
/** Starts a non-blocking connect; cb gets GH_NET_WRITABLE when connected (check gh_net_sock_error).
 */
enum gh_rc gh_net_sock_connect(struct gh_net_worker *w, const struct gh_net_addr *a,
                               struct ssl_ctx_st *tls, const char *sni, gh_net_sock_cb cb,
                               void *arg, struct gh_net_sock **out);
/** After connect completes: GH_OK or the error. */
enum gh_rc gh_net_sock_error(struct gh_net_sock *s);
void gh_net_sock_set_cb(struct gh_net_sock *s, gh_net_sock_cb cb, void *arg);
/** Read up to n bytes: >0 bytes read; GH_E_AGAIN; GH_E_CLOSED on orderly EOF; GH_E_IO. */
ssize_t gh_net_sock_read(struct gh_net_sock *s, void *buf, size_t n);
/** Bytes already decrypted and buffered inside TLS: readable without a socket event. */
size_t gh_net_sock_pending(const struct gh_net_sock *s);
/** Write up to n bytes: >=0 bytes written (may be short); GH_E_AGAIN-free: 0 means would block. */
ssize_t gh_net_sock_write(struct gh_net_sock *s, const void *buf, size_t n);
/** Interest: read events on/off, write events on/off; timeout_ms 0 = none (GH_NET_TIMEOUT). */
void gh_net_sock_want(struct gh_net_sock *s, bool rd, bool wr, uint64_t timeout_ms);
/** Half-closes the sending side (TLS close_notify first): the peer reads EOF after our bytes. */
void gh_net_sock_shutdown_write(struct gh_net_sock *s);
/** Closes the socket (and TLS); the callback never runs again. */
void gh_net_sock_close(struct gh_net_sock *s);
struct gh_net_worker *gh_net_sock_worker(const struct gh_net_sock *s);

#endif
