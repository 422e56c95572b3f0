/*
 * mcp/stream.c owns SSE streams between an upstream response (the producer, on the worker that
 * opened it) and a client response (the consumer, on whichever worker the client's connection
 * lives — a resumed GET may land on another worker than the POST that started the stream).
 *
 * Every event gets a gateway id "<stream>-<seq>" and is kept in a replay buffer capped at
 * limits.sse_replay_bytes: delivered events are trimmed oldest first; undelivered ones are never
 * dropped — when they alone exceed the cap the producer is paused (backpressure to the upstream).
 * All fields are guarded by the session's lock; cross-worker work goes through worker posts.
 */
#include "core/core.h"
#include "mcp/internal.h"

#include <stdio.h>

#define MAX_STREAMS_PER_SESSION 32

struct event_rec {
    struct event_rec *next;
    uint64_t seq;
    size_t len;
    char wire[];
};

struct consumer {
    _Atomic int refs;
    struct gh_http_req *req; /* touched only on w */
    struct gh_net_worker *w;
    struct gh_mcp_stream *st;
    uint64_t next_seq; /* next event to deliver */
    bool gone;         /* stop delivering and end the response */
    bool posted;       /* a pull is queued */
    bool ended;        /* w only: response ended */
};

struct gh_mcp_stream {
    struct gh_mcp_stream *next; /* session's list */
    _Atomic int refs;
    struct gh_mcp_session *sess; /* referenced */
    uint32_t num;
    bool is_get, done, closed, paused, in_list;
    struct event_rec *head, *tail;
    size_t bytes, cap;
    uint64_t next_seq;      /* seq of the next appended event (first is 1) */
    uint64_t delivered_seq; /* every event below this was delivered to some client */
    struct gh_net_worker *prod_w;
    gh_mcp_producer_fn control;
    void *producer;
    struct consumer *cons;
    bool lossy;              /* nobody may be listening: drop the oldest events past the cap */
    char up_last_id[128];    /* the upstream's last event id, to resume it (SEP-1699 polling) */
    bool saw_response;       /* a JSON-RPC response went by: the request is answered */
    const char *list_method; /* a list request's stream: a resumed upstream filters too */
    struct gh_auth_principal *who; /* referenced with list_method */
};

void gh_mcp_stream_set_list(struct gh_mcp_stream *st, const char *list_method,
                            struct gh_auth_principal *who)
{
    st->list_method = list_method;
    st->who = who ? gh_auth_principal_ref(who) : NULL;
}

const char *gh_mcp_stream_list(const struct gh_mcp_stream *st, struct gh_auth_principal **who)
{
    *who = st->list_method && st->who ? gh_auth_principal_ref(st->who) : NULL;
    return st->list_method;
}

static void consumer_pull(void *arg);

static void consumer_unref(struct consumer *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        gh_mcp_stream_unref(c->st);
        free(c);
    }
}

void gh_mcp_stream_unref(struct gh_mcp_stream *st)
{
    if (atomic_fetch_sub(&st->refs, 1) != 1)
        return;
    while (st->head) {
        struct event_rec *e = st->head;
        st->head = e->next;
        free(e);
    }
    gh_mcp_session_unref(st->sess->gw, st->sess);
    gh_auth_principal_unref(st->who);
    free(st);
}

static void session_unlink_locked(struct gh_mcp_session *s, struct gh_mcp_stream *st)
{
    for (struct gh_mcp_stream **pp = &s->streams; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            s->nstreams--;
            st->in_list = false;
            return;
        }
    }
}

/* Keeps the session's list bounded: forget the oldest finished streams nobody reads. */
static void session_trim_locked(struct gh_mcp_session *s, struct gh_mcp_stream **drop)
{
    while (s->nstreams >= MAX_STREAMS_PER_SESSION) {
        struct gh_mcp_stream *victim = NULL;
        for (struct gh_mcp_stream *st = s->streams; st; st = st->next)
            if (st->done && !st->cons)
                victim = st; /* the last such one is the oldest */
        if (!victim)
            return;
        session_unlink_locked(s, victim);
        victim->next = *drop;
        *drop = victim;
    }
}

