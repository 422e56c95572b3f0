/*
 * bench/policy_bench.c: what the policy costs per call — gh_policy_evaluate, gh_policy_listable
 * and gh_policy_filter_list on generated policies of 10, 100, 1,000 and 10,000 rules.
 *
 * Built by CMake (target policy_bench, in build/release/) and run by `BENCH_PARTS=P bench/run.sh`;
 * by hand: `cmake --build --preset release --target policy_bench && build/release/policy_bench`.
 *
 * Each policy is a full gateway config written to a temp dir and loaded the way the gateway loads
 * it (gh_config_load_file, then gh_policy_compile); rules beyond the first 1,000 go to files under
 * `include:` (a YAML sequence holds at most 1,024 entries). Rule mix: ~70% allow rules naming 1-4 literal
 * tools on one upstream for one or two groups, ~15% allow rules with a tool glob (get_*, list_*,
 * ...), ~10% deny rules (literal tools for a group, a tool glob on an upstream, or no targets at
 * all for a `suspended` group), ~5% allow rules with argument constraints (enum, prefix, regex,
 * path_under, some with additional_arguments: false).
 *
 * 100,000 actions are drawn up front, each a tools/call (or prompts/get, resources/read, another
 * method) message parsed by gh_jsonrpc_parse with its own subject (1-4 groups): ~40% calls an
 * allow rule admits, ~10% calls to argument-checked tools (about 60% passing), ~20% random tools
 * of the pool on random upstreams, ~10% unknown names (a few invalid), ~5% glob-named tools,
 * ~5% resources, ~5% prompts, ~5% other methods. Parsing is outside the timed loops.
 *
 * Figures: CPU time of this process (CLOCK_PROCESS_CPUTIME_ID) over the whole array, divided by
 * its size, median of REPS passes; "hot" cycles the first 1,024 actions only (caches warm, like a
 * gateway answering similar calls); instructions per call from perf_event_open (user space only)
 * when the kernel allows it. Prints a markdown table on stdout; progress on stderr.
 */
#include "core/core.h"
#include "config/config.h"
#include "json/json.h"
#include "policy/policy.h"

#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NACTIONS      100000
#define HOT           1024
#define REPS          7
#define NUPSTREAMS    8
#define RULES_PER_CFG 1000 /* rules per file: a YAML sequence holds at most 1,024 entries */
#define LIST_TOOLS    50
#define LIST_SUBJECTS 64

static const char *const VERBS[] = {"get", "list", "search", "create",
                                    "update", "delete", "read", "run"};
static const char *const ALLOW_GLOBS[] = {"get_*", "list_*", "search_*", "read_*",
                                          "*_item1?", "run_item2*", "describe_*"};
static const char *const DENY_GLOBS[] = {"delete_*", "run_item1*", "*_admin"};

/* ---- deterministic randomness ---- */

static bool literal_only; /* --literal-only: no glob targets, no deny without targets */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)((rng_state >> 11) % n);
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- instruction counter (optional) ---- */

