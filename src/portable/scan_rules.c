/*
 * portable/scan_rules.c owns the scanner's rules: the provider regexes (adapted from gitleaks'
 * config/gitleaks.toml and trufflehog's detectors, each with its source in SCAN_RULES), the
 * generic entropy rule for env, header, argument and URL values, and the allow-list of
 * placeholders and reference syntaxes (${env:X}, $X, ${{ secrets.X }}, env:X, file:...) that
 * are never secrets. Regexes run under PCRE2 with match and depth limits.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "core/core.h"
#include "portable/internal_scan.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>

#define GL "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml"
#define TH "https://github.com/trufflesecurity/trufflehog/tree/main/pkg/detectors"

/* Lookarounds standing in for gitleaks' \b and its terminator group: a token may not continue
 * into more token characters on either side. */
#define B_ "(?<![A-Za-z0-9_-])"
#define _B "(?![A-Za-z0-9_-])"

#define REGEX_MATCH_LIMIT 100000
#define REGEX_DEPTH_LIMIT 1000

const struct scan_rule_info SCAN_RULES[] = {
    {"gcp-service-account", "GCP service account key", GH_SCAN_SECRET, "error",
     "Google Cloud service account JSON with its private key",
     "https://cloud.google.com/iam/docs/keys-create-delete"},
    {"github-pat", "GitHub personal access token", GH_SCAN_SECRET, "error",
     "GitHub classic personal access token (ghp_)", GL},
    {"github-fine-grained-pat", "GitHub fine-grained token", GH_SCAN_SECRET, "error",
     "GitHub fine-grained personal access token (github_pat_)", GL},
    {"github-oauth", "GitHub OAuth token", GH_SCAN_SECRET, "error",
     "GitHub OAuth access token (gho_)", GL},
    {"github-app-token", "GitHub App token", GH_SCAN_SECRET, "error",
     "GitHub App user-to-server or installation token (ghu_, ghs_)", GL},
    {"github-refresh-token", "GitHub refresh token", GH_SCAN_SECRET, "error",
     "GitHub refresh token (ghr_)", GL},
    {"gitlab-pat", "GitLab personal access token", GH_SCAN_SECRET, "error",
     "GitLab personal access token (glpat-)", GL},
    {"slack-bot-token", "Slack bot token", GH_SCAN_SECRET, "error", "Slack bot token (xoxb-)", GL},
    {"slack-user-token", "Slack user token", GH_SCAN_SECRET, "error",
     "Slack user token (xoxp-, xoxe-)", GL},
    {"slack-app-token", "Slack app token", GH_SCAN_SECRET, "error", "Slack app-level token (xapp-)",
     GL},
    {"slack-webhook-url", "Slack webhook", GH_SCAN_SECRET, "error",
     "Slack incoming webhook URL (hooks.slack.com)", GL},
    {"openai-api-key", "OpenAI API key", GH_SCAN_SECRET, "error",
     "OpenAI API key (sk-proj-, sk-svcacct-, sk-admin-, legacy sk-...T3BlbkFJ)", GL},
    {"anthropic-api-key", "Anthropic API key", GH_SCAN_SECRET, "error",
     "Anthropic API key (sk-ant-api03-)", GL},
    {"anthropic-admin-api-key", "Anthropic admin key", GH_SCAN_SECRET, "error",
     "Anthropic admin API key (sk-ant-admin01-)", GL},
    {"aws-access-token", "AWS access key id", GH_SCAN_SECRET, "error",
     "AWS access key id (AKIA, ASIA, ABIA, ACCA, A3T.)", GL},
    {"aws-secret-access-key", "AWS secret access key", GH_SCAN_SECRET, "error",
     "40-character AWS secret access key under a key named like aws...secret", TH "/aws"},
    {"stripe-access-token", "Stripe key", GH_SCAN_SECRET, "error",
     "Stripe secret or restricted key (sk_live_, rk_live_, sk_test_...)", GL},
    {"gcp-api-key", "GCP API key", GH_SCAN_SECRET, "error", "Google API key (AIza)", GL},
    {"huggingface-access-token", "Hugging Face token", GH_SCAN_SECRET, "error",
     "Hugging Face access token (hf_)", GL},
    {"npm-access-token", "npm token", GH_SCAN_SECRET, "error", "npm access token (npm_)", GL},
    {"jwt", "JSON Web Token", GH_SCAN_SECRET, "error", "A JWT (bearer token or assertion)", GL},
    {"private-key", "Private key", GH_SCAN_SECRET, "error", "A PEM private key block", GL},
    {"url-credentials", "Password in URL", GH_SCAN_SECRET, "error",
     "A URL with user:password@ userinfo (RFC 3986 section 3.2.1 deprecates it)",
     "https://www.rfc-editor.org/rfc/rfc3986#section-3.2.1"},
    {"generic-api-key", "High-entropy credential", GH_SCAN_SECRET, "error",
     "A high-entropy value in an env, header, argument, URL query or URL path position", GL},
    {"mcp-auto-approve", "Auto-approved MCP tools", GH_SCAN_RISK, "warning",
     "Tool calls run without the user's confirmation (Cline alwaysAllow/autoApprove, Claude Code "
     "enableAllProjectMcpServers, VS Code chat.tools.autoApprove)",
     "https://github.com/cline/cline/blob/main/docs/mcp/configuring-mcp-servers.mdx"},
    {"mcp-trust-flag", "Trusted MCP server", GH_SCAN_RISK, "warning",
     "A trust flag that bypasses confirmations (Gemini CLI trust, Codex approval_policy never or "
     "sandbox_mode danger-full-access)",
     "https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md"},
    {"mcp-plain-http", "Plain-HTTP remote MCP server", GH_SCAN_RISK, "warning",
     "A remote server URL over http:// to a host that is not loopback",
     "https://modelcontextprotocol.io/specification/2025-11-25/basic/security_best_practices"},
    {"mcp-unpinned-package", "Unpinned MCP server package", GH_SCAN_RISK, "warning",
     "A server run by npx, bunx, pnpm/yarn dlx, uvx, pipx or docker without a version or digest",
     "https://mcppreflight.com/rules"},
};
const size_t SCAN_N_RULES = GH_ARRAY_LEN(SCAN_RULES);

