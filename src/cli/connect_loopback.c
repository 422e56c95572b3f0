/*
 * cli/connect_loopback.c owns the redirect end of the authorization code flow: an http/ server
 * on 127.0.0.1 and a port the kernel picks (RFC 8252 §7.3), serving only GET /callback, which
 * hands code, state or error to the waiting main thread; and opening the user's browser.
 */
#include "core/core.h"
#include "cli/connect_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct ghc_loopback {
    struct ghc *c;
    struct gh_http_server *srv;
    int fd;
    bool got;
    char *code, *state, *error;
};

static const char PAGE_OK[] = "<!doctype html><title>Gatehouse</title><p>Authorization complete. "
                              "You can close this window and return to your MCP client.</p>\n";
static const char PAGE_ERR[] = "<!doctype html><title>Gatehouse</title><p>Authorization failed; "
                               "see the MCP client's log.</p>\n";

static void on_request(struct gh_http_req *r, void *arg)
{
    struct ghc_loopback *lb = arg;
    const struct gh_http_request_head *h = gh_http_req_head(r);
    if (h->method != GH_HTTP_M_GET || !gh_slice_eq_cstr(h->path, "/callback")) {
        gh_http_resp_simple(r, 404, "text/plain", "not found\n", 10, NULL, 0);
        return;
    }
    char *code = ghc_query_get(h->query, "code");
    char *state = ghc_query_get(h->query, "state");
    char *error = ghc_query_get(h->query, "error");
    bool ok = code && !error;
    pthread_mutex_lock(&lb->c->mu);
    if (!lb->got && (code || error)) { /* the first redirect wins; later ones are ignored */
        lb->got = true;
        lb->code = code;
        lb->state = state;
        lb->error = error;
        code = state = error = NULL;
        pthread_cond_broadcast(&lb->c->cv);
    }
    pthread_mutex_unlock(&lb->c->mu);
    free(code);
    free(state);
    free(error);
    static const struct gh_http_header hdrs[] = {
        {GH_SLICE_LIT("Cache-Control"), GH_SLICE_LIT("no-store")},
        {GH_SLICE_LIT("Referrer-Policy"), GH_SLICE_LIT("no-referrer")},
    };
    gh_http_resp_simple(r, ok ? 200 : 400, "text/html; charset=utf-8", ok ? PAGE_OK : PAGE_ERR,
                        ok ? sizeof(PAGE_OK) - 1 : sizeof(PAGE_ERR) - 1, hdrs, GH_ARRAY_LEN(hdrs));
}

static void listen_task(void *arg)
{
    struct ghc_loopback *lb = arg;
    gh_net_listener_add(gh_net_worker_current(), lb->fd, gh_http_server_accept, lb->srv);
}

struct ghc_loopback *ghc_loopback_open(struct ghc *c, uint16_t *port)
{
    struct gh_net_addr a;
    int fd;
    if (gh_net_addr_parse("127.0.0.1:0", &a) != GH_OK || gh_net_listen_fd(&a, 16, &fd) != GH_OK) {
        fprintf(stderr, "gatehouse connect: cannot listen on 127.0.0.1 for the redirect: %s\n",
                strerror(errno));
        return NULL;
    }
    a.len = sizeof(a.ss);
    getsockname(fd, (struct sockaddr *)&a.ss, &a.len);
    *port = gh_net_addr_port(&a);
    struct gh_http_server_limits lim = {
        .header_bytes = 16384,
        .headers_count = 100,
        .body_bytes = 1024,
        .out_bytes = 65536,
        .connections = 16,
        .header_ms = 10000,
        .body_ms = 10000,
        .idle_ms = 5000,
    };
    struct ghc_loopback *lb = gh_xcalloc(1, sizeof(*lb));
    lb->c = c;
    lb->fd = fd;
    lb->srv = gh_http_server_new(&lim, NULL, on_request, lb);
    ghc_net_post(c, listen_task, lb);
    return lb;
}

bool ghc_loopback_wait(struct ghc_loopback *lb, uint64_t timeout_ms, char **code, char **state,
                       char **error)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(timeout_ms / 1000);
    pthread_mutex_lock(&lb->c->mu);
    while (!lb->got)
        if (pthread_cond_timedwait(&lb->c->cv, &lb->c->mu, &until) == ETIMEDOUT)
            break;
    bool got = lb->got;
    *code = lb->code;
    *state = lb->state;
    *error = lb->error;
    lb->code = lb->state = lb->error = NULL;
    pthread_mutex_unlock(&lb->c->mu);
    return got;
}

static void close_task(void *arg)
{
    (void)arg;
    gh_net_listeners_close(gh_net_worker_current()); /* the redirect listener is its only one */
}

void ghc_loopback_close(struct ghc_loopback *lb)
{
    ghc_net_post(lb->c, close_task, lb);
}

/* After the worker stopped: a connection still open may use the server until then. */
void ghc_loopback_free(struct ghc_loopback *lb)
{
    if (!lb)
        return;
    gh_http_server_free(lb->srv);
    free(lb->code);
    free(lb->state);
    free(lb->error);
    free(lb);
}

void ghc_browser_open(const char *url)
{
    const char *browser = getenv("BROWSER");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* stdout is the MCP channel: the browser's chatter goes to stderr, and it reads nothing */
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    pid_t pid;
    int rc;
    if (browser && browser[0]) { /* $BROWSER may carry arguments; the URL is never parsed */
        char *argv[] = {"/bin/sh", "-c", "$BROWSER \"$1\"", "sh", (char *)url, NULL};
        rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
    } else {
        char *argv[] = {"xdg-open", (char *)url, NULL};
        rc = posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ);
    }
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fprintf(stderr, "gatehouse connect: cannot start a browser (%s); open the URL yourself\n",
                strerror(rc));
}