static int perf_fd = -1;
static void perf_open(void)
{
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof(pe));
    pe.type = PERF_TYPE_HARDWARE;
    pe.size = sizeof(pe);
    pe.config = PERF_COUNT_HW_INSTRUCTIONS;
    pe.disabled = 1;
    pe.exclude_kernel = 1;
    pe.exclude_hv = 1;
    perf_fd = (int)syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
}
static void perf_start(void)
{
    if (perf_fd >= 0) {
        ioctl(perf_fd, PERF_EVENT_IOC_RESET, 0);
        ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);
    }
}
static long long perf_stop(void)
{
    long long v = -1;
    if (perf_fd < 0)
        return -1;
    ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);
    if (read(perf_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
        return -1;
    return v;
}

/* ---- the generated policy ---- */

struct rule_info { /* what the action generator needs to know about a rule */
    int kind;      /* 0 literal allow, 1 glob allow, 2 deny, 3 args allow */
    int upstream;
    int groups[2], ngroups;
    int tools[4], ntools;
    int args_kind; /* for kind 3: 0 enum, 1 prefix, 2 regex, 3 path_under */
    bool strict;
};

struct gen {
    int nrules, ntools, ngroups;
    struct rule_info *rules;
    int *allow_lit, nallow_lit; /* indexes of kind-0 rules */
    int *args_rules, nargs;     /* indexes of kind-3 rules */
};

static void tool_name(char *out, size_t n, int k)
{
    snprintf(out, n, "%s_item%d", VERBS[k % 8], k);
}

static void write_rule(FILE *f, struct gen *g, int i)
{
    struct rule_info *r = &g->rules[i];
    char t[64];
    int x = (int)rnd(100);
    r->upstream = (int)rnd(NUPSTREAMS);
    r->ngroups = 1 + (int)rnd(2);
    for (int k = 0; k < r->ngroups; k++)
        r->groups[k] = (int)rnd((uint32_t)g->ngroups);
    char groups[64];
    if (r->ngroups == 1)
        snprintf(groups, sizeof(groups), "[g%d]", r->groups[0]);
    else
        snprintf(groups, sizeof(groups), "[g%d, g%d]", r->groups[0], r->groups[1]);
    if (literal_only && x >= 70 && x < 95)
        x = x < 85 ? 0 : 69 + (int)rnd(2) * 26; /* globs become literal allows, denies split */
    if (x < 70) { /* allow literal tools */
        r->kind = 0;
        r->ntools = 1 + (int)rnd(4);
        fprintf(f,
                "    - {id: allow-%d, effect: allow, principal: {groups: %s}, upstream: up%d, "
                "tools: [",
                i, groups, r->upstream);
        for (int k = 0; k < r->ntools; k++) {
            r->tools[k] = (int)rnd((uint32_t)g->ntools);
            tool_name(t, sizeof(t), r->tools[k]);
            fprintf(f, "%s%s", k ? ", " : "", t);
        }
        fprintf(f, "]}\n");
        g->allow_lit[g->nallow_lit++] = i;
    } else if (x < 85) { /* allow a glob of tools */
        r->kind = 1;
        fprintf(f,
                "    - {id: glob-%d, effect: allow, principal: {groups: %s}, upstream: up%d, "
                "tools: [\"%s\"]}\n",
                i, groups, r->upstream, ALLOW_GLOBS[rnd(GH_ARRAY_LEN(ALLOW_GLOBS))]);
    } else if (x < 95) { /* deny */
        r->kind = 2;
        int y = (int)rnd(10);
        if (y < 5 || literal_only) {
            tool_name(t, sizeof(t), (int)rnd((uint32_t)g->ntools));
            fprintf(f,
                    "    - {id: deny-%d, effect: deny, principal: {groups: [g%d]}, "
                    "upstream: up%d, tools: [%s]}\n",
                    i, r->groups[0], r->upstream, t);
        } else if (y < 8) {
            fprintf(f, "    - {id: deny-%d, effect: deny, upstream: up%d, tools: [\"%s\"]}\n", i,
                    r->upstream, DENY_GLOBS[rnd(GH_ARRAY_LEN(DENY_GLOBS))]);
        } else { /* break-glass: no targets, any method */
            fprintf(f, "    - {id: deny-%d, effect: deny, principal: {groups: [suspended%d]}}\n",
                    i, (int)rnd(4));
        }
    } else { /* allow with argument constraints */
        r->kind = 3;
        r->ntools = 1;
        r->tools[0] = (int)rnd((uint32_t)g->ntools);
        r->args_kind = (int)rnd(4);
        r->strict = rnd(3) == 0;
        tool_name(t, sizeof(t), r->tools[0]);
        fprintf(f,
                "    - id: args-%d\n      effect: allow\n      principal: {groups: %s}\n"
                "      upstream: up%d\n      tools: [%s]\n      arguments:\n",
                i, groups, r->upstream, t);
        switch (r->args_kind) {
        case 0:
            fprintf(f, "        repo: {type: string, required: true, "
                       "enum: [acme/web, acme/api, acme/docs]}\n");
            break;
        case 1:
            fprintf(f, "        ref: {type: string, required: true, prefix: refs/heads/}\n");
            break;
        case 2:
            fprintf(f, "        title: {type: string, max_length: 80, "
                       "regex: \"[A-Za-z0-9 ._-]{1,80}\"}\n");
            break;
        default:
            fprintf(f, "        path: {type: string, required: true, path_under: [/srv/repos/r%d]}\n",
                    i);
            break;
        }
        fprintf(f, "        limit: {type: integer, min: 1, max: 100}\n");
        if (r->strict)
            fprintf(f, "      additional_arguments: false\n");
        g->args_rules[g->nargs++] = i;
    }
}

/* Writes the config (and include files) for n rules under dir; returns the config path. */
static char *write_policy(const char *dir, int n, struct gen *g)
{
    memset(g, 0, sizeof(*g));
    g->nrules = n;
    g->ntools = n / 2 > 64 ? n / 2 : 64;
    g->ngroups = n / 10 > 8 ? n / 10 : 8;
    g->rules = calloc((size_t)n, sizeof(*g->rules));
    g->allow_lit = calloc((size_t)n, sizeof(int));
    g->args_rules = calloc((size_t)n, sizeof(int));
    int nfiles = (n + RULES_PER_CFG - 1) / RULES_PER_CFG;
    static char path[512];
    snprintf(path, sizeof(path), "%s/policy-%d.yaml", dir, n);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "gateway: {log_level: error}\nupstreams:\n");
    for (int u = 0; u < NUPSTREAMS; u++)
        fprintf(f, "  - name: up%d\n    url: http://127.0.0.1:9/up%d/mcp\n    path: /up%d/mcp\n",
                u, u, u);
    fprintf(f, "policy:\n  decision: local\n");
    if (nfiles > 1) {
        fprintf(f, "  include:\n");
        for (int k = 1; k < nfiles; k++)
            fprintf(f, "    - %s/policy-%d.part%d.yaml\n", dir, n, k);
    }
    fprintf(f, "  rules:\n");
    int i = 0;
    for (; i < n && i < RULES_PER_CFG; i++)
        write_rule(f, g, i);
    fclose(f);
    for (int k = 1; k < nfiles; k++) {
        char inc[600];
        snprintf(inc, sizeof(inc), "%s/policy-%d.part%d.yaml", dir, n, k);
        FILE *fi = fopen(inc, "w");
        if (!fi)
            return NULL;
        fprintf(fi, "rules:\n");
        for (; i < n && i < (k + 1) * RULES_PER_CFG; i++)
            write_rule(fi, g, i);
        fclose(fi);
    }
    return path;
}

