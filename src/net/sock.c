/*
 * net/sock.c owns addresses, listening sockets, non-blocking connections with optional TLS
 * (OpenSSL directly on the fd) and their readiness callbacks.
 *
 * TLS needs care on non-blocking sockets: SSL_read may need the socket writable (renegotiation,
 * handshake) and SSL_write may need it readable. The socket tracks that "inverted" need and
 * reports the event the caller asked for when the one OpenSSL asked for arrives.
 */
#include "core/core.h"
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <unistd.h>

/* the worker internals this file needs */
struct event_base *gh_net__worker_base(struct gh_net_worker *w);

struct gh_net_sock {
    struct gh_net_worker *w;
    struct event *ev;
    int fd;
    SSL *ssl;
    gh_net_sock_cb cb;
    void *arg;
    short armed; /* EV_READ|EV_WRITE currently registered */
    bool want_rd, want_wr;
    bool rd_needs_wr; /* last SSL_read asked for writability */
    bool wr_needs_rd; /* last SSL_write asked for readability */
    bool connecting;
    bool plain_fd; /* not a socket (pipe, pidfd): write() instead of send() */
    uint64_t timeout_ms;
    int conn_err;
};

/* ---- addresses ---- */

enum gh_rc gh_net_addr_parse(const char *hostport, struct gh_net_addr *out)
{
    char host[256];
    const char *colon;
    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');
        if (!end || end[1] != ':' || (size_t)(end - hostport - 1) >= sizeof(host))
            return GH_E_PARSE;
        memcpy(host, hostport + 1, (size_t)(end - hostport - 1));
        host[end - hostport - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon || (size_t)(colon - hostport) >= sizeof(host))
            return GH_E_PARSE;
        memcpy(host, hostport, (size_t)(colon - hostport));
        host[colon - hostport] = '\0';
    }
    /* digits only, no sign, no space, no leading zero: one spelling per port */
    const char *d = colon + 1;
    size_t nd = strspn(d, "0123456789");
    if (nd == 0 || nd > 5 || d[nd] != '\0' || (nd > 1 && d[0] == '0'))
        return GH_E_PARSE;
    long port = strtol(d, NULL, 10);
    if (port > 65535)
        return GH_E_PARSE;
    bool bracketed = hostport[0] == '[';
    if (!bracketed && strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (!bracketed && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->len = sizeof(*v4);
        return GH_OK;
    }
    if (bracketed && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->len = sizeof(*v6);
        return GH_OK;
    }
    return GH_E_PARSE;
}

enum gh_rc gh_net_addr_resolve(const char *host, uint16_t port, struct gh_net_addr *out)
{
    char hp[300];
    snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
    if (gh_net_addr_parse(hp, out) == GH_OK)
        return GH_OK;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC}, *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res)
        return GH_E_IO;
    memset(out, 0, sizeof(*out));
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return GH_OK;
}

void gh_net_addr_format(const struct gh_net_addr *a, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        snprintf(out, n, "%s:%u", ip, ntohs(v4->sin_port));
    } else {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(out, n, "[%s]:%u", ip, ntohs(v6->sin6_port));
    }
}

uint16_t gh_net_addr_port(const struct gh_net_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
}

bool gh_net_addr_is_loopback(const struct gh_net_addr *a)
{
    if (a->ss.ss_family == AF_INET) {
        uint32_t ip = ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);
        return (ip >> 24) == 127;
    }
    const struct in6_addr *ip6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(ip6);
}

enum gh_rc gh_net_cidr_parse(const char *s, size_t len, struct gh_net_cidr *out)
{
    char ip[64];
    const char *slash = memchr(s, '/', len);
    size_t n = slash ? (size_t)(slash - s) : len;
    if (n == 0 || n >= sizeof(ip))
        return GH_E_PARSE;
    memcpy(ip, s, n);
    ip[n] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, ip, out->ip) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
    } else if (inet_pton(AF_INET6, ip, out->ip) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
    } else {
        return GH_E_PARSE;
    }
    if (!slash)
        return GH_OK;
    unsigned p = 0;
    size_t i = n + 1;
    if (i == len || len - i > 3)
        return GH_E_PARSE;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return GH_E_PARSE;
        p = p * 10 + (unsigned)(s[i] - '0');
    }
    if (p > out->prefix)
        return GH_E_PARSE;
    out->prefix = p;
    return GH_OK;
}