struct gh_mcp_stream *gh_mcp_stream_new(struct gh_mcp_session *s, bool is_get, size_t replay_cap,
                                        gh_mcp_producer_fn control, void *producer)
{
    struct gh_mcp_stream *st = gh_xcalloc(1, sizeof(*st));
    gh_mcp_session_ref(s->gw, s);
    st->sess = s;
    st->is_get = is_get;
    st->cap = replay_cap;
    st->next_seq = 1;
    st->delivered_seq = 1;
    st->prod_w = gh_net_worker_current();
    st->control = control;
    st->producer = producer;
    atomic_store(&st->refs, 2); /* the producer's and the session list's */
    struct gh_mcp_stream *drop = NULL;
    pthread_mutex_lock(&s->lock);
    session_trim_locked(s, &drop);
    st->num = ++s->next_stream;
    st->next = s->streams;
    st->in_list = true;
    s->streams = st;
    s->nstreams++;
    pthread_mutex_unlock(&s->lock);
    while (drop) {
        struct gh_mcp_stream *n = drop->next;
        gh_mcp_stream_unref(drop);
        drop = n;
    }
    return st;
}

/* Queues a pull on the consumer's worker (or runs it now when that is this worker). */
static bool schedule_pull_locked(struct gh_mcp_stream *st, struct consumer **now)
{
    struct consumer *c = st->cons;
    if (!c || c->posted)
        return false;
    c->posted = true;
    atomic_fetch_add(&c->refs, 1);
    if (c->w == gh_net_worker_current()) {
        *now = c;
        return true;
    }
    gh_net_worker_post(c->w, consumer_pull, c);
    return false;
}

static size_t undelivered_bytes_locked(const struct gh_mcp_stream *st)
{
    size_t n = 0;
    for (const struct event_rec *e = st->head; e; e = e->next)
        if (e->seq >= st->delivered_seq)
            n += e->len;
    return n;
}

static void trim_delivered_locked(struct gh_mcp_stream *st)
{
    while (st->head && st->bytes > st->cap && (st->lossy || st->head->seq < st->delivered_seq)) {
        struct event_rec *e = st->head;
        st->head = e->next;
        if (!st->head)
            st->tail = NULL;
        st->bytes -= e->len;
        free(e);
    }
}

static struct event_rec *event_build(struct gh_mcp_stream *st, const struct gh_sse_event *ev)
{
    char id[48];
    int idn = snprintf(id, sizeof(id), "%u-%llu", st->num, (unsigned long long)st->next_seq);
    struct gh_buf b;
    gh_buf_init(&b, ev->data.len + ev->event.len + 256);
    if (gh_sse_write_event(&b, gh_slice(id, (size_t)idn), ev->event, ev->data, ev->retry) !=
        GH_OK) {
        gh_buf_release(&b);
        return NULL;
    }
    struct event_rec *e = gh_xmalloc(sizeof(*e) + b.len);
    e->next = NULL;
    e->seq = st->next_seq++;
    e->len = b.len;
    memcpy(e->wire, b.data, b.len);
    gh_buf_release(&b);
    return e;
}

/* True when an event's data is a JSON-RPC response (result or error), which ends a POST stream. */
static bool is_response(struct gh_slice data)
{
    struct gh_arena *a = gh_arena_new(2048);
    struct gh_json_doc d;
    struct gh_json_err e;
    bool yes = false;
    if (gh_json_parse(a, data.ptr, data.len, NULL, &d, &e) == GH_OK &&
        d.toks[0].type == GH_JSON_OBJECT && gh_json_obj_get(&d, 0, "method", 6) < 0)
        yes = gh_json_obj_get(&d, 0, "result", 6) >= 0 || gh_json_obj_get(&d, 0, "error", 5) >= 0;
    gh_arena_free(a);
    return yes;
}