const struct scan_rule_info *scan_rule_info(const char *id)
{
    for (size_t i = 0; i < SCAN_N_RULES; i++)
        if (strcmp(SCAN_RULES[i].id, id) == 0)
            return &SCAN_RULES[i];
    return NULL;
}

/* Provider regexes in matching order: a match overlapping an earlier one is dropped, so the
 * service-account rule (whole JSON) comes before the private-key rule it contains. */
struct provider {
    const char *rule;
    const char *re;
    double min_entropy; /* over the secret, as gitleaks' entropy field */
    pcre2_code *code;
    /* The match has a structure no documentation value has (a PEM block, a whole service
     * account); long random bodies would only trip the placeholder words by chance. */
    bool structured;
};

static struct provider PROVIDERS[] = {
    {"gcp-service-account",
     "(?s)\\{(?=.*\"type\"\\s*:\\s*\"service_account\")(?=.*\"private_key\"\\s*:).*\\}", 0, NULL,
     true},
    {"github-pat", B_ "ghp_[0-9a-zA-Z]{36}" _B, 3, NULL, false},
    {"github-fine-grained-pat", B_ "github_pat_\\w{82}" _B, 3, NULL, false},
    {"github-oauth", B_ "gho_[0-9a-zA-Z]{36}" _B, 3, NULL, false},
    {"github-app-token", B_ "(?:ghu|ghs)_[0-9a-zA-Z]{36}" _B, 3, NULL, false},
    {"github-refresh-token", B_ "ghr_[0-9a-zA-Z]{36}" _B, 3, NULL, false},
    {"gitlab-pat", B_ "glpat-[\\w.-]{20,}" _B, 3, NULL, false},
    {"slack-bot-token", B_ "xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*", 3, NULL, false},
    {"slack-user-token", B_ "xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}" _B, 2, NULL, false},
    {"slack-app-token", B_ "(?i)xapp-\\d-[A-Z0-9]+-\\d+-[a-z0-9]+" _B, 2, NULL, false},
    {"slack-webhook-url",
     "(?:https?://)?hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}", 0,
     NULL, true},
    {"openai-api-key",
     B_ "(?:sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
        "(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})|sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})" _B,
     3, NULL, false},
    {"anthropic-api-key", B_ "sk-ant-api03-[a-zA-Z0-9_-]{93}AA" _B, 0, NULL, false},
    {"anthropic-admin-api-key", B_ "sk-ant-admin01-[a-zA-Z0-9_-]{93}AA" _B, 0, NULL, false},
    {"aws-access-token", B_ "(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}" _B, 3, NULL, false},
    {"stripe-access-token", B_ "(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}" _B, 2, NULL,
     false},
    {"gcp-api-key", B_ "AIza[\\w-]{35}" _B, 4, NULL, false},
    {"huggingface-access-token", B_ "hf_(?i:[a-z]{34})" _B, 2, NULL, false},
    {"npm-access-token", B_ "(?i)npm_[a-z0-9]{36}" _B, 2, NULL, false},
    {"jwt",
     B_ "ey[a-zA-Z0-9]{17,}\\.ey[a-zA-Z0-9/\\\\_-]{17,}\\.(?:[a-zA-Z0-9/\\\\_-]{10,}={0,2})?", 3,
     NULL, false},
    {"private-key",
     "(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\\s\\S-]{64,}?KEY(?: "
     "BLOCK)?-----",
     0, NULL, true},
    /* group 1 is the password */
    {"url-credentials", "[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^/\\s:@]{1,128}:([^/\\s@]{1,256})@", 0,
     NULL, false},
};

