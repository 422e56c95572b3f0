/*
 * net/net.c owns workers, listeners, sockets (plain and TLS), timers and cross-thread posts on
 * top of libevent's event_base. Each worker thread runs one event_base; nothing here is shared
 * between workers except the post queue, which has its own lock.
 */
#include "core/core.h"
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct task {
    struct task *next;
    gh_net_task_fn fn;
    void *arg;
};

struct gh_net_worker {
    struct event_base *base;
    pthread_t thread;
    unsigned id;
    void *data;
    void (*init)(struct gh_net_worker *, void *);
    void *init_ctx;
    pthread_mutex_t lock; /* guards tasks */
    struct task *tasks, **tasks_tail;
    int wake_fd; /* eventfd: a post makes the loop run the task queue */
    struct event *wake_ev;
    void *listeners; /* struct listener_pub list, owned by sock.c */
    struct event *signal_evs[8];
    size_t nsignals;
};

static _Thread_local struct gh_net_worker *current_worker;

struct event_base *gh_net__worker_base(struct gh_net_worker *w);
void **gh_net__worker_listeners(struct gh_net_worker *w);

struct event_base *gh_net__worker_base(struct gh_net_worker *w)
{
    return w->base;
}

void **gh_net__worker_listeners(struct gh_net_worker *w)
{
    return &w->listeners;
}

static void run_tasks(evutil_socket_t fd, short what, void *arg)
{
    struct gh_net_worker *w = arg;
    uint64_t v;
    (void)what;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        GH_LOGW("net", "wake read: %s", strerror(errno));
    pthread_mutex_lock(&w->lock);
    struct task *t = w->tasks;
    w->tasks = NULL;
    w->tasks_tail = &w->tasks;
    pthread_mutex_unlock(&w->lock);
    while (t) {
        struct task *n = t->next;
        t->fn(t->arg);
        free(t);
        t = n;
    }
}

static struct gh_net_worker *worker_new(unsigned id)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    struct gh_net_worker *w = gh_xcalloc(1, sizeof(*w));
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    GH_BUG_ON(!w->base);
    w->id = id;
    pthread_mutex_init(&w->lock, NULL);
    w->tasks_tail = &w->tasks;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    GH_BUG_ON(w->wake_fd < 0);
    w->wake_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, run_tasks, w);
    event_add(w->wake_ev, NULL);
    return w;
}

static void worker_free(struct gh_net_worker *w)
{
    gh_net_listeners_close(w);
    for (size_t i = 0; i < w->nsignals; i++) {
        free(event_get_callback_arg(w->signal_evs[i])); /* its signal_ctx */
        event_free(w->signal_evs[i]);
    }
    event_free(w->wake_ev);
    close(w->wake_fd);
    /* tasks posted after the loop stopped are dropped: their owners are going away too */
    while (w->tasks) {
        struct task *t = w->tasks;
        w->tasks = t->next;
        free(t);
    }
    event_base_free(w->base);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

struct gh_net_worker **gh_net_workers_new(unsigned n)
{
    struct gh_net_worker **ws = gh_xcalloc(n, sizeof(*ws));
    for (unsigned i = 0; i < n; i++)
        ws[i] = worker_new(i);
    return ws;
}

static void *worker_main(void *arg)
{
    struct gh_net_worker *w = arg;
    current_worker = w;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals belong to the main thread */
    if (w->init)
        w->init(w, w->init_ctx);
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

void gh_net_workers_start(struct gh_net_worker **w, unsigned n,
                          void (*init)(struct gh_net_worker *, void *), void *ctx)
{
    for (unsigned i = 0; i < n; i++) {
        w[i]->init = init;
        w[i]->init_ctx = ctx;
        int rc = pthread_create(&w[i]->thread, NULL, worker_main, w[i]);
        GH_BUG_ON(rc != 0);
    }
}

static void loop_exit(void *arg)
{
    struct gh_net_worker *w = arg;
    event_base_loopbreak(w->base);
}

void gh_net_workers_stop(struct gh_net_worker **w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        gh_net_worker_post(w[i], loop_exit, w[i]);
    for (unsigned i = 0; i < n; i++) {
        pthread_join(w[i]->thread, NULL);
        worker_free(w[i]);
    }
    free(w);
}

void gh_net_worker_post(struct gh_net_worker *w, gh_net_task_fn fn, void *arg)
{
    struct task *t = gh_xmalloc(sizeof(*t));
    t->next = NULL;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_lock(&w->lock);
    bool was_empty = w->tasks == NULL;
    *w->tasks_tail = t;
    w->tasks_tail = &t->next;
    pthread_mutex_unlock(&w->lock);
    if (was_empty) {
        uint64_t one = 1;
        if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            GH_LOGW("net", "wake write: %s", strerror(errno));
    }
}

struct gh_net_worker *gh_net_worker_current(void)
{
    return current_worker;
}

unsigned gh_net_worker_id(const struct gh_net_worker *w)
{
    return w->id;
}

void *gh_net_worker_data(const struct gh_net_worker *w)
{
    return w->data;
}

void gh_net_worker_set_data(struct gh_net_worker *w, void *data)
{
    w->data = data;
}

struct gh_net_worker *gh_net_main_new(void)
{
    struct gh_net_worker *m = worker_new(UINT32_MAX);
    current_worker = m;
    return m;
}

void gh_net_main_run(struct gh_net_worker *m)
{
    event_base_loop(m->base, EVLOOP_NO_EXIT_ON_EMPTY);
}

void gh_net_main_break(struct gh_net_worker *m)
{
    gh_net_worker_post(m, loop_exit, m);
}

void gh_net_main_free(struct gh_net_worker *m)
{
    current_worker = NULL;
    worker_free(m);
}

struct signal_ctx {
    void (*fn)(int, void *);
    void *arg;
};

static void on_signal(evutil_socket_t signo, short what, void *arg)
{
    struct signal_ctx *sc = arg;
    (void)what;
    sc->fn((int)signo, sc->arg);
}

void gh_net_main_on_signal(struct gh_net_worker *m, int signo, void (*fn)(int, void *), void *arg)
{
    GH_BUG_ON(m->nsignals >= GH_ARRAY_LEN(m->signal_evs));
    struct signal_ctx *sc = gh_xmalloc(sizeof(*sc)); /* freed with the loop's events */
    sc->fn = fn;
    sc->arg = arg;
    struct event *ev = evsignal_new(m->base, signo, on_signal, sc);
    event_add(ev, NULL);
    m->signal_evs[m->nsignals++] = ev;
}

/* ---- timers ---- */

struct gh_net_timer {
    struct event *ev;
    void (*cb)(void *);
    void *arg;
};

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct gh_net_timer *t = arg;
    (void)fd;
    (void)what;
    t->cb(t->arg);
}

struct gh_net_timer *gh_net_timer_new(struct gh_net_worker *w, void (*cb)(void *), void *arg)
{
    struct gh_net_timer *t = gh_xcalloc(1, sizeof(*t));
    t->cb = cb;
    t->arg = arg;
    t->ev = evtimer_new(w->base, on_timer, t);
    return t;
}

void gh_net_timer_arm(struct gh_net_timer *t, uint64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(t->ev, &tv);
}

void gh_net_timer_cancel(struct gh_net_timer *t)
{
    evtimer_del(t->ev);
}

void gh_net_timer_free(struct gh_net_timer *t)
{
    if (!t)
        return;
    event_free(t->ev);
    free(t);
}