void gh_mcp_stream_append(struct gh_mcp_stream *st, const struct gh_sse_event *ev)
{
    struct consumer *now = NULL;
    bool pause = false;
    struct gh_mcp_session *s = st->sess;
    bool response = !st->is_get && ev->has_data && is_response(ev->data);
    atomic_store(&s->last_used_ms, gh_clock_ms());
    pthread_mutex_lock(&s->lock);
    if (ev->has_id && ev->id.len < sizeof(st->up_last_id)) {
        memcpy(st->up_last_id, ev->id.ptr, ev->id.len);
        st->up_last_id[ev->id.len] = '\0';
    }
    st->saw_response |= response;
    struct event_rec *e = st->closed ? NULL : event_build(st, ev);
    if (e) {
        if (st->tail)
            st->tail->next = e;
        else
            st->head = e;
        st->tail = e;
        st->bytes += e->len;
        trim_delivered_locked(st);
        schedule_pull_locked(st, &now);
        if (!now && !st->paused && undelivered_bytes_locked(st) > st->cap)
            pause = st->paused = true;
    }
    pthread_mutex_unlock(&s->lock);
    if (pause && st->producer)
        st->control(st->producer, GH_MCP_PRODUCER_PAUSE);
    if (now)
        consumer_pull(now);
}

void gh_mcp_stream_finish(struct gh_mcp_stream *st, enum gh_rc rc)
{
    struct consumer *now = NULL;
    pthread_mutex_lock(&st->sess->lock);
    st->done = true;
    st->producer = NULL;
    schedule_pull_locked(st, &now);
    pthread_mutex_unlock(&st->sess->lock);
    if (rc != GH_OK)
        GH_LOGD("mcp", "upstream stream ended: %s", gh_rc_str(rc));
    if (now)
        consumer_pull(now);
    gh_mcp_stream_unref(st); /* the producer's reference */
}

struct producer_task {
    struct gh_mcp_stream *st;
    enum gh_mcp_producer_op op;
};

static void producer_task_run(void *arg)
{
    struct producer_task *t = arg;
    struct gh_mcp_stream *st = t->st;
    pthread_mutex_lock(&st->sess->lock);
    void *p = st->producer;
    if (t->op == GH_MCP_PRODUCER_CANCEL)
        st->producer = NULL;
    pthread_mutex_unlock(&st->sess->lock);
    /* p cannot have been freed: it lives on this worker and was still registered above */
    if (p)
        st->control(p, t->op);
    if (p && t->op == GH_MCP_PRODUCER_CANCEL)
        gh_mcp_stream_unref(st); /* the producer's reference: it will not finish */
    gh_mcp_stream_unref(st);
    free(t);
}

static void producer_post(struct gh_mcp_stream *st, enum gh_mcp_producer_op op)
{
    struct producer_task *t = gh_xmalloc(sizeof(*t));
    atomic_fetch_add(&st->refs, 1);
    t->st = st;
    t->op = op;
    gh_net_worker_post(st->prod_w, producer_task_run, t);
}

static void consumer_on_drain(void *arg)
{
    struct consumer *c = arg;
    pthread_mutex_lock(&c->st->sess->lock);
    bool post = !c->posted;
    c->posted = true;
    pthread_mutex_unlock(&c->st->sess->lock);
    if (post) {
        atomic_fetch_add(&c->refs, 1);
        consumer_pull(c);
    }
}

static void consumer_end(struct consumer *c)
{
    if (c->ended)
        return;
    c->ended = true;
    gh_http_resp_end(c->req);
    c->req = NULL;
    consumer_unref(c); /* the stream's hold on the consumer */
}

