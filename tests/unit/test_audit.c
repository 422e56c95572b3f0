/*
 * Unit tests for audit/: the writer's hash chain (recomputed here independently), checkpoints,
 * resuming the chain from an existing file, a torn tail moved aside, size rotation continuing the
 * chain, and the value builders (escaping, cutting with a digest, trace context).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "audit/audit.h"
#include "config/config.h"
#include "json/json.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/gh-audit-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Opens a trail at dir/name with the given extra YAML under audit:. */
static struct gh_audit *open_trail(const char *name, const char *extra)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml), "audit:\n  path: %s/%s\n  key: file:%s/k.pem\n%s", dir, name, dir,
             extra ? extra : "");
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    if (gh_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err) != GH_OK)
        fail_msg("config: %s", err.msg);
    struct gh_audit *a = NULL;
    if (gh_audit_open(cfg, cfg->audit, false, &a, &err) != GH_OK)
        fail_msg("open: %d:%d %s", err.line, err.column, err.msg);
    gh_config_unref(cfg);
    return a;
}

static void make_key(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "openssl genpkey -algorithm ed25519 -out %s/k.pem 2>/dev/null", dir);
    assert_int_equal(system(cmd), 0);
}

struct chain {
    uint64_t n, checkpoints, starts, first_seq, last_seq;
    char last_hash[65];
};

/* Reads path and checks the chain link by link; carries on from c (rotation). */
static void chain_check(const char *path, struct chain *c)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    struct gh_arena *ar = gh_arena_new(4096);
    while ((len = getline(&line, &cap, f)) > 0) {
        assert_int_equal(line[len - 1], '\n');
        line[--len] = '\0';
        struct gh_json_doc d;
        assert_int_equal(gh_json_parse(ar, line, (size_t)len, NULL, &d, NULL), GH_OK);
        int64_t seq = 0;
        assert_int_equal(gh_json_int64(&d, (uint32_t)gh_json_obj_get(&d, 0, "seq", 3), &seq),
                         GH_OK);
        struct gh_slice prev, type;
        assert_int_equal(gh_json_str(&d, ar, (uint32_t)gh_json_obj_get(&d, 0, "prev", 4), &prev),
                         GH_OK);
        assert_int_equal(gh_json_str(&d, ar, (uint32_t)gh_json_obj_get(&d, 0, "type", 4), &type),
                         GH_OK);
        if (c->n == 0) {
            c->first_seq = (uint64_t)seq;
        } else {
            assert_int_equal((uint64_t)seq, c->last_seq + 1);
            assert_true(prev.len == 64 && memcmp(prev.ptr, c->last_hash, 64) == 0);
        }
        if (gh_slice_eq_cstr(type, "audit.checkpoint")) {
            int32_t cp = gh_json_obj_get(&d, 0, "checkpoint", 10);
            int32_t sig = gh_json_obj_get(&d, (uint32_t)cp, "sig", 3);
            assert_int_equal(d.toks[sig].type, GH_JSON_STRING); /* signed */
            c->checkpoints++;
        }
        c->starts += gh_slice_eq_cstr(type, "audit.start");
        unsigned char h[32];
        gh_sha256(line, (size_t)len, h);
        gh_hex_encode(h, 32, c->last_hash);
        c->last_seq = (uint64_t)seq;
        c->n++;
        gh_arena_reset(ar);
    }
    free(line);
    fclose(f);
    gh_arena_free(ar);
}

static void emit_n(struct gh_audit *a, int n)
{
    char m[128];
    for (int i = 0; i < n; i++) {
        int len = snprintf(m, sizeof(m), "\"rid\":\"%016d\"", i);
        assert_int_equal(gh_audit_emit(a, "request.decision", m, (size_t)len), GH_OK);
    }
}