/* ---- actions ---- */

static const char *const UPS[NUPSTREAMS] = {"up0", "up1", "up2", "up3",
                                            "up4", "up5", "up6", "up7"};
static char **group_names; /* g0..g(ngroups-1), then suspended0..3 */

struct sample {
    struct gh_policy_subject s;
    struct gh_slice groups[4];
    struct gh_policy_action a;
    struct gh_jsonrpc_body body;
};

static void subject_for(struct sample *x, const struct gen *g, const struct rule_info *r)
{
    uint32_t n = 0;
    if (r)
        x->groups[n++] = gh_slice_cstr(group_names[r->groups[rnd((uint32_t)r->ngroups)]]);
    uint32_t extra = rnd(r ? 3 : 4) + (r ? 0 : 1);
    while (n < 4 && extra--)
        x->groups[n++] = gh_slice_cstr(group_names[rnd((uint32_t)g->ngroups)]);
    if (rnd(100) == 0 && n < 4)
        x->groups[n++] = gh_slice_cstr(group_names[g->ngroups + (int)rnd(4)]);
    x->s.groups = x->groups;
    x->s.ngroups = n;
    x->s.subject = GH_SLICE_LIT("user-1234@example.com");
    x->s.issuer = GH_SLICE_LIT("https://idp.example.com");
    x->s.client_id = GH_SLICE_LIT("mcp-client");
    x->s.key = "user-1234";
}