/* Delivers what the consumer has not seen, as far as the client's buffer allows. */
static void consumer_pull(void *arg)
{
    struct consumer *c = arg;
    struct gh_mcp_stream *st = c->st;
    bool finished = false, resume = false;
    pthread_mutex_lock(&st->sess->lock);
    c->posted = false;
    bool blocked = false;
    if (!c->gone && !c->ended) {
        for (struct event_rec *e = st->head; e && !blocked; e = e->next) {
            if (e->seq < c->next_seq)
                continue;
            if (gh_http_resp_pending(c->req) > (256u << 10) ||
                gh_http_resp_write(c->req, e->wire, e->len) != GH_OK) {
                blocked = true;
                break;
            }
            c->next_seq = e->seq + 1;
        }
        if (c->next_seq > st->delivered_seq)
            st->delivered_seq = c->next_seq;
        trim_delivered_locked(st);
        finished = st->done && c->next_seq == st->next_seq;
        if (st->paused && undelivered_bytes_locked(st) <= st->cap / 2 && st->producer) {
            st->paused = false;
            resume = true;
        }
    }
    bool gone = c->gone;
    if ((finished || gone) && st->cons == c)
        st->cons = NULL;
    pthread_mutex_unlock(&st->sess->lock);
    if (resume)
        producer_post(st, GH_MCP_PRODUCER_RESUME);
    if (!c->ended) {
        if (finished || gone) {
            consumer_end(c);
        } else {
            if (blocked)
                gh_http_req_on_drain(c->req, consumer_on_drain, c);
            gh_http_resp_flush(c->req);
        }
    }
    consumer_unref(c); /* the pull's reference */
}

static void consumer_on_abort(void *arg)
{
    struct consumer *c = arg;
    pthread_mutex_lock(&c->st->sess->lock);
    c->gone = true;
    if (c->st->cons == c)
        c->st->cons = NULL;
    pthread_mutex_unlock(&c->st->sess->lock);
    consumer_end(c);
}

void gh_mcp_stream_attach(struct gh_mcp_stream *st, struct gh_http_req *r, uint64_t after_seq)
{
    struct consumer *c = gh_xcalloc(1, sizeof(*c));
    atomic_store(&c->refs, 2); /* the stream's hold, and the first pull's */
    c->req = r;
    c->w = gh_http_req_worker(r);
    c->st = st;
    atomic_fetch_add(&st->refs, 1);
    c->next_seq = after_seq + 1;
    c->posted = true;
    gh_http_req_on_abort(r, consumer_on_abort, c);
    pthread_mutex_lock(&st->sess->lock);
    struct consumer *old = st->cons;
    st->cons = c;
    if (old) {
        old->gone = true; /* one reader per stream: the newest connection wins */
        if (!old->posted) {
            old->posted = true;
            atomic_fetch_add(&old->refs, 1);
            gh_net_worker_post(old->w, consumer_pull, old);
        }
    }
    pthread_mutex_unlock(&st->sess->lock);
    consumer_pull(c);
}

struct gh_mcp_stream *gh_mcp_stream_find(struct gh_mcp_session *s, struct gh_slice last_event_id,
                                         uint64_t *seq, bool *trimmed)
{
    *trimmed = false;
    char buf[48];
    if (last_event_id.len == 0 || last_event_id.len >= sizeof(buf))
        return NULL;
    memcpy(buf, last_event_id.ptr, last_event_id.len);
    buf[last_event_id.len] = '\0';
    unsigned num;
    unsigned long long sq;
    int used = 0;
    if (sscanf(buf, "%u-%llu%n", &num, &sq, &used) != 2 || (size_t)used != last_event_id.len)
        return NULL;
    struct gh_mcp_stream *found = NULL;
    pthread_mutex_lock(&s->lock);
    for (struct gh_mcp_stream *st = s->streams; st; st = st->next) {
        /* replay only when every event after the id is still held */
        if (st->num == num && sq < st->next_seq && (!st->head || st->head->seq <= sq + 1)) {
            found = st;
            atomic_fetch_add(&st->refs, 1);
            break;
        }
        /* the stream is known but the replay buffer no longer holds what follows the id */
        *trimmed |= st->num == num && sq < st->next_seq;
    }
    pthread_mutex_unlock(&s->lock);
    *seq = sq;
    return found;
}