static void chain_is_intact_and_signed(void **state)
{
    (void)state;
    make_key();
    struct gh_audit *a = open_trail("a.jsonl", "  checkpoint_every: 10\n");
    emit_n(a, 25);
    gh_audit_close(a);
    char path[128];
    snprintf(path, sizeof(path), "%s/a.jsonl", dir);
    struct chain c = {0};
    chain_check(path, &c);
    /* audit.start + 25 records + checkpoints every 10 records + one at close */
    assert_int_equal(c.first_seq, 1);
    assert_int_equal(c.starts, 1);
    assert_true(c.checkpoints >= 3);
    assert_int_equal(c.n, 1 + 25 + c.checkpoints);
    /* a second run continues the same chain in the same file */
    a = open_trail("a.jsonl", "  checkpoint_every: 10\n");
    emit_n(a, 3);
    gh_audit_close(a);
    struct chain c2 = {0};
    chain_check(path, &c2);
    assert_int_equal(c2.starts, 2);
    assert_int_equal(c2.last_seq, c2.n);
}

static size_t count_files(const char *prefix)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void torn_tail_is_moved_aside(void **state)
{
    (void)state;
    make_key();
    struct gh_audit *a = open_trail("t.jsonl", NULL);
    emit_n(a, 4);
    gh_audit_close(a);
    char path[128];
    snprintf(path, sizeof(path), "%s/t.jsonl", dir);
    FILE *f = fopen(path, "a");
    fputs("{\"v\":1,\"seq\":99,\"tim", f); /* a crash in the middle of a write */
    fclose(f);
    a = open_trail("t.jsonl", NULL);
    emit_n(a, 2);
    gh_audit_close(a);
    assert_int_equal(count_files("t.jsonl"), 2); /* the torn file, renamed, and a new one */
    struct chain c = {0};
    chain_check(path, &c); /* the new file is whole, and starts by continuing the chain */
    assert_true(c.first_seq > 1);
    assert_int_equal(c.starts, 1);
}

static void rotation_continues_the_chain(void **state)
{
    (void)state;
    make_key();
    struct gh_audit *a = open_trail("r.jsonl", "  max_bytes: 2000\n  checkpoint_every: 0\n");
    for (int i = 0; i < 20; i++) {
        emit_n(a, 1);
        usleep(12000); /* separate batches (the writer ticks every 5 ms): rotation is checked after
                          each */
    }
    gh_audit_close(a);
    size_t files = count_files("r.jsonl");
    assert_true(files >= 3);
    /* the rotated files in order (their names end in the seq of their last record) */
    char cmd[256], names[32][128];
    snprintf(cmd, sizeof(cmd), "ls %s/r.jsonl.* | sort -t. -k4 -n", dir);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    while (n < 32 && fgets(names[n], sizeof(names[n]), p)) {
        names[n][strcspn(names[n], "\n")] = '\0';
        n++;
    }
    pclose(p);
    assert_int_equal(n, files - 1);
    struct chain c = {0};
    for (size_t i = 0; i < n; i++)
        chain_check(names[i], &c);
    char path[128];
    snprintf(path, sizeof(path), "%s/r.jsonl", dir);
    chain_check(path, &c);
    assert_int_equal(c.first_seq, 1);
    assert_int_equal(c.last_seq, c.n); /* no gap anywhere */
    assert_int_equal(c.starts, files);
}

static void reopen_after_logrotate(void **state)
{
    (void)state;
    make_key();
    struct gh_audit *a = open_trail("h.jsonl", NULL);
    emit_n(a, 3);
    usleep(20000); /* written */
    char path[128], moved[140];
    snprintf(path, sizeof(path), "%s/h.jsonl", dir);
    snprintf(moved, sizeof(moved), "%s/h.jsonl.1", dir);
    assert_int_equal(rename(path, moved), 0); /* what logrotate does */
    gh_audit_reopen(a);                       /* and then SIGHUP */
    usleep(20000);
    emit_n(a, 2);
    gh_audit_close(a);
    struct chain c = {0};
    chain_check(moved, &c); /* the old file ends with a checkpoint... */
    assert_true(c.checkpoints >= 1);
    chain_check(path, &c); /* ...and the new one continues the chain */
    assert_int_equal(c.first_seq, 1);
    assert_int_equal(c.last_seq, c.n);
    assert_int_equal(c.starts, 2);
}

