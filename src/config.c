/*
 * config.c - INI configuration via libinih.
 *
 * Options are described by one table: section, name, type, where in
 * pb_config the value goes, and its default. The same table loads, defaults
 * and prints, so the three can never disagree.
 */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cron.h"
#include "log.h"

enum opt_type {
    OPT_STR,
    OPT_PATH,
    OPT_PATHS,
    OPT_LONG,
    OPT_WORKERS, /* a count, or "auto" */
    OPT_SIZE,
    OPT_MODE,
    OPT_LEVEL,
    OPT_FORMAT
};

typedef struct opt {
    const char *section;
    const char *name;
    enum opt_type type;
    size_t offset;
    const char *def;
    long min, max; /* for OPT_LONG and OPT_SIZE */
} opt;

#define OFF(f) offsetof(pb_config, f)
#define GiB    (1024L * 1024 * 1024)

static const opt options[] = {
    {"server", "socket", OPT_PATH, OFF(socket), "var/run/plugboard.sock", 0, 0},
    {"server", "socket_mode", OPT_MODE, OFF(socket_mode), "0660", 0, 0},
    {"server", "socket_group", OPT_STR, OFF(socket_group), "", 0, 0},
    {"server", "control_socket", OPT_PATH, OFF(control_socket), "var/run/plugboard.ctl", 0, 0},
    {"server", "pidfile", OPT_PATH, OFF(pidfile), "var/run/plugboard.pid", 0, 0},
    {"server", "workers", OPT_WORKERS, OFF(workers), "auto", 1, 256},
    {"server", "max_requests", OPT_LONG, OFF(max_requests), "10000", 0, LONG_MAX},
    {"server", "request_timeout", OPT_LONG, OFF(request_timeout), "30", 1, 86400},
    {"server", "drain_timeout", OPT_LONG, OFF(drain_timeout), "10", 1, 3600},
    {"server", "reload_overlap", OPT_LONG, OFF(reload_overlap), "2", 2, 16},
    {"server", "tmp_dir", OPT_PATH, OFF(tmp_dir), "var/tmp", 0, 0},
    {"server", "malloc_tcache", OPT_LONG, OFF(malloc_tcache), "512", 0, 65535},
    {"modules", "path", OPT_PATHS, OFF(module_path), "modules", 0, 0},
    {"modules", "enabled", OPT_STR, OFF(modules_enabled), "*", 0, 0},
    {"modules", "state_file", OPT_PATH, OFF(modules_state), "var/modules.disabled", 0, 0},
    {"modules", "quarantine_crashes", OPT_LONG, OFF(quarantine_crashes), "5", 1, 1000},
    {"modules", "quarantine_window", OPT_LONG, OFF(quarantine_window), "60", 1, 86400},
    {"modules", "start_timeout", OPT_LONG, OFF(start_timeout), "30", 1, 600},
    {"modules", "probation", OPT_LONG, OFF(probation), "30", 0, 3600},
    {"modules", "quarantine_release", OPT_LONG, OFF(quarantine_release), "60", 0, 86400},
    {"modules", "core", OPT_STR, OFF(modules_core), "auth system", 0, 0},
    {"templates", "path", OPT_PATHS, OFF(template_path), "templates", 0, 0},
    {"limits", "body_max", OPT_SIZE, OFF(limits.body_max), "10M", 0, GiB},
    {"limits", "fields_max", OPT_SIZE, OFF(limits.fields_max), "256", 1, 100000},
    {"limits", "name_max", OPT_SIZE, OFF(limits.name_max), "256", 1, 65536},
    {"limits", "value_max", OPT_SIZE, OFF(limits.value_max), "64k", 1, GiB},
    {"limits", "upload_max", OPT_SIZE, OFF(limits.upload_max), "8M", 0, GiB},
    {"limits", "uploads_max", OPT_SIZE, OFF(limits.uploads_max), "8", 0, 1000},
    {"database", "conninfo", OPT_STR, OFF(conninfo), "dbname=plugboard", 0, 0},
    {"database", "owner_conninfo", OPT_STR, OFF(owner_conninfo), "dbname=plugboard", 0, 0},
    {"database", "migrations", OPT_PATHS, OFF(migrations), "sql", 0, 0},
    {"database", "app_role", OPT_STR, OFF(app_role), "plugboard_app", 0, 0},
    {"database", "statement_timeout", OPT_LONG, OFF(statement_timeout), "10", 1, 86400},
    {"session", "cookie", OPT_STR, OFF(session_cookie), "pb_session", 0, 0},
    {"session", "idle_timeout", OPT_LONG, OFF(session_idle), "28800", 60, 31536000},
    {"session", "lifetime", OPT_LONG, OFF(session_lifetime), "2592000", 60, 31536000},
    {"ratelimit", "login_attempts", OPT_LONG, OFF(login_attempts), "10", 1, 10000},
    {"ratelimit", "login_window", OPT_LONG, OFF(login_window), "900", 1, 86400},
    {"ratelimit", "reset_attempts", OPT_LONG, OFF(reset_attempts), "5", 1, 10000},
    {"ratelimit", "reset_window", OPT_LONG, OFF(reset_window), "3600", 1, 86400},
    {"ratelimit", "api_writes", OPT_LONG, OFF(api_writes), "600", 1, 1000000},
    {"ratelimit", "api_window", OPT_LONG, OFF(api_window), "60", 1, 86400},
    {"site", "public_url", OPT_STR, OFF(public_url), "http://127.0.0.1:8080", 0, 0},
    {"api", "key_file", OPT_PATH, OFF(api_key_file), "var/api.key", 0, 0},
    {"api", "access_ttl", OPT_LONG, OFF(access_ttl), "900", 30, 86400},
    {"api", "refresh_ttl", OPT_LONG, OFF(refresh_ttl), "2592000", 300, 31536000},
    {"mail", "smtp_url", OPT_STR, OFF(smtp_url), "smtp://127.0.0.1:25", 0, 0},
    {"mail", "from", OPT_STR, OFF(mail_from), "plugboard@localhost", 0, 0},
    {"mail", "max_attempts", OPT_LONG, OFF(mail_attempts), "8", 1, 100},
    {"mail", "timeout", OPT_LONG, OFF(mail_timeout), "30", 1, 600},
    {"scheduler", "timezone", OPT_STR, OFF(sched_timezone), "UTC", 0, 0},
    {"scheduler", "concurrency", OPT_LONG, OFF(sched_concurrency), "2", 1, 64},
    {"scheduler", "job_timeout", OPT_LONG, OFF(job_timeout), "300", 1, 86400},
    {"scheduler", "max_attempts", OPT_LONG, OFF(job_max_attempts), "5", 1, 100},
    {"backups", "folder", OPT_PATH, OFF(backup_folder), "var/backups", 0, 0},
    {"backups", "keep", OPT_LONG, OFF(backup_keep), "7", 1, 10000},
    {"backups", "pg_bin", OPT_PATH, OFF(pg_bin), "/usr/lib/postgresql/15/bin", 0, 0},
    {"redis", "socket", OPT_PATH, OFF(redis_socket), "", 0, 0},
    {"redis", "host", OPT_STR, OFF(redis_host), "127.0.0.1", 0, 0},
    {"redis", "port", OPT_LONG, OFF(redis_port), "6379", 1, 65535},
    {"redis", "timeout", OPT_LONG, OFF(redis_timeout), "2", 1, 60},
    {"log", "level", OPT_LEVEL, OFF(log_level), "info", 0, 0},
    {"log", "format", OPT_FORMAT, OFF(log_format), "text", 0, 0},
    {"log", "file", OPT_PATH, OFF(log_file), "", 0, 0},
};

