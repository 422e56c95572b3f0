/*
 * core/log.c owns the operational log: one line per event on stderr, with time, level, module.
 * Callers never pass secrets; control characters in the message are escaped so a hostile value
 * cannot forge lines or terminal sequences (CVE-2009-4487).
 */
#include "core/core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static _Atomic int log_level = GH_LOG_INFO;

void gh_log_set_level(enum gh_log_level lvl)
{
    atomic_store(&log_level, (int)lvl);
}

enum gh_log_level gh_log_get_level(void)
{
    return (enum gh_log_level)atomic_load(&log_level);
}

enum gh_rc gh_log_level_parse(const char *s, enum gh_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (size_t i = 0; i < GH_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum gh_log_level)i;
            return GH_OK;
        }
    }
    return GH_E_PARSE;
}

static void log_write(enum gh_log_level lvl, const char *module, const char *fmt, va_list ap)
{
    static const char *tags[] = {"error", "warn", "info", "debug"};
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    char line[2048 * 4 + 128];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t o = strftime(line, 64, "%Y-%m-%dT%H:%M:%S", &tm);
    o += (size_t)snprintf(line + o, 96, ".%03ldZ %s %s: ", ts.tv_nsec / 1000000, tags[lvl], module);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            o += (size_t)snprintf(line + o, 5, "\\x%02x", *p);
        else
            line[o++] = (char)*p;
    }
    line[o++] = '\n';
    fwrite(line, 1, o, stderr);
}

void gh_log(enum gh_log_level lvl, const char *module, const char *fmt, ...)
{
    if ((int)lvl > atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_write(lvl, module, fmt, ap);
    va_end(ap);
}

void gh_log_always(enum gh_log_level lvl, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_write(lvl, module, fmt, ap);
    va_end(ap);
}