bool gh_net_cidr_contains(const struct gh_net_cidr *c, int family, const unsigned char *ip)
{
    if (c->family != family)
        return false;
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(c->ip, ip, full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (c->ip[full] & mask) == (ip[full] & mask);
}

int gh_net_addr_ip(const struct gh_net_addr *a, unsigned char out[16])
{
    if (a->ss.ss_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
        return AF_INET;
    }
    memcpy(out, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
    return AF_INET6;
}

/* ---- listeners ---- */

enum gh_rc gh_net_listen_fd(const struct gh_net_addr *a, int backlog, int *fd_out)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return GH_E_IO;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (a->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return GH_E_IO;
    }
    *fd_out = fd;
    return GH_OK;
}

struct listener_pub {
    struct listener_pub *next;
    struct event *ev;
    int fd;
    void (*on_accept)(struct gh_net_worker *, int, const struct gh_net_addr *, void *);
    void *arg;
};

static void on_listen(evutil_socket_t fd, short what, void *arg)
{
    struct listener_pub *l = arg;
    struct gh_net_worker *w = gh_net_worker_current();
    (void)what;
    /* accept a bounded batch per wakeup so one busy listener cannot starve the loop */
    for (int i = 0; i < 32; i++) {
        struct gh_net_addr peer;
        peer.len = sizeof(peer.ss);
        int cfd = accept4(fd, (struct sockaddr *)&peer.ss, &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                GH_LOGW("net", "accept: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        l->on_accept(w, cfd, &peer, l->arg);
    }
}

void **gh_net__worker_listeners(struct gh_net_worker *w);

void gh_net_listener_add(struct gh_net_worker *w, int fd,
                         void (*on_accept)(struct gh_net_worker *, int, const struct gh_net_addr *,
                                           void *),
                         void *arg)
{
    struct listener_pub *l = gh_xcalloc(1, sizeof(*l));
    l->fd = fd;
    l->on_accept = on_accept;
    l->arg = arg;
    l->ev = event_new(gh_net__worker_base(w), fd, EV_READ | EV_PERSIST, on_listen, l);
    event_add(l->ev, NULL);
    struct listener_pub **head = (struct listener_pub **)gh_net__worker_listeners(w);
    l->next = *head;
    *head = l;
}

void gh_net_listeners_close(struct gh_net_worker *w)
{
    struct listener_pub **head = (struct listener_pub **)gh_net__worker_listeners(w);
    while (*head) {
        struct listener_pub *l = *head;
        *head = l->next;
        event_free(l->ev);
        close(l->fd);
        free(l);
    }
}

/* ---- TLS contexts ---- */

static void ssl_err(char *err, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, n, "%s: %s", what, buf);
    ERR_clear_error();
}

enum gh_rc gh_net_tls_server_ctx(const char *cert, const char *key, SSL_CTX **out, char *err,
                                 size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ssl_err(err, errlen, "SSL_CTX_new");
        return GH_E_INTERNAL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ssl_err(err, errlen, "certificate");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "private key");
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errlen, "key does not match certificate");
        goto fail;
    }
    *out = ctx;
    return GH_OK;
fail:
    SSL_CTX_free(ctx);
    return GH_E_PARSE;
}

SSL_CTX *gh_net_tls_client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    GH_BUG_ON(!ctx);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_default_verify_paths(ctx);
    return ctx;
}

/* ---- sockets ---- */

static void sock_rearm(struct gh_net_sock *s);

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    struct gh_net_sock *s = arg;
    int flags = 0;
    (void)fd;
    if (what & EV_TIMEOUT)
        flags |= GH_NET_TIMEOUT;
    if (s->connecting && (what & EV_WRITE)) {
        int e = 0;
        socklen_t l = sizeof(e);
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &e, &l);
        s->conn_err = e;
        s->connecting = false;
        flags |= GH_NET_WRITABLE;
        s->cb(s, flags, s->arg);
        return;
    }
    /* a TLS record layer may need the opposite readiness: report what the caller waits for */
    if ((what & EV_READ) && s->wr_needs_rd)
        flags |= GH_NET_WRITABLE;
    if ((what & EV_READ) && s->want_rd)
        flags |= GH_NET_READABLE;
    if ((what & EV_WRITE) && s->rd_needs_wr)
        flags |= GH_NET_READABLE;
    if ((what & EV_WRITE) && s->want_wr)
        flags |= GH_NET_WRITABLE;
    s->cb(s, flags, s->arg);
}

static void sock_rearm(struct gh_net_sock *s)
{
    short want = 0;
    if (s->want_rd || s->wr_needs_rd)
        want |= EV_READ;
    if (s->want_wr || s->rd_needs_wr || s->connecting)
        want |= EV_WRITE;
    if (want == s->armed && !s->timeout_ms)
        return;
    if (s->armed || s->timeout_ms)
        event_del(s->ev);
    event_assign(s->ev, gh_net__worker_base(s->w), s->fd, (short)(want | EV_PERSIST), on_sock_event,
                 s);
    if (want || s->timeout_ms) {
        struct timeval tv = {.tv_sec = (time_t)(s->timeout_ms / 1000),
                             .tv_usec = (suseconds_t)(s->timeout_ms % 1000) * 1000};
        event_add(s->ev, s->timeout_ms ? &tv : NULL);
    }
    s->armed = want;
}

struct gh_net_sock *gh_net_sock_new(struct gh_net_worker *w, int fd, SSL_CTX *tls, bool is_server,
                                    const char *sni, gh_net_sock_cb cb, void *arg)
{
    struct gh_net_sock *s = gh_xcalloc(1, sizeof(*s));
    s->w = w;
    s->fd = fd;
    s->cb = cb;
    s->arg = arg;
    s->ev = event_new(gh_net__worker_base(w), -1, 0, on_sock_event, s);
    if (tls) {
        s->ssl = SSL_new(tls);
        GH_BUG_ON(!s->ssl);
        SSL_set_fd(s->ssl, fd);
        if (is_server) {
            SSL_set_accept_state(s->ssl);
        } else {
            if (sni) {
                SSL_set_tlsext_host_name(s->ssl, sni);
                SSL_set1_host(s->ssl, sni);
            }
            SSL_set_connect_state(s->ssl);
        }
    }
    return s;
}