#define NOPTIONS (sizeof options / sizeof options[0])

/* ---------------------------------------------------------------------
 * Value parsing
 * --------------------------------------------------------------------- */

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "10M" -> 10485760. Suffixes k, M, G are powers of 1024. */
static int parse_size(const char *s, long min, long max, size_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0)
        return -1;
    long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mul = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mul = 1024LL * 1024 * 1024, end++;
    if (*end != '\0' || v > LLONG_MAX / mul || v * mul < min || v * mul > max)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

/* Joins a relative path onto base's folder; absolute paths stay. */
static char *resolve_path(const char *base_dir, const char *p, size_t n)
{
    if (n == 0)
        return strdup("");
    if (p[0] == '/' || base_dir == NULL)
        return strndup(p, n);
    size_t bl = strlen(base_dir);
    char *out = malloc(bl + n + 2);
    if (out) {
        memcpy(out, base_dir, bl);
        out[bl] = '/';
        memcpy(out + bl + 1, p, n);
        out[bl + 1 + n] = '\0';
    }
    return out;
}

typedef struct paths_ctx {
    const char *base;
    char *out;
    size_t len;
} paths_ctx;

static int append_path(const char *w, size_t n, void *vctx)
{
    paths_ctx *ctx = vctx;
    char *p = resolve_path(ctx->base, w, n);
    if (p == NULL)
        return -1;
    size_t pl = strlen(p);
    char *grown = realloc(ctx->out, ctx->len + pl + 2);
    if (grown == NULL) {
        free(p);
        return -1;
    }
    ctx->out = grown;
    if (ctx->len)
        ctx->out[ctx->len++] = ' ';
    memcpy(ctx->out + ctx->len, p, pl + 1);
    ctx->len += pl;
    free(p);
    return 0;
}