static pthread_once_t compile_once = PTHREAD_ONCE_INIT;
static pcre2_match_context *mctx;

/* The patterns are ours and fixed: a failure to compile is a bug, not an input error. */
static void compile_all(void)
{
    for (size_t i = 0; i < GH_ARRAY_LEN(PROVIDERS); i++) {
        int code = 0;
        PCRE2_SIZE off = 0;
        PROVIDERS[i].code = pcre2_compile((PCRE2_SPTR)PROVIDERS[i].re, PCRE2_ZERO_TERMINATED,
                                          PCRE2_NEVER_BACKSLASH_C, &code, &off, NULL);
        GH_BUG_ON(!PROVIDERS[i].code);
    }
    mctx = pcre2_match_context_create(NULL);
    GH_BUG_ON(!mctx);
    pcre2_set_match_limit(mctx, REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(mctx, REGEX_DEPTH_LIMIT);
}

/* log2 without libm (the library links no math library): x = m * 2^e with m in [1, 2), and
 * ln m = 2 atanh((m - 1) / (m + 1)), whose series converges fast for z <= 1/3. */
static double log2_of(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & ~(0x7ffull << 52)) | (1023ull << 52);
    double m;
    memcpy(&m, &bits, sizeof(m));
    double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return e + 2 * sum / 0.69314718055994530942;
}

double gh_scan_entropy(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    size_t count[256] = {0};
    for (size_t i = 0; i < n; i++)
        count[(unsigned char)s[i]]++;
    double h = 0;
    for (size_t i = 0; i < 256; i++) {
        if (!count[i])
            continue;
        double p = (double)count[i] / (double)n;
        h -= p * log2_of(p);
    }
    return h;
}

static bool has_ci(struct gh_slice v, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= v.len; i++)
        if (strncasecmp(v.ptr + i, needle, n) == 0)
            return true;
    return false;
}

static bool has(struct gh_slice v, const char *needle)
{
    return memmem(v.ptr, v.len, needle, strlen(needle)) != NULL;
}

static bool starts_ci(struct gh_slice v, const char *p)
{
    size_t n = strlen(p);
    return v.len >= n && strncasecmp(v.ptr, p, n) == 0;
}

