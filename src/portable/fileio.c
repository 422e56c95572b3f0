/*
 * portable/fileio.c owns touching client files: reading one whole (capped), replacing one
 * atomically with a backup first and its mode kept (a client file may hold the user's only copy
 * of other settings: never leave it half written), and the unified diff a dry run prints.
 */
#include "portable/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum gh_rc gh_portable_read_file(const char *path, char **out, size_t *len,
                                 struct gh_portable_err *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return gh_perr(err, GH_E_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = gh_xmalloc(GH_PORTABLE_MAX_FILE + 2);
    size_t n = fread(buf, 1, GH_PORTABLE_MAX_FILE + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > GH_PORTABLE_MAX_FILE) {
        free(buf);
        return bad ? gh_perr(err, GH_E_IO, "%s: read error", path)
                   : gh_perr(err, GH_E_LIMIT, "%s: larger than %u bytes", path,
                             GH_PORTABLE_MAX_FILE);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return GH_OK;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Writes data to a new temporary file next to path with mode, then renames it over path. */
static enum gh_rc replace(const char *path, const char *data, size_t len, mode_t mode,
                          struct gh_portable_err *err)
{
    size_t pl = strlen(path);
    char *tmp = gh_xmalloc(pl + 16);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp.XXXXXX", 12);
    enum gh_rc rc = GH_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        rc = gh_perr(err, GH_E_IO, "%s: cannot create a temporary file next to it: %s", path,
                     strerror(errno));
        goto out;
    }
    if (fchmod(fd, mode) != 0 || !write_all(fd, data, len) || fsync(fd) != 0) {
        rc = gh_perr(err, GH_E_IO, "%s: cannot write: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rc = gh_perr(err, GH_E_IO, "%s: cannot replace: %s", path, strerror(errno));
        unlink(tmp);
    }
out:
    free(tmp);
    return rc;
}

/* path.bak, or path.<seconds>.bak when that exists: an earlier backup is never overwritten. */
static enum gh_rc backup_copy(const char *path, mode_t mode, char *name, size_t n,
                              struct gh_portable_err *err)
{
    char *old = NULL;
    size_t len = 0;
    enum gh_rc rc = gh_portable_read_file(path, &old, &len, err);
    if (rc)
        return rc;
    snprintf(name, n, "%s.bak", path);
    struct stat st;
    for (int i = 0; lstat(name, &st) == 0 && i < 100; i++)
        snprintf(name, n, "%s.%lld%s%d.bak", path, (long long)time(NULL), i ? "-" : "", i);
    int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0600);
    if (fd < 0) {
        rc = gh_perr(err, GH_E_IO, "%s: cannot create: %s", name, strerror(errno));
    } else {
        if (!write_all(fd, old, len) || fsync(fd) != 0)
            rc = gh_perr(err, GH_E_IO, "%s: cannot write: %s", name, strerror(errno));
        close(fd);
    }
    free(old);
    return rc;
}

enum gh_rc gh_portable_write_file(const char *path, const char *data, size_t len, bool backup,
                                  char *backup_out, size_t n, struct gh_portable_err *err)
{
    struct stat st;
    mode_t mode = 0600; /* a new client file may later hold secrets: private by default */
    bool exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode))
        return gh_perr(err, GH_E_IO, "%s: not a regular file", path);
    if (exists)
        mode = st.st_mode & 07777;
    if (backup_out && n)
        backup_out[0] = '\0';
    if (exists && backup) {
        char name[4096];
        enum gh_rc rc = backup_copy(path, mode, name, sizeof(name), err);
        if (rc)
            return rc;
        if (backup_out)
            snprintf(backup_out, n, "%s", name);
    }
    return replace(path, data, len, mode, err);
}

/* ---- unified diff: one hunk spanning the changed lines ---- */

struct lines {
    const char **p;
    size_t *n;
    size_t count;
};

static void split(const char *s, size_t len, struct lines *l)
{
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += s[i] == '\n';
    l->p = gh_xcalloc(cap, sizeof(*l->p));
    l->n = gh_xcalloc(cap, sizeof(*l->n));
    l->count = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && s[j] != '\n')
            j++;
        l->p[l->count] = s + i;
        l->n[l->count++] = j < len ? j - i + 1 : j - i;
        i = j + 1;
    }
}

static bool same(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
    return a->n[i] == b->n[j] && memcmp(a->p[i], b->p[j], a->n[i]) == 0;
}

static enum gh_rc put_line(struct gh_buf *out, char tag, const char *p, size_t n)
{
    enum gh_rc rc = gh_buf_append(out, &tag, 1);
    if (rc == GH_OK)
        rc = gh_buf_append(out, p, n);
    if (rc == GH_OK && (n == 0 || p[n - 1] != '\n'))
        rc = gh_buf_puts(out, "\n\\ No newline at end of file\n");
    return rc;
}

enum gh_rc gh_portable_diff(const char *name, const char *a, size_t alen, const char *b,
                            size_t blen, struct gh_buf *out)
{
    if (alen == blen && memcmp(a, b, alen) == 0)
        return GH_OK;
    struct lines la, lb;
    split(a, alen, &la);
    split(b, blen, &lb);
    size_t pre = 0, suf = 0;
    while (pre < la.count && pre < lb.count && same(&la, pre, &lb, pre))
        pre++;
    while (suf < la.count - pre && suf < lb.count - pre &&
           same(&la, la.count - 1 - suf, &lb, lb.count - 1 - suf))
        suf++;
    size_t ctx0 = pre > 3 ? pre - 3 : 0, ctx1 = GH_MIN(suf, 3);
    size_t a0 = ctx0, a1 = la.count - suf + ctx1, b1 = lb.count - suf + ctx1;
    enum gh_rc rc = gh_buf_appendf(out, "--- %s\n+++ %s (migrated)\n@@ -%zu,%zu +%zu,%zu @@\n",
                                   name, name, a0 + (a1 > a0), a1 - a0, a0 + (b1 > a0), b1 - a0);
    for (size_t i = ctx0; rc == GH_OK && i < pre; i++)
        rc = put_line(out, ' ', la.p[i], la.n[i]);
    for (size_t i = pre; rc == GH_OK && i < la.count - suf; i++)
        rc = put_line(out, '-', la.p[i], la.n[i]);
    for (size_t i = pre; rc == GH_OK && i < lb.count - suf; i++)
        rc = put_line(out, '+', lb.p[i], lb.n[i]);
    for (size_t i = la.count - suf; rc == GH_OK && i < a1; i++)
        rc = put_line(out, ' ', la.p[i], la.n[i]);
    free(la.p);
    free(la.n);
    free(lb.p);
    free(lb.n);
    return rc;
}
