/*
 * bench/json_bench.c: nanoseconds per parse of a 323-byte tools/call message — the strict
 * tokenizer alone, and the full JSON-RPC model (tokenize + validate + method/name decode).
 * Not built by CMake; build by hand:
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Isrc bench/json_bench.c src/core/*.c src/json/*.c \
 *      $(pkg-config --cflags --libs jansson) -lcrypto -o /tmp/json_bench && /tmp/json_bench
 * The jansson number (json_loadb with JSON_REJECT_DUPLICATES) is the reference point.
 */
#include "core/core.h"
#include "json/json.h"

#include <jansson.h>
#include <stdio.h>

static const char msg[] =
    "{\"jsonrpc\":\"2.0\",\"id\":1042,\"method\":\"tools/call\",\"params\":{\"name\":"
    "\"create_issue\",\"arguments\":{\"owner\":\"acme\",\"repo\":\"gateway\","
    "\"title\":\"Login fails with \\\"invalid_token\\\" after key rotation\",\"body\":"
    "\"Steps: rotate the signing key, wait 5 minutes, call any tool.\",\"labels\":[\"bug\","
    "\"auth\",\"p1\"]},\"_meta\":{\"progressToken\":\"t7\"}}}";

static double now_ns(void)
{
    return (double)gh_clock_us() * 1000.0;
}

int main(void)
{
    enum { N = 2000000 };
    struct gh_arena *a = gh_arena_new(16384);
    struct gh_json_doc d;
    struct gh_jsonrpc_body b;
    size_t len = sizeof(msg) - 1;
    if (gh_jsonrpc_parse(a, msg, len, NULL, &b, NULL) != GH_OK)
        return 1;
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        gh_arena_reset(a);
        if (gh_json_parse(a, msg, len, NULL, &d, NULL) != GH_OK)
            return 1;
    }
    double t1 = now_ns();
    for (int i = 0; i < N; i++) {
        gh_arena_reset(a);
        if (gh_jsonrpc_parse(a, msg, len, NULL, &b, NULL) != GH_OK)
            return 1;
    }
    double t2 = now_ns();
    for (int i = 0; i < N / 10; i++) {
        json_t *j = json_loadb(msg, len, JSON_REJECT_DUPLICATES, NULL);
        json_decref(j);
    }
    double t3 = now_ns();
    printf("message: %zu bytes, %u tokens\n", len, b.doc.ntoks);
    printf("gh_json_parse:    %7.1f ns/parse  (%.0f MB/s)\n", (t1 - t0) / N,
           len * 1e3 / ((t1 - t0) / N));
    printf("gh_jsonrpc_parse: %7.1f ns/parse\n", (t2 - t1) / N);
    printf("jansson loadb:    %7.1f ns/parse\n", (t3 - t2) / (N / 10));
    gh_arena_free(a);
    return 0;
}