/* The arguments of a call to an argument-checked rule's tool, passing or not. */
static void args_for(char *out, size_t n, const struct rule_info *r, int rule, bool pass)
{
    const char *extra = r->strict && !pass && rnd(2) ? ",\"debug\":true" : "";
    int lim = pass ? 1 + (int)rnd(100) : (rnd(2) ? 1 + (int)rnd(100) : 500);
    switch (r->args_kind) {
    case 0:
        snprintf(out, n, "{\"repo\":\"%s\",\"limit\":%d%s}",
                 pass ? (rnd(2) ? "acme/web" : "acme/api") : "evil/repo", lim, extra);
        break;
    case 1:
        snprintf(out, n, "{\"ref\":\"%s\",\"limit\":%d%s}",
                 pass ? "refs/heads/main" : "refs/tags/v1", lim, extra);
        break;
    case 2:
        snprintf(out, n, "{\"title\":\"%s\",\"limit\":%d%s}",
                 pass ? "Login fails after key rotation" : "ok; rm -rf /", lim, extra);
        break;
    default:
        if (pass)
            snprintf(out, n, "{\"path\":\"/srv/repos/r%d/src/main.c\",\"limit\":%d%s}", rule,
                     lim, extra);
        else
            snprintf(out, n, "{\"path\":\"/srv/repos/r%d/../r%d_evil/x\",\"limit\":%d%s}", rule,
                     rule, lim, extra);
        break;
    }
}

static bool make_action(struct gh_arena *ar, struct sample *x, const struct gen *g)
{
    char name[160], args[256] = "{}", msg[600];
    const char *method = "tools/call";
    int up = (int)rnd(NUPSTREAMS);
    const struct rule_info *r = NULL;
    int x100 = (int)rnd(100);
    bool named = true, uri = false;
    if (x100 < 40 && g->nallow_lit) { /* a call an allow rule admits */
        int ri = g->allow_lit[rnd((uint32_t)g->nallow_lit)];
        r = &g->rules[ri];
        up = r->upstream;
        tool_name(name, sizeof(name), r->tools[rnd((uint32_t)r->ntools)]);
        snprintf(args, sizeof(args), "{\"owner\":\"acme\",\"repo\":\"web\",\"limit\":%d}",
                 (int)rnd(50));
    } else if (x100 < 50 && g->nargs) { /* argument-checked */
        int ri = g->args_rules[rnd((uint32_t)g->nargs)];
        r = &g->rules[ri];
        up = r->upstream;
        tool_name(name, sizeof(name), r->tools[0]);
        args_for(args, sizeof(args), r, ri, rnd(10) < 6);
    } else if (x100 < 70) { /* a random tool of the pool */
        tool_name(name, sizeof(name), (int)rnd((uint32_t)g->ntools));
    } else if (x100 < 80) { /* unknown, a few invalid */
        if (rnd(5) == 0)
            snprintf(name, sizeof(name), "bad name %d!", (int)rnd(1000));
        else
            snprintf(name, sizeof(name), "nosuch_tool_%d", (int)rnd(100000));
    } else if (x100 < 85) { /* hits glob rules */
        snprintf(name, sizeof(name), "%s_thing%d", rnd(2) ? "get" : "search", (int)rnd(1000));
    } else if (x100 < 90) {
        method = "resources/read";
        uri = true;
        snprintf(name, sizeof(name), "file:///srv/data/doc%d.txt", (int)rnd(1000));
    } else if (x100 < 95) {
        method = "prompts/get";
        snprintf(name, sizeof(name), "prompt_%d", (int)rnd(100));
    } else {
        static const char *const M[] = {"initialize", "ping", "tools/list",
                                        "completion/complete", "logging/setLevel"};
        method = M[rnd(GH_ARRAY_LEN(M))];
        named = false;
    }
    subject_for(x, g, r);
    int len;
    if (!named)
        len = snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\","
                       "\"params\":{}}", rnd(100000), method);
    else if (uri)
        len = snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\","
                       "\"params\":{\"uri\":\"%s\"}}", rnd(100000), method, name);
    else
        len = snprintf(msg, sizeof(msg), "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"%s\","
                       "\"params\":{\"name\":\"%s\",\"arguments\":%s}}", rnd(100000), method,
                       name, args);
    char *text = gh_arena_strndup(ar, msg, (size_t)len);
    if (gh_jsonrpc_parse(ar, text, (size_t)len, NULL, &x->body, NULL) != GH_OK) {
        fprintf(stderr, "policy_bench: cannot parse %s\n", msg);
        return false;
    }
    const struct gh_jsonrpc_msg *m = &x->body.msgs[0];
    memset(&x->a, 0, sizeof(x->a));
    x->a.method = m->method;
    x->a.upstream = gh_slice_cstr(UPS[up]);
    x->a.kind = strcmp(method, "tools/call") == 0       ? GH_POLICY_K_TOOL
                : strcmp(method, "prompts/get") == 0    ? GH_POLICY_K_PROMPT
                : strcmp(method, "resources/read") == 0 ? GH_POLICY_K_RESOURCE
                                                        : GH_POLICY_K_METHOD;
    x->a.name = uri ? m->uri : m->name;
    x->a.args = &x->body.doc;
    x->a.args_tok = m->arguments;
    return true;
}

