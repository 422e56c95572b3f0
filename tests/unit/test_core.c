/* Unit tests for core/: arenas, capped buffers, base64url, slices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void bump(void *p)
{
    (*(int *)p)++;
}

static void arena_allocates_and_runs_cleanups(void **state)
{
    (void)state;
    struct gh_arena *a = gh_arena_new(512);
    int ran = 0;
    char *s = gh_arena_strndup(a, "hello", 5);
    assert_string_equal(s, "hello");
    void *big = gh_arena_alloc(a, 10000); /* larger than a chunk */
    memset(big, 1, 10000);
    gh_arena_defer(a, bump, &ran);
    char *f = gh_arena_sprintf(a, "%d-%s", 42, "x");
    assert_string_equal(f, "42-x");
    gh_arena_reset(a);
    assert_int_equal(ran, 1);
    assert_int_equal(gh_arena_used(a), 0);
    gh_arena_free(a);
}

static void buf_enforces_cap(void **state)
{
    (void)state;
    struct gh_buf b;
    gh_buf_init(&b, 8);
    assert_int_equal(gh_buf_append(&b, "12345678", 8), GH_OK);
    assert_int_equal(gh_buf_append(&b, "9", 1), GH_E_LIMIT);
    assert_int_equal(b.len, 8);
    gh_buf_consume(&b, 4);
    assert_int_equal(gh_buf_append(&b, "abcd", 4), GH_OK);
    assert_memory_equal(gh_buf_rptr(&b), "5678abcd", 8);
    gh_buf_release(&b);
}

static void b64url_roundtrip_and_strictness(void **state)
{
    (void)state;
    unsigned char out[64];
    size_t n;
    char enc[64];
    gh_b64url_encode("hello?", 6, enc);
    assert_string_equal(enc, "aGVsbG8_");
    assert_int_equal(gh_b64url_decode(enc, strlen(enc), out, sizeof(out), &n), GH_OK);
    assert_memory_equal(out, "hello?", 6);
    assert_int_equal(gh_b64url_decode("aGVsbG8=", 8, out, sizeof(out), &n), GH_E_PARSE);
    assert_int_equal(gh_b64url_decode("aGVsbG9", 7, out, sizeof(out), &n),
                     GH_E_PARSE); /* non-canonical */
    assert_int_equal(gh_b64url_decode("a", 1, out, sizeof(out), &n), GH_E_PARSE);
}

static void slices_compare(void **state)
{
    (void)state;
    assert_true(gh_slice_caseeq_cstr(GH_SLICE_LIT("Content-Length"), "content-length"));
    assert_false(gh_slice_eq_cstr(GH_SLICE_LIT("abc"), "abcd"));
    struct gh_slice t = gh_slice_trim(GH_SLICE_LIT("  x y\t"));
    assert_true(gh_slice_eq_cstr(t, "x y"));
}

/* The reference implementation's vector: key 00..0f, empty message. */
static void siphash128_reference_vector(void **state)
{
    (void)state;
    unsigned char key[16], msg[1] = {0}, out[16];
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)i;
    gh_siphash128(key, msg, 0, out); /* empty input: the reference's vector 0 */
    static const unsigned char want0[16] = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                            0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
    assert_memory_equal(out, want0, 16);
}

/* gh_random_bytes hands out pooled bytes: never the same id twice, across refills too, and a
 * forked child never repeats what the parent hands out next. */
static void random_bytes_never_repeat(void **state)
{
    (void)state;
    enum { N = 2000 };
    static unsigned char ids[N][8];
    for (int i = 0; i < N; i++) /* 16,000 bytes: the pool is refilled many times */
        gh_random_bytes(ids[i], 8);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_false(memcmp(ids[i], ids[j], 8) == 0);
    unsigned char parent[16], child[16];
    gh_random_bytes(parent, 1); /* the pool holds unused bytes at the fork */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        gh_random_bytes(child, sizeof(child));
        _exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 1);
    }
    gh_random_bytes(parent, sizeof(parent));
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_false(memcmp(parent, child, sizeof(child)) == 0);
    close(fds[0]);
    close(fds[1]);
}

/* Runs fn with stderr sent to a temporary file; returns what it wrote (static buffer). */
static const char *capture_stderr(void (*fn)(void))
{
    static char got[4096];
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    assert_true(saved >= 0 && dup2(fileno(tmp), 2) == 2);
    fn();
    fflush(stderr);
    assert_int_equal(dup2(saved, 2), 2);
    close(saved);
    rewind(tmp);
    size_t n = fread(got, 1, sizeof(got) - 1, tmp);
    got[n] = '\0';
    fclose(tmp);
    return got;
}

static void log_at_error_level(void)
{
    gh_log_set_level(GH_LOG_ERROR);
    GH_LOGW("test", "quiet warning");
    gh_log_always(GH_LOG_WARN, "test", "INSECURE: loud\x1b[2J\rwarning");
    gh_log_set_level(GH_LOG_INFO);
}

/* The INSECURE warning must survive log_level error; its control bytes are escaped too. */
static void log_always_ignores_level_and_escapes(void **state)
{
    (void)state;
    const char *got = capture_stderr(log_at_error_level);
    assert_null(strstr(got, "quiet warning"));
    const char *at = strstr(got, " warn test: INSECURE: loud\\x1b[2J\\x0dwarning\n");
    assert_non_null(at);
    assert_int_equal(strchr(got, '\n') - got, at + strlen(at) - 1 - got); /* one line */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_allocates_and_runs_cleanups),
        cmocka_unit_test(buf_enforces_cap),
        cmocka_unit_test(b64url_roundtrip_and_strictness),
        cmocka_unit_test(slices_compare),
        cmocka_unit_test(siphash128_reference_vector),
        cmocka_unit_test(random_bytes_never_repeat),
        cmocka_unit_test(log_always_ignores_level_and_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