/* $NAME or ${...} anywhere: the value is interpolated by the client, not a literal. */
static bool has_reference(struct gh_slice v)
{
    for (size_t i = 0; i + 1 < v.len; i++) {
        if (v.ptr[i] != '$')
            continue;
        char c = v.ptr[i + 1];
        if (c == '{' || c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
            return true;
    }
    return false;
}

/* Words that mark documentation values, matched case-insensitively as words (no letter right
 * before or after), so a random token that happens to spell one is still a token. */
static const char *const PLACEHOLDER_WORDS[] = {
    "your",    "yourapikey",  "yourtoken", "yourkey", "changeme", "change",
    "example", "placeholder", "redacted",  "dummy",   "sample",   "replace",
    "insert",  "fake",        "todo",      "tbd",
};
/* Marks no token contains: angle brackets, template braces, masks, ellipses. */
static const char *const PLACEHOLDER_MARKS[] = {
    "<", ">", "{{", "}}", "****", "...", "\xe2\x80\xa6",
};
static const char *const PLACEHOLDER_EXACT[] = {
    "password", "secret", "token", "apikey", "api_key",   "api-key", "test",
    "none",     "null",   "true",  "false",  "undefined", "key",     "changeit",
};
static const char *const REFERENCE_PREFIXES[] = {
    "env:",
    "file:",
    "op://",
    "vault:",
    "keychain:",
    "secret:",
    "secretref:",
    "keyring:",
    "aws-secretsmanager:",
    "gcp-secretmanager:",
    "azure-keyvault:",
    "pass:",
};

static bool is_letter(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool has_word_ci(struct gh_slice v, const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; i + n <= v.len; i++)
        if (strncasecmp(v.ptr + i, w, n) == 0 && (i == 0 || !is_letter(v.ptr[i - 1])) &&
            (i + n == v.len || !is_letter(v.ptr[i + n])))
            return true;
    return false;
}

/* References, reference prefixes, marks and masks: never part of a real token, so they also
 * veto provider matches. */
static bool reference_or_mask(struct gh_slice v)
{
    if (v.len == 0 || has_reference(v))
        return true;
    for (size_t i = 0; i < GH_ARRAY_LEN(REFERENCE_PREFIXES); i++)
        if (starts_ci(v, REFERENCE_PREFIXES[i]))
            return true;
    for (size_t i = 0; i < GH_ARRAY_LEN(PLACEHOLDER_MARKS); i++)
        if (has(v, PLACEHOLDER_MARKS[i]))
            return true;
    /* One character repeated (aaaa..., 0000...) is a mask, not a key. */
    bool same = true;
    for (size_t i = 1; i < v.len && same; i++)
        same = v.ptr[i] == v.ptr[0];
    return same;
}

bool gh_scan_is_placeholder(struct gh_slice v)
{
    v = gh_slice_trim(v);
    /* xxxx masks a documentation value; in a provider token's random body it can occur by
     * chance, so it is only judged here, not in reference_or_mask(). */
    if (reference_or_mask(v) || has(v, "xxxx") || has(v, "XXXX"))
        return true;
    /* "your-api-key-here", "REPLACE_ME": words between - or _ count */
    for (size_t i = 0; i < GH_ARRAY_LEN(PLACEHOLDER_WORDS); i++)
        if (has_word_ci(v, PLACEHOLDER_WORDS[i]))
            return true;
    for (size_t i = 0; i < GH_ARRAY_LEN(PLACEHOLDER_EXACT); i++)
        if (gh_slice_caseeq_cstr(v, PLACEHOLDER_EXACT[i]))
            return true;
    return false;
}

static bool overlaps(const struct scan_hit *hits, size_t n, size_t s, size_t e)
{
    for (size_t i = 0; i < n; i++)
        if (s < hits[i].end && hits[i].start < e)
            return true;
    return false;
}

/* A password in a URL is free text, judged like a generic value; a provider token only loses
 * to references and masks (its random body could spell any word). */
static bool placeholder_for(const struct provider *p, struct gh_slice secret)
{
    if (p->structured)
        return false;
    if (strcmp(p->rule, "url-credentials") == 0)
        return gh_scan_is_placeholder(secret);
    return reference_or_mask(secret);
}

/* All matches of one provider in v, appended to hits. */
static size_t match_provider(const struct provider *p, pcre2_match_data *md, struct gh_slice v,
                             struct scan_hit *hits, size_t n, size_t cap)
{
    size_t from = 0;
    while (n < cap && from <= v.len) {
        int rc = pcre2_match(p->code, (PCRE2_SPTR)v.ptr, v.len, from, 0, md, mctx);
        if (rc < 0) /* no match, or a limit hit: either way nothing reliable to report */
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (rc > 1 && ov[2] != PCRE2_UNSET) {
            s = ov[2];
            e = ov[3];
        }
        struct gh_slice secret = gh_slice(v.ptr + s, e - s);
        if (e > s && !overlaps(hits, n, s, e) &&
            gh_scan_entropy(secret.ptr, secret.len) >= p->min_entropy &&
            !placeholder_for(p, secret) &&
            !(strcmp(p->rule, "aws-access-token") == 0 && has(secret, "EXAMPLE")))
            hits[n++] = (struct scan_hit){p->rule, s, e};
        from = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    return n;
}

size_t scan_rules_provider(struct gh_slice v, struct scan_hit *hits, size_t cap)
{
    pthread_once(&compile_once, compile_all);
    if (v.len == 0)
        return 0;
    pcre2_match_data *md = pcre2_match_data_create(4, NULL);
    GH_BUG_ON(!md);
    size_t n = 0;
    for (size_t i = 0; i < GH_ARRAY_LEN(PROVIDERS) && n < cap; i++)
        n = match_provider(&PROVIDERS[i], md, v, hits, n, cap);
    pcre2_match_data_free(md);
    return n;
}

/* Same classes Codex strips from a shell's environment, plus the usual header names. */
static const char *const KEY_HINTS[] = {
    "key",  "token",   "secret", "passw",   "pwd",    "auth",      "credential",
    "cred", "private", "bearer", "session", "cookie", "signature", "pass",
};

bool scan_rules_key_hinted(struct gh_slice key)
{
    for (size_t i = 0; i < GH_ARRAY_LEN(KEY_HINTS); i++)
        if (has_ci(key, KEY_HINTS[i]))
            return true;
    return false;
}

/* "Bearer X", "Basic X", "token X": the credential is X. */
static struct gh_slice strip_scheme(struct gh_slice v)
{
    static const char *const SCHEMES[] = {"bearer ", "basic ",  "token ",
                                          "bot ",    "apikey ", "dpop "};
    for (size_t i = 0; i < GH_ARRAY_LEN(SCHEMES); i++)
        if (starts_ci(v, SCHEMES[i])) {
            size_t n = strlen(SCHEMES[i]);
            return gh_slice_trim(gh_slice(v.ptr + n, v.len - n));
        }
    return v;
}

static bool token_charset(struct gh_slice v, bool allow_slash)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '+' || c == '=' || c == '.' || c == '~' ||
                  (allow_slash && c == '/');
        if (!ok)
            return false;
    }
    return true;
}