/* A tools/list answer of LIST_TOOLS tools on up0: half named by up0's allow rules. */
static char *tools_list(const struct gen *g, size_t *len)
{
    struct gh_buf b;
    gh_buf_init(&b, 1u << 20);
    gh_buf_puts(&b, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"tools\":[");
    int from_rules = 0;
    for (int i = 0; i < LIST_TOOLS; i++) {
        char t[64];
        int k = (int)rnd((uint32_t)g->ntools);
        for (int tries = 0; i % 2 == 0 && tries < 200; tries++) {
            const struct rule_info *r = &g->rules[g->allow_lit[rnd((uint32_t)g->nallow_lit)]];
            if (r->upstream == 0) {
                k = r->tools[0];
                from_rules++;
                break;
            }
        }
        tool_name(t, sizeof(t), k);
        gh_buf_appendf(&b,
                       "%s{\"name\":\"%s\",\"title\":\"Tool %d\",\"description\":\"Does the %s "
                       "thing to an item of a repository; returns the result as text.\","
                       "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"owner\":"
                       "{\"type\":\"string\"},\"repo\":{\"type\":\"string\"},\"limit\":"
                       "{\"type\":\"integer\",\"minimum\":1}},\"required\":[\"owner\",\"repo\"]},"
                       "\"annotations\":{\"readOnlyHint\":%s}}",
                       i ? "," : "", t, k, VERBS[k % 8], k % 8 < 3 ? "true" : "false");
    }
    gh_buf_puts(&b, "],\"nextCursor\":\"abc\"}}");
    *len = b.len;
    char *out = gh_xstrndup(b.data, b.len);
    gh_buf_release(&b);
    (void)from_rules;
    return out;
}

/* ---- one size ---- */

struct result {
    int rules;
    double load_ms, eval_ns, eval_min, hot_ns, listable_ns, filter_us, filter_kept;
    double ins_eval;
    int reasons[16];
};

static volatile uint64_t sink;