struct gh_net_sock *gh_net_fd_new(struct gh_net_worker *w, int fd, gh_net_sock_cb cb, void *arg)
{
    struct gh_net_sock *s = gh_net_sock_new(w, fd, NULL, false, NULL, cb, arg);
    s->plain_fd = true;
    return s;
}

enum gh_rc gh_net_sock_connect(struct gh_net_worker *w, const struct gh_net_addr *a, SSL_CTX *tls,
                               const char *sni, gh_net_sock_cb cb, void *arg,
                               struct gh_net_sock **out)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return GH_E_IO;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int r = connect(fd, (const struct sockaddr *)&a->ss, a->len);
    if (r != 0 && errno != EINPROGRESS) {
        close(fd);
        return GH_E_IO;
    }
    struct gh_net_sock *s = gh_net_sock_new(w, fd, tls, false, sni, cb, arg);
    s->connecting = true;
    sock_rearm(s);
    *out = s;
    return GH_OK;
}

enum gh_rc gh_net_sock_error(struct gh_net_sock *s)
{
    return s->conn_err ? GH_E_IO : GH_OK;
}

void gh_net_sock_set_cb(struct gh_net_sock *s, gh_net_sock_cb cb, void *arg)
{
    s->cb = cb;
    s->arg = arg;
}

static ssize_t tls_result(struct gh_net_sock *s, int r, bool reading)
{
    int e = SSL_get_error(s->ssl, r);
    bool was = reading ? s->rd_needs_wr : s->wr_needs_rd;
    bool now = false;
    ssize_t ret;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        now = !reading;
        ret = reading ? GH_E_AGAIN : 0;
        break;
    case SSL_ERROR_WANT_WRITE:
        now = reading;
        ret = reading ? GH_E_AGAIN : 0;
        break;
    case SSL_ERROR_ZERO_RETURN:
        ret = GH_E_CLOSED;
        break;
    default:
        ERR_clear_error();
        ret = GH_E_IO;
        break;
    }
    if (reading)
        s->rd_needs_wr = now;
    else
        s->wr_needs_rd = now;
    if (was != now)
        sock_rearm(s);
    return ret;
}

ssize_t gh_net_sock_read(struct gh_net_sock *s, void *buf, size_t n)
{
    if (s->ssl) {
        int r = SSL_read(s->ssl, buf, (int)GH_MIN(n, (size_t)INT32_MAX));
        if (r > 0) {
            if (s->rd_needs_wr) {
                s->rd_needs_wr = false;
                sock_rearm(s);
            }
            return r;
        }
        return tls_result(s, r, true);
    }
    ssize_t r = read(s->fd, buf, n);
    if (r > 0)
        return r;
    if (r == 0)
        return GH_E_CLOSED;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return GH_E_AGAIN;
    return GH_E_IO;
}

size_t gh_net_sock_pending(const struct gh_net_sock *s)
{
    return s->ssl ? (size_t)SSL_pending(s->ssl) : 0;
}

ssize_t gh_net_sock_write(struct gh_net_sock *s, const void *buf, size_t n)
{
    if (n == 0)
        return 0;
    if (s->ssl) {
        int r = SSL_write(s->ssl, buf, (int)GH_MIN(n, (size_t)INT32_MAX));
        if (r > 0) {
            if (s->wr_needs_rd) {
                s->wr_needs_rd = false;
                sock_rearm(s);
            }
            return r;
        }
        return tls_result(s, r, false);
    }
    /* send() fails with ENOTSOCK on a pipe; write() to a pipe whose reader is gone raises
     * SIGPIPE, which the gateway ignores (cli/run.c) and worker threads block. */
    ssize_t r = s->plain_fd ? write(s->fd, buf, n) : send(s->fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return GH_E_IO;
}

void gh_net_sock_want(struct gh_net_sock *s, bool rd, bool wr, uint64_t timeout_ms)
{
    bool same = s->want_rd == rd && s->want_wr == wr && s->timeout_ms == timeout_ms;
    s->want_rd = rd;
    s->want_wr = wr;
    s->timeout_ms = timeout_ms;
    if (!same || timeout_ms)
        sock_rearm(s);
}

void gh_net_sock_shutdown_write(struct gh_net_sock *s)
{
    if (s->ssl) {
        SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
    shutdown(s->fd, SHUT_WR);
}

void gh_net_sock_close(struct gh_net_sock *s)
{
    if (!s)
        return;
    event_free(s->ev);
    if (s->ssl) {
        SSL_shutdown(s->ssl); /* best effort close_notify; never wait for the peer's */
        SSL_free(s->ssl);
    }
    close(s->fd);
    free(s);
}

struct gh_net_worker *gh_net_sock_worker(const struct gh_net_sock *s)
{
    return s->w;
}