static void age_rotation(void **state)
{
    (void)state;
    make_key();
    struct gh_audit *a = open_trail("g.jsonl", "  max_age_s: 1\n");
    emit_n(a, 1);
    usleep(1100 * 1000);
    emit_n(a, 1); /* this batch is written past the age: the file rotates after it */
    usleep(20000);
    gh_audit_close(a);
    assert_int_equal(count_files("g.jsonl"), 2);
}

static void values_are_escaped_and_cut(void **state)
{
    (void)state;
    struct gh_buf b;
    gh_buf_init(&b, 1 << 20);
    gh_audit_put_str(&b, "ua", GH_SLICE_LIT("a\n\"}{\"x\":1\x1b[31m\x00\xff"));
    assert_null(memchr(b.data, '\n', b.len));
    assert_null(memchr(b.data, 0x1b, b.len));
    assert_non_null(strstr(b.data, "\\u001b"));
    assert_non_null(strstr(b.data, "\\ufffd"));
    gh_buf_clear(&b);
    char *big = malloc(1 << 20);
    memset(big, 'x', 1 << 20);
    gh_audit_put_str(&b, "v", gh_slice(big, 1 << 20));
    assert_true(b.len < GH_AUDIT_VALUE_MAX + 100);
    assert_non_null(strstr(b.data, "(1048576 bytes, sha256:"));
    free(big);
    gh_buf_release(&b);
    struct gh_audit_trace t;
    gh_audit_trace_from(GH_SLICE_LIT("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                        &t);
    assert_string_equal(t.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_string_equal(t.parent, "b7ad6b7169203331");
    assert_int_equal(strlen(t.span_id), 16);
    gh_audit_trace_from(GH_SLICE_LIT("00-00000000000000000000000000000000-b7ad6b7169203331-01"),
                        &t); /* all-zero trace id: invalid, a new one is minted */
    assert_string_not_equal(t.trace_id, "00000000000000000000000000000000");
    assert_string_equal(t.parent, "");
    gh_audit_trace_from(GH_SLICE_LIT("garbage"), &t);
    assert_int_equal(strlen(t.trace_id), 32);
}

static void secrets_are_redacted(void **state)
{
    (void)state;
    static const struct {
        const char *in, *kind, *gone;
    } cases[] = {
        {"curl/8 Bearer abcdefghijklmnopqrstuvwxyz012345", "bearer", "abcdefghijklmnop"},
        {"tok eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl x", "jwt",
         "eyJhbGciOiJFUzI1NiJ9"},
        {"ghp_0123456789abcdefghijklmnopqrstuvwxyz", "github", "ghp_0123"},
        {"AKIAIOSFODNN7EXAMPLE", "aws", "AKIAIOSFODNN7EXAMPLE"},
        {"sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "anthropic", "abcdefghij"},
        {"xoxb-123456789012-abcdefghijkl", "slack", "123456789012"},
        {"memo://x?token=s3cr3tvalue123&y=1", "credential", "s3cr3tvalue"},
        {"-----BEGIN PRIVATE KEY-----", "private key", "PRIVATE KEY"},
    };
    struct gh_buf b;
    gh_buf_init(&b, 1 << 16);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gh_buf_clear(&b);
        gh_audit_put_str(&b, "v", gh_slice_cstr(cases[i].in));
        gh_buf_append(&b, "", 1);
        char want[64];
        snprintf(want, sizeof(want), "[redacted:%s]", cases[i].kind);
        if (!strstr(b.data, want) || strstr(b.data, cases[i].gone))
            fail_msg("case %zu: %s", i, b.data);
    }
    /* ordinary values stay as they are */
    static const char *const plain[] = {"MCP-Client/1.2 (linux)", "task-skeleton", "sk-short",
                                        "memo://public/readme", "ask-for-help-please-now"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        gh_buf_clear(&b);
        gh_audit_put_str(&b, "v", gh_slice_cstr(plain[i]));
        gh_buf_append(&b, "", 1);
        assert_null(strstr(b.data, "redacted"));
    }
    gh_buf_release(&b);
}

static atomic_bool drain_stop;

/* Reads the FIFO until told to stop (a blocked read would not notice the fd being closed). */
static void *drain_fifo(void *arg)
{
    int fd = *(int *)arg;
    char buf[65536];
    while (!atomic_load(&drain_stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) > 0 && read(fd, buf, sizeof(buf)) < 0)
            break;
    }
    return NULL;
}

/* A writer that cannot keep up (its file is a FIFO nobody reads): new records are refused at
 * the cap, records already owed still fit in the reserve, then nothing more. */
static void full_queue_refuses_new_keeps_owed(void **state)
{
    (void)state;
    make_key();
    char path[128];
    snprintf(path, sizeof(path), "%s/stuck.jsonl", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    int fd = open(path, O_RDWR); /* reader and writer: the trail's opens do not block */
    assert_true(fd >= 0);
    struct gh_audit *a = open_trail("stuck.jsonl", NULL);
    size_t fresh = 0, owed = 0;
    while (gh_audit_emit(a, "request.decision", "\"rid\":\"x\"", 10) == GH_OK)
        assert_true(++fresh <= 2 * (size_t)GH_AUDIT_QUEUE_MAX);
    /* the writer took a batch off the queue before its write() blocked */
    assert_true(fresh >= GH_AUDIT_QUEUE_MAX && fresh < 2 * (size_t)GH_AUDIT_QUEUE_MAX);
    assert_int_equal(gh_audit_emit(a, "auth.failure", "\"x\":1", 5), GH_E_LIMIT);
    while (gh_audit_emit_owed(a, "request.outcome", "\"rid\":\"x\"", 10) == GH_OK)
        assert_true(++owed <= 2 * (size_t)GH_AUDIT_QUEUE_MAX);
    assert_true(owed >= GH_AUDIT_QUEUE_MAX); /* the whole reserve */
    pthread_t t;
    atomic_store(&drain_stop, false);
    assert_int_equal(pthread_create(&t, NULL, drain_fifo, &fd), 0);
    gh_audit_close(a); /* writes everything queued, through the now-read FIFO */
    atomic_store(&drain_stop, true);
    pthread_join(t, NULL);
    close(fd);
}

static void config_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "audit:\n  durability: sometimes\n  path: /tmp/x\n",
        "audit:\n  path: /tmp/x\n  colour: red\n",
        "audit:\n  durability: buffered\n",                    /* no path outside dev */
        "audit:\n  path: /tmp/x\n  key: /etc/key.pem\n",       /* not a file: reference */
        "audit:\n  path: /tmp/x\n  commit_delay_us: 100001\n", /* over the cap */
        "audit:\n  path: /tmp/x\n  commit_delay_us: -5\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gh_config *cfg = NULL;
        struct gh_config_error err = {0};
        assert_int_equal(gh_config_load_string("t.yaml", bad[i], strlen(bad[i]), &cfg, &err),
                         GH_OK);
        struct gh_audit *a = NULL;
        assert_int_not_equal(gh_audit_open(cfg, cfg->audit, false, &a, &err), GH_OK);
        assert_null(a);
        assert_true(err.line > 0);
        gh_config_unref(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(chain_is_intact_and_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_tail_is_moved_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(rotation_continues_the_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(reopen_after_logrotate, setup, teardown),
        cmocka_unit_test_setup_teardown(age_rotation, setup, teardown),
        cmocka_unit_test(values_are_escaped_and_cut),
        cmocka_unit_test(secrets_are_redacted),
        cmocka_unit_test(config_errors),
        cmocka_unit_test_setup_teardown(full_queue_refuses_new_keeps_owed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