static bool run_size(const char *dir, int n, struct result *res)
{
    struct gen g;
    memset(res, 0, sizeof(*res));
    res->rules = n;
    rng_state = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    char *path = write_policy(dir, n, &g);
    if (!path)
        return false;
    struct gh_arena *names = gh_arena_new(16384);
    group_names = calloc((size_t)g.ngroups + 4, sizeof(char *));
    for (int i = 0; i < g.ngroups; i++)
        group_names[i] = gh_arena_sprintf(names, "g%d", i);
    for (int i = 0; i < 4; i++)
        group_names[g.ngroups + i] = gh_arena_sprintf(names, "suspended%d", i);

    int64_t t0 = cpu_ns();
    struct gh_config *cfg = NULL;
    struct gh_config_error err = {0};
    if (gh_config_load_file(path, &cfg, &err) != GH_OK) {
        char m[1024];
        gh_config_error_format(&err, m, sizeof(m));
        fprintf(stderr, "policy_bench: %s\n", m);
        return false;
    }
    struct gh_policy *p = NULL;
    if (gh_policy_compile(cfg, cfg->policy, &p, &err) != GH_OK) {
        char m[1024];
        gh_config_error_format(&err, m, sizeof(m));
        fprintf(stderr, "policy_bench: %s\n", m);
        return false;
    }
    res->load_ms = (double)(cpu_ns() - t0) / 1e6;

    struct gh_arena *ar = gh_arena_new(1u << 20);
    struct sample *xs = calloc(NACTIONS, sizeof(*xs));
    for (int i = 0; i < NACTIONS; i++)
        if (!make_action(ar, &xs[i], &g))
            return false;

    struct gh_policy_decision d;
    double per[REPS];
    uint64_t sum = 0;
    for (int i = 0; i < NACTIONS; i++) { /* warm-up pass, and the decision mix */
        gh_policy_evaluate(p, &xs[i].s, &xs[i].a, &d);
        res->reasons[d.reason & 15]++;
    }
    for (int rep = 0; rep < REPS; rep++) {
        int64_t a = cpu_ns();
        for (int i = 0; i < NACTIONS; i++) {
            gh_policy_evaluate(p, &xs[i].s, &xs[i].a, &d);
            sum += (uint64_t)d.verdict + (uint64_t)d.reason;
        }
        per[rep] = (double)(cpu_ns() - a) / NACTIONS;
    }
    res->eval_min = per[0];
    for (int rep = 1; rep < REPS; rep++)
        res->eval_min = per[rep] < res->eval_min ? per[rep] : res->eval_min;
    res->eval_ns = median(per, REPS);

    for (int rep = 0; rep < REPS; rep++) {
        int64_t a = cpu_ns();
        for (int i = 0; i < NACTIONS; i++) {
            const struct sample *x = &xs[i & (HOT - 1)];
            gh_policy_evaluate(p, &x->s, &x->a, &d);
            sum += (uint64_t)d.verdict;
        }
        per[rep] = (double)(cpu_ns() - a) / NACTIONS;
    }
    res->hot_ns = median(per, REPS);

    res->ins_eval = -1;
    if (perf_fd >= 0) {
        perf_start();
        for (int i = 0; i < NACTIONS; i++) {
            gh_policy_evaluate(p, &xs[i].s, &xs[i].a, &d);
            sum += (uint64_t)d.verdict;
        }
        long long ins = perf_stop();
        res->ins_eval = ins < 0 ? -1 : (double)ins / NACTIONS;
    }

    /* listable: every named action's (upstream, kind, name), as a list entry */
    int nl = 0;
    for (int rep = 0; rep < REPS; rep++) {
        nl = 0;
        int64_t a = cpu_ns();
        for (int i = 0; i < NACTIONS; i++) {
            const struct sample *x = &xs[i];
            if (x->a.kind == GH_POLICY_K_METHOD)
                continue;
            sum += gh_policy_listable(p, &x->s, x->a.upstream, x->a.kind, x->a.name);
            nl++;
        }
        per[rep] = (double)(cpu_ns() - a) / (nl ? nl : 1);
    }
    res->listable_ns = median(per, REPS);

    /* filter: a 50-tool tools/list answer for LIST_SUBJECTS different subjects */
    size_t llen = 0;
    char *list = tools_list(&g, &llen);
    struct sample subj[LIST_SUBJECTS];
    for (int i = 0; i < LIST_SUBJECTS; i++) {
        const struct rule_info *r = NULL;
        for (int tries = 0; tries < 200 && !r; tries++) {
            const struct rule_info *c = &g.rules[g.allow_lit[rnd((uint32_t)g.nallow_lit)]];
            r = c->upstream == 0 ? c : NULL;
        }
        subject_for(&subj[i], &g, r);
    }
    int rounds = 2000 / REPS * REPS / LIST_SUBJECTS * LIST_SUBJECTS;
    size_t kept = 0;
    for (int rep = 0; rep < REPS; rep++) {
        int64_t a = cpu_ns();
        for (int i = 0; i < rounds; i++) {
            char *out = NULL;
            size_t outlen = 0;
            if (gh_policy_filter_list(p, &subj[i % LIST_SUBJECTS].s, GH_SLICE_LIT("up0"),
                                      GH_SLICE_LIT("tools/list"), 0, list, llen, &out,
                                      &outlen) != GH_OK) {
                fprintf(stderr, "policy_bench: filter_list refused the list\n");
                return false;
            }
            if (rep == 0) {
                for (char *q = out; (q = strstr(q, "\"inputSchema\"")); q++)
                    kept++;
            }
            sum += outlen;
            free(out);
        }
        per[rep] = (double)(cpu_ns() - a) / rounds / 1000.0;
    }
    res->filter_us = median(per, REPS);
    res->filter_kept = (double)kept / rounds;
    sink += sum;

    free(list);
    free(xs);
    gh_arena_free(ar);
    gh_policy_unref(p);
    gh_config_unref(cfg);
    free(g.rules);
    free(g.allow_lit);
    free(g.args_rules);
    free(group_names);
    gh_arena_free(names);
    return true;
}