int pb_config_each_word(const char *list, int (*fn)(const char *w, size_t n, void *ctx), void *ctx)
{
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, " \t,");
        if (n > 0) {
            int rc = fn(p, n, ctx);
            if (rc)
                return rc;
        }
        p += n;
    }
    return 0;
}

/* Sets one option from text. Returns 0, or -1 with a reason in err. */
static int opt_set(pb_config *c, const opt *o, const char *value, const char *base_dir, char *err,
                   size_t errlen)
{
    void *field = (char *)c + o->offset;
    char *s = NULL;
    switch (o->type) {
    case OPT_STR:
        s = strdup(value);
        break;
    case OPT_PATH:
        s = resolve_path(base_dir, value, strlen(value));
        break;
    case OPT_PATHS: {
        paths_ctx pc = {base_dir, NULL, 0};
        if (pb_config_each_word(value, append_path, &pc) != 0) {
            free(pc.out);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        s = pc.out ? pc.out : strdup("");
        break;
    }
    case OPT_WORKERS:
        if (strcmp(value, "auto") == 0) {
            /* Measured with script/bench on 2 cores: three workers per core
             * keep the CPUs busy while pages wait on PostgreSQL and Redis. */
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            long n = 3 * (cpus > 0 ? cpus : 1);
            *(long *)field = n < o->min ? o->min : n > o->max ? o->max : n;
            return 0;
        }
        /* fall through */
    case OPT_LONG:
        if (parse_long(value, o->min, o->max, field) < 0) {
            snprintf(err, errlen, "expects %sa whole number from %ld to %ld, not \"%s\"",
                     o->type == OPT_WORKERS ? "auto or " : "", o->min, o->max, value);
            return -1;
        }
        return 0;
    case OPT_SIZE:
        if (parse_size(value, o->min, o->max, field) < 0) {
            snprintf(err, errlen,
                     "expects a size such as 512, 64k or 10M (%ld to %ld bytes), not \"%s\"",
                     o->min, o->max, value);
            return -1;
        }
        return 0;
    case OPT_MODE: {
        char *end;
        unsigned long m = strtoul(value, &end, 8);
        if (*value == '\0' || *end != '\0' || m > 0777) {
            snprintf(err, errlen, "expects octal permission bits such as 0660, not \"%s\"", value);
            return -1;
        }
        *(unsigned *)field = (unsigned)m;
        return 0;
    }
    case OPT_LEVEL: {
        int l = pb_log_level_parse(value);
        if (l < 0) {
            snprintf(err, errlen, "expects error, warn, info or debug, not \"%s\"", value);
            return -1;
        }
        *(int *)field = l;
        return 0;
    }
    case OPT_FORMAT:
        if (strcmp(value, "text") == 0)
            *(int *)field = PB_LOG_TEXT;
        else if (strcmp(value, "json") == 0)
            *(int *)field = PB_LOG_JSON;
        else {
            snprintf(err, errlen, "expects text or json, not \"%s\"", value);
            return -1;
        }
        return 0;
    }
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(*(char **)field);
    *(char **)field = s;
    return 0;
}

int pb_config_defaults(pb_config *c)
{
    memset(c, 0, sizeof *c);
    char err[256];
    for (size_t i = 0; i < NOPTIONS; i++)
        if (opt_set(c, &options[i], options[i].def, NULL, err, sizeof err) < 0)
            return -1;
    return 0;
}

/* ---------------------------------------------------------------------
 * Loading
 * --------------------------------------------------------------------- */

typedef struct load_ctx {
    pb_config *c;
    const char *base_dir;
    int line;
    char err[300];
} load_ctx;

static int on_ini_value(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *ctx = user;
    for (size_t i = 0; i < NOPTIONS; i++) {
        const opt *o = &options[i];
        if (strcmp(o->section, section) != 0 || strcmp(o->name, name) != 0)
            continue;
        char why[256];
        if (opt_set(ctx->c, o, value, ctx->base_dir, why, sizeof why) < 0) {
            snprintf(ctx->err, sizeof ctx->err, "[%s] %s %s", section, name, why);
            return 0;
        }
        return 1;
    }
    snprintf(ctx->err, sizeof ctx->err, "unknown option [%s] %s", section, name);
    return 0;
}

int pb_config_load(pb_config *c, const char *path, char *err, size_t errlen)
{
    char *dir = strdup(path);
    if (dir == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        strcpy(dir, ".");
    load_ctx ctx = {c, dir, 0, ""};
    int rc = ini_parse(path, on_ini_value, &ctx);
    free(dir);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    if (rc > 0) {
        snprintf(err, errlen, "%s:%d: %s", path, rc, ctx.err[0] ? ctx.err : "syntax error");
        return -1;
    }
    free(c->file);
    c->file = strdup(path);
    /* [site] public_url is documented without the trailing slash: forgive
     * it here, once, so reading the value never changes it. */
    for (size_t n = strlen(c->public_url); n > 0 && c->public_url[n - 1] == '/';)
        c->public_url[--n] = '\0';
    return pb_config_validate(c, err, errlen);
}

int pb_config_validate(const pb_config *c, char *err, size_t errlen)
{
    if (c->limits.upload_max > c->limits.body_max) {
        snprintf(err, errlen, "[limits] upload_max (%zu) is larger than body_max (%zu)",
                 c->limits.upload_max, c->limits.body_max);
        return -1;
    }
    if (c->limits.value_max > c->limits.body_max) {
        snprintf(err, errlen, "[limits] value_max (%zu) is larger than body_max (%zu)",
                 c->limits.value_max, c->limits.body_max);
        return -1;
    }
    if (c->socket[0] == '\0' || c->pidfile[0] == '\0' || c->control_socket[0] == '\0') {
        snprintf(err, errlen, "[server] socket, control_socket and pidfile must be set");
        return -1;
    }
    if (!pb_cron_zone_valid(c->sched_timezone)) {
        snprintf(err, errlen,
                 "[scheduler] timezone \"%s\" is not a time zone name (such as UTC "
                 "or Europe/Berlin)",
                 c->sched_timezone);
        return -1;
    }
    return 0;
}

void pb_config_print(const pb_config *c, FILE *f)
{
    static const char *const levels[] = {"error", "warn", "info", "debug"};
    const char *section = "";
    for (size_t i = 0; i < NOPTIONS; i++) {
        const opt *o = &options[i];
        const void *field = (const char *)c + o->offset;
        if (strcmp(section, o->section) != 0) {
            fprintf(f, "%s[%s]\n", i ? "\n" : "", o->section);
            section = o->section;
        }
        fprintf(f, "%s = ", o->name);
        switch (o->type) {
        case OPT_STR:
        case OPT_PATH:
        case OPT_PATHS:
            fprintf(f, "%s\n", *(char *const *)field);
            break;
        case OPT_LONG:
        case OPT_WORKERS:
            fprintf(f, "%ld\n", *(const long *)field);
            break;
        case OPT_SIZE:
            fprintf(f, "%zu\n", *(const size_t *)field);
            break;
        case OPT_MODE:
            fprintf(f, "%04o\n", *(const unsigned *)field);
            break;
        case OPT_LEVEL:
            fprintf(f, "%s\n", levels[*(const int *)field]);
            break;
        case OPT_FORMAT:
            fprintf(f, "%s\n", *(const int *)field == PB_LOG_JSON ? "json" : "text");
            break;
        }
    }
}

void pb_config_free(pb_config *c)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        const opt *o = &options[i];
        if (o->type == OPT_STR || o->type == OPT_PATH || o->type == OPT_PATHS)
            free(*(char **)((char *)c + o->offset));
    }
    free(c->file);
    memset(c, 0, sizeof *c);
}