struct gh_mcp_stream *gh_mcp_stream_find_get(struct gh_mcp_session *s, bool attached_too)
{
    struct gh_mcp_stream *found = NULL;
    pthread_mutex_lock(&s->lock);
    for (struct gh_mcp_stream *st = s->streams; st && !found; st = st->next) {
        if (st->is_get && !st->done && (attached_too || !st->cons)) {
            found = st;
            atomic_fetch_add(&st->refs, 1);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

bool gh_mcp_stream_resumable_upstream(struct gh_mcp_stream *st, char *id, size_t n)
{
    pthread_mutex_lock(&st->sess->lock);
    bool yes = st->done && !st->closed && !st->is_get && !st->saw_response && !st->producer &&
               st->up_last_id[0] && strlen(st->up_last_id) < n;
    if (yes)
        strcpy(id, st->up_last_id);
    pthread_mutex_unlock(&st->sess->lock);
    return yes;
}

void gh_mcp_stream_adopt_producer(struct gh_mcp_stream *st, gh_mcp_producer_fn control,
                                  void *producer)
{
    atomic_fetch_add(&st->refs, 1); /* the new producer's reference */
    pthread_mutex_lock(&st->sess->lock);
    st->done = false;
    st->paused = false;
    st->prod_w = gh_net_worker_current();
    st->control = control;
    st->producer = producer;
    pthread_mutex_unlock(&st->sess->lock);
}

void gh_mcp_stream_ref(struct gh_mcp_stream *st)
{
    atomic_fetch_add(&st->refs, 1);
}

void gh_mcp_stream_note_redacted(struct gh_mcp_stream *st, unsigned mask)
{
    pthread_mutex_lock(&st->sess->lock);
    struct consumer *c = st->cons;
    /* the consumer's request is touched on its own worker only */
    if (c && !c->gone && !c->ended && c->req && c->w == gh_net_worker_current()) {
        struct gh_mcp_reqaudit *ra = gh_http_req_app(c->req);
        if (ra)
            atomic_fetch_or(&ra->redacted_results, mask);
    }
    pthread_mutex_unlock(&st->sess->lock);
}

bool gh_mcp_stream_has_consumer(struct gh_mcp_stream *st)
{
    pthread_mutex_lock(&st->sess->lock);
    bool yes = st->cons != NULL;
    pthread_mutex_unlock(&st->sess->lock);
    return yes;
}

void gh_mcp_stream_set_lossy(struct gh_mcp_stream *st)
{
    pthread_mutex_lock(&st->sess->lock);
    st->lossy = true;
    pthread_mutex_unlock(&st->sess->lock);
}

bool gh_mcp_stream_answered(struct gh_mcp_stream *st)
{
    pthread_mutex_lock(&st->sess->lock);
    bool yes = st->saw_response;
    pthread_mutex_unlock(&st->sess->lock);
    return yes;
}

uint64_t gh_mcp_stream_delivered(struct gh_mcp_stream *st)
{
    pthread_mutex_lock(&st->sess->lock);
    uint64_t v = st->delivered_seq - 1;
    pthread_mutex_unlock(&st->sess->lock);
    return v;
}

void gh_mcp_streams_close_locked(struct gh_mcp_session *s)
{
    while (s->streams) {
        struct gh_mcp_stream *st = s->streams;
        s->streams = st->next;
        s->nstreams--;
        st->in_list = false;
        st->closed = true;
        st->done = true;
        if (st->producer)
            producer_post(st, GH_MCP_PRODUCER_CANCEL);
        if (st->cons && !st->cons->posted) {
            struct consumer *c = st->cons;
            c->gone = true;
            c->posted = true;
            atomic_fetch_add(&c->refs, 1);
            gh_net_worker_post(c->w, consumer_pull, c);
        } else if (st->cons) {
            st->cons->gone = true;
        }
        /* the list's reference is dropped by a task so no unref runs under the lock */
        gh_net_worker_post(st->prod_w, (gh_net_task_fn)gh_mcp_stream_unref, st);
    }
}
