/*
 * cli/connect_store.c owns the token file of `gatehouse connect`: one JSON file per MCP server
 * URL under $XDG_CONFIG_HOME/gatehouse/tokens/ (default ~/.config/gatehouse/tokens/), the
 * directory 0700 and the file 0600, written to a temporary file and renamed so a crash never
 * leaves half a token. A file that others can read, or that is not ours, is refused: it may have
 * been tampered with and its tokens may have leaked.
 */
#include "core/core.h"
#include "cli/connect_internal.h"
#include "json/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_FILE_MAX (64u << 10)

void ghc_token_release(struct ghc_token *t)
{
    gh_free(&t->url);
    gh_free(&t->resource);
    gh_free(&t->issuer);
    gh_free(&t->client_id);
    gh_free(&t->token_endpoint);
    gh_free(&t->access_token);
    gh_free(&t->refresh_token);
    t->expires_at = 0;
}

enum gh_rc ghc_store_dir(char *out, size_t n)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int w;
    if (xdg && xdg[0] == '/')
        w = snprintf(out, n, "%s/gatehouse/tokens", xdg);
    else if (home && home[0] == '/')
        w = snprintf(out, n, "%s/.config/gatehouse/tokens", home);
    else
        return GH_E_DECLINED;
    return w > 0 && (size_t)w < n ? GH_OK : GH_E_LIMIT;
}

enum gh_rc ghc_store_path(const char *url, char *out, size_t n)
{
    char dir[3072];
    if (ghc_store_dir(dir, sizeof(dir)) != GH_OK)
        return GH_E_DECLINED;
    unsigned char d[32];
    char hex[65];
    gh_sha256(url, strlen(url), d);
    gh_hex_encode(d, 16, hex); /* the URL itself may hold characters a file name cannot */
    int w = snprintf(out, n, "%s/%s.json", dir, hex);
    return w > 0 && (size_t)w < n ? GH_OK : GH_E_LIMIT;
}

/* mkdir -p with 0700 for what it creates; an existing tokens directory is tightened. */
static enum gh_rc make_dirs(const char *dir)
{
    char p[3072];
    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST)
            return GH_E_IO;
        *s = '/';
    }
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return GH_E_IO;
    return chmod(p, 0700) == 0 ? GH_OK : GH_E_IO;
}

static char *member(const struct gh_json_doc *d, struct gh_arena *a, const char *name)
{
    int32_t t = gh_json_obj_get(d, 0, name, strlen(name));
    struct gh_slice s;
    if (t < 0 || gh_json_str(d, a, (uint32_t)t, &s) != GH_OK || memchr(s.ptr, '\0', s.len))
        return NULL;
    return gh_xstrndup(s.ptr, s.len);
}

/* Reads the file behind fd (checked: ours, 0600, regular) into buf; its length or -1. */
static ssize_t read_checked(int fd, const char *path, char *buf, size_t cap)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "gatehouse connect: %s: not a regular file; ignored\n", path);
        return -1;
    }
    if (st.st_uid != getuid() || (st.st_mode & 077)) {
        fprintf(stderr,
                "gatehouse connect: %s: readable by others or not owned by you; ignored "
                "(remove it, and consider the tokens in it leaked)\n",
                path);
        return -1;
    }
    ssize_t n = read(fd, buf, cap);
    return n >= 0 && (size_t)n < cap ? n : -1;
}

enum gh_rc ghc_store_load(struct ghc_token *t)
{
    char path[3200];
    if (ghc_store_path(t->url, path, sizeof(path)) != GH_OK)
        return GH_E_DECLINED;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return GH_E_DECLINED;
    char *buf = gh_xmalloc(STORE_FILE_MAX);
    ssize_t n = read_checked(fd, path, buf, STORE_FILE_MAX);
    close(fd);
    struct gh_arena *a = gh_arena_new(4096);
    struct gh_json_doc d;
    enum gh_rc rc = GH_E_DECLINED;
    if (n < 0 || gh_json_parse(a, buf, (size_t)n, NULL, &d, NULL) != GH_OK ||
        d.toks[0].type != GH_JSON_OBJECT) {
        if (n >= 0)
            fprintf(stderr, "gatehouse connect: %s: not a token file; ignored\n", path);
        goto out;
    }
    char *url = member(&d, a, "url");
    bool same = url && strcmp(url, t->url) == 0;
    free(url);
    if (!same)
        goto out; /* a hash collision or a copied file: not this server's */
    t->resource = member(&d, a, "resource");
    t->issuer = member(&d, a, "issuer");
    t->client_id = member(&d, a, "client_id");
    t->token_endpoint = member(&d, a, "token_endpoint");
    t->access_token = member(&d, a, "access_token");
    t->refresh_token = member(&d, a, "refresh_token");
    int32_t e = gh_json_obj_get(&d, 0, "expires_at", 10);
    if (e < 0 || gh_json_int64(&d, (uint32_t)e, &t->expires_at) != GH_OK)
        t->expires_at = 0;
    rc = t->access_token || t->refresh_token ? GH_OK : GH_E_DECLINED;
out:
    gh_arena_free(a);
    free(buf);
    return rc;
}

static void put(struct gh_buf *b, const char *name, const char *v, bool *first)
{
    if (!v)
        return;
    gh_buf_puts(b, *first ? "{" : ",");
    *first = false;
    gh_json_write_str(b, name, strlen(name));
    gh_buf_puts(b, ":");
    gh_json_write_str(b, v, strlen(v));
}

static enum gh_rc write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return GH_E_IO;
        p += w;
        n -= (size_t)w;
    }
    return GH_OK;
}

enum gh_rc ghc_store_save(const struct ghc_token *t)
{
    char dir[3072], path[3200], tmp[3300];
    if (ghc_store_dir(dir, sizeof(dir)) != GH_OK || ghc_store_path(t->url, path, sizeof(path)) ||
        make_dirs(dir) != GH_OK) {
        fprintf(stderr, "gatehouse connect: cannot create the token directory (set HOME or "
                        "XDG_CONFIG_HOME); the token is kept for this run only\n");
        return GH_E_IO;
    }
    struct gh_buf b;
    gh_buf_init(&b, STORE_FILE_MAX);
    bool first = true;
    put(&b, "url", t->url, &first);
    put(&b, "resource", t->resource, &first);
    put(&b, "issuer", t->issuer, &first);
    put(&b, "client_id", t->client_id, &first);
    put(&b, "token_endpoint", t->token_endpoint, &first);
    put(&b, "access_token", t->access_token, &first);
    put(&b, "refresh_token", t->refresh_token, &first);
    gh_buf_appendf(&b, ",\"expires_at\":%lld}\n", (long long)t->expires_at);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    enum gh_rc rc = GH_E_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
        rc = write_all(fd, b.data, b.len);
        if (rc == GH_OK && fsync(fd) != 0)
            rc = GH_E_IO;
        close(fd);
        if (rc == GH_OK && rename(tmp, path) != 0)
            rc = GH_E_IO;
        if (rc != GH_OK)
            unlink(tmp);
    }
    if (rc != GH_OK)
        fprintf(stderr, "gatehouse connect: cannot write %s: %s\n", path, strerror(errno));
    gh_buf_release(&b);
    return rc;
}