static bool letters_and_digits(struct gh_slice v)
{
    bool l = false, d = false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        l |= (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        d |= c >= '0' && c <= '9';
    }
    return l && d;
}

/* AWS secrets have no prefix: only a key naming them makes a 40-character value one. */
static bool aws_secret(const char *key, size_t key_len, struct gh_slice v)
{
    struct gh_slice k = gh_slice(key ? key : "", key ? key_len : 0);
    if (!has_ci(k, "aws") || !has_ci(k, "secret") || v.len != 40)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '+'))
            return false;
    }
    return gh_scan_entropy(v.ptr, v.len) >= 3.0;
}

const char *scan_rules_generic(const char *key, size_t key_len, struct gh_slice v, bool hinted,
                               struct gh_slice *secret)
{
    v = strip_scheme(gh_slice_trim(v));
    *secret = v;
    if (gh_scan_is_placeholder(v))
        return NULL;
    if (aws_secret(key, key_len, v))
        return "aws-secret-access-key";
    if (has(v, "://") || has(v, "@"))
        return NULL; /* URLs and addresses: their parts are judged on their own */
    if (v.ptr[0] == '/' || v.ptr[0] == '~' || v.ptr[0] == '.')
        return NULL; /* a path (GOOGLE_APPLICATION_CREDENTIALS=/x/key.json): the file is
                        the secret, not its name */
    double h = gh_scan_entropy(v.ptr, v.len);
    /* Named like a credential: gitleaks' generic-api-key thresholds (entropy 3.5, 10+ chars). */
    if (hinted)
        return v.len >= 10 && v.len <= 4096 && token_charset(v, true) && h >= 3.5
                   ? "generic-api-key"
                   : NULL;
    /* Not named like one: only long random-looking tokens (no paths, no dotted names). */
    if (v.len < 20 || v.len > 4096 || !token_charset(v, false) || has(v, ".") ||
        !letters_and_digits(v))
        return NULL;
    return h >= 4.0 ? "generic-api-key" : NULL;
}

const char *gh_scan_match(struct gh_slice v, const char *key, bool generic)
{
    struct scan_hit hits[SCAN_MAX_HITS];
    if (scan_rules_provider(v, hits, SCAN_MAX_HITS) > 0)
        return hits[0].rule;
    if (!generic)
        return NULL;
    struct gh_slice k = gh_slice_cstr(key);
    struct gh_slice secret;
    return scan_rules_generic(k.ptr, k.len, v, key && scan_rules_key_hinted(k), &secret);
}