int main(int argc, char **argv)
{
    static const int SIZES[] = {10, 100, 1000, 10000};
    char dir[] = "/tmp/gatehouse-policy-bench.XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    gh_log_set_level(GH_LOG_ERROR);
    perf_open();
    struct result res[GH_ARRAY_LEN(SIZES)];
    size_t nres = 0;
    int only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--literal-only") == 0)
            literal_only = true;
        else if (atoi(argv[i]) > 0)
            only = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: policy_bench [--literal-only] [RULES]\n");
            return 2;
        }
    }
    for (size_t i = 0; i < GH_ARRAY_LEN(SIZES); i++) {
        if (only && only != SIZES[i])
            continue;
        fprintf(stderr, "[policy_bench] %d rules...\n", SIZES[i]);
        if (!run_size(dir, SIZES[i], &res[nres]))
            return 1;
        nres++;
    }
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "policy_bench: could not remove %s\n", dir);

    printf("| rules | load + compile ms | evaluate ns/call (100k actions, median of %d) | "
           "evaluate ns/call, best pass | evaluate ns/call (1,024 hot actions) | "
           "instructions/call | listable ns/entry | filter 50-tool tools/list µs/list "
           "(entries kept) | decisions: allowed / protocol / deny rule / no match / arguments / "
           "bad name |\n",
           REPS);
    printf("|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (size_t i = 0; i < nres; i++) {
        struct result *r = &res[i];
        char ins[32] = "n/a";
        if (r->ins_eval >= 0)
            snprintf(ins, sizeof(ins), "%.0f", r->ins_eval);
        double t = NACTIONS / 100.0;
        printf("| %d | %.1f | %.0f | %.0f | %.0f | %s | %.0f | %.1f (%.1f) | "
               "%.1f%% / %.1f%% / %.1f%% / %.1f%% / %.1f%% / %.1f%% |\n",
               r->rules, r->load_ms, r->eval_ns, r->eval_min, r->hot_ns, ins, r->listable_ns,
               r->filter_us, r->filter_kept, r->reasons[GH_POLICY_R_ALLOWED] / t,
               r->reasons[GH_POLICY_R_PROTOCOL] / t, r->reasons[GH_POLICY_R_DENY_RULE] / t,
               r->reasons[GH_POLICY_R_NO_MATCH] / t, r->reasons[GH_POLICY_R_ARGUMENTS] / t,
               r->reasons[GH_POLICY_R_BAD_NAME] / t);
    }
    return (int)(sink & 0);
}
