/*
 * migrate.c - applying numbered SQL migrations.
 */
#include "migrate.h"

#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "module.h"

/* Any fixed key: all runners of this database contend for the same lock. */
#define MIGRATE_LOCK_KEY "7213567101"

static const char bootstrap_sql[] = "CREATE SCHEMA IF NOT EXISTS core;"
                                    "CREATE TABLE IF NOT EXISTS core.migrations ("
                                    "  module text NOT NULL,"
                                    "  version integer NOT NULL,"
                                    "  name text NOT NULL,"
                                    "  checksum text NOT NULL,"
                                    "  applied_at timestamptz NOT NULL DEFAULT now(),"
                                    "  PRIMARY KEY (module, version))";

typedef struct migration {
    char module[64];
    int version;
    char name[128];
    char path[2600];
} migration;

typedef struct mlist {
    migration *v;
    size_t n, cap;
    char *err;
    size_t errlen;
} mlist;

static int exec_ok(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
                   size_t errlen)
{
    /* Without parameters, PQexec: it runs several ;-separated statements. */
    PGresult *r =
        nparams ? PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* "012_add_index.sql" -> 12, "add_index". Returns 0, or -1 for a file
 * that is not a migration. */
static int parse_name(const char *file, int *version, char *name, size_t n)
{
    size_t len = strlen(file), digits = strspn(file, "0123456789");
    if (digits == 0 || digits > 6 || file[digits] != '_' || len < digits + 6 ||
        strcmp(file + len - 4, ".sql") != 0)
        return -1;
    *version = atoi(file);
    snprintf(name, n, "%.*s", (int)(len - digits - 5), file + digits + 1);
    return 0;
}

static int add_migration(mlist *l, const char *module, const char *dir, const char *file)
{
    int version;
    char name[128];
    if (parse_name(file, &version, name, sizeof name) < 0)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        migration *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    migration *m = &l->v[l->n++];
    snprintf(m->module, sizeof m->module, "%.63s", module);
    m->version = version;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->path, sizeof m->path, "%s/%s", dir, file);
    return 0;
}

static int scan_folder(const char *w, size_t n, void *vctx)
{
    mlist *l = vctx;
    char root[2048];
    snprintf(root, sizeof root, "%.*s", (int)n, w);
    DIR *d = opendir(root);
    if (d == NULL)
        return 0; /* a folder that does not exist holds no migrations */
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char dir[2320];
        snprintf(dir, sizeof dir, "%s/%s", root, de->d_name);
        DIR *md = opendir(dir);
        if (md == NULL)
            continue;
        struct dirent *fe;
        while ((fe = readdir(md)) != NULL)
            if (add_migration(l, de->d_name, dir, fe->d_name) < 0) {
                closedir(md);
                closedir(d);
                return -1;
            }
        closedir(md);
    }
    closedir(d);
    return 0;
}

/* Modules in name order, each module's files in version order. */
static int by_module_version(const void *a, const void *b)
{
    const migration *x = a, *y = b;
    /* The host's own "core" first: every module may refer to it. */
    int xc = strcmp(x->module, "core") == 0, yc = strcmp(y->module, "core") == 0;
    if (xc != yc)
        return yc - xc;
    int c = strcmp(x->module, y->module);
    return c ? c : x->version - y->version;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    pb_buf b = PB_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (pb_buf_append(&b, chunk, n) < 0)
            break;
    fclose(f);
    *len = b.len;
    return (char *)pb_buf_cstr(&b);
}

/* Replaces every @app_role@ with the quoted role name. */
static char *substitute_role(PGconn *c, const char *sql, const char *role)
{
    char *quoted = PQescapeIdentifier(c, role, strlen(role));
    if (quoted == NULL)
        return NULL;
    pb_buf b = PB_BUF_INIT;
    const char *p = sql, *hit;
    while ((hit = strstr(p, "@app_role@")) != NULL) {
        pb_buf_append(&b, p, (size_t)(hit - p));
        pb_buf_puts(&b, quoted);
        p = hit + 10;
    }
    pb_buf_puts(&b, p);
    PQfreemem(quoted);
    return (char *)pb_buf_cstr(&b);
}

static void hex_checksum(const char *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* The line of a statement position (1-based character offset). */
static int line_of(const char *sql, const char *pos)
{
    long at = pos ? atol(pos) : 0, line = 1;
    for (long i = 0; i < at - 1 && sql[i]; i++)
        line += sql[i] == '\n';
    return (int)line;
}

/* Applies one file in a transaction. Returns 1 applied, 0 already applied,
 * -1 on error (err). */
static int apply_one(PGconn *c, const pb_config *cfg, const migration *m, char *err, size_t errlen)
{
    size_t len;
    char *sql = read_file(m->path, &len);
    if (sql == NULL) {
        snprintf(err, errlen, "%s: %s", m->path, strerror(errno));
        return -1;
    }
    char sum[65], version[16];
    hex_checksum(sql, len, sum);
    snprintf(version, sizeof version, "%d", m->version);
    const char *key[] = {m->module, version};
    PGresult *r = PQexecParams(c,
                               "SELECT checksum FROM core.migrations WHERE module=$1 AND "
                               "version=$2",
                               2, NULL, key, NULL, NULL, 0);
    int done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (done && strcmp(PQgetvalue(r, 0, 0), sum) != 0)
        pb_log(PB_LOG_WARN, "%s changed after it was applied; a change needs a new migration",
               m->path);
    PQclear(r);
    if (done) {
        free(sql);
        return 0;
    }
    char *final = substitute_role(c, sql, cfg->app_role);
    free(sql);
    char why[1024] = "";
    int rc = -1;
    r = final ? PQexec(c, "BEGIN") : NULL;
    PQclear(r);
    if (final) {
        r = PQexec(c, final);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(err, errlen, "%s:%d: %s", m->path,
                     line_of(final, PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION)),
                     PQresultErrorMessage(r));
        } else {
            const char *row[] = {m->module, version, m->name, sum};
            if (exec_ok(c,
                        "INSERT INTO core.migrations (module, version, name, checksum) "
                        "VALUES ($1, $2, $3, $4)",
                        4, row, why, sizeof why) == 0 &&
                exec_ok(c, "COMMIT", 0, NULL, why, sizeof why) == 0)
                rc = 1;
            else
                snprintf(err, errlen, "%s: %s", m->path, why);
        }
        PQclear(r);
    }
    if (rc < 0)
        PQclear(PQexec(c, "ROLLBACK"));
    free(final);
    err[strcspn(err, "\n")] = '\0';
    if (rc == 1)
        pb_log(PB_LOG_INFO, "applied migration %s", m->path);
    return rc;
}

static int register_one(PGconn *c, const char *name, const char *description, const char *module,
                        char *err, size_t errlen)
{
    const char *row[] = {name, description ? description : "", module};
    if (exec_ok(c,
                "INSERT INTO core.permissions (name, description, module) VALUES ($1, $2, $3) "
                "ON CONFLICT (name) DO UPDATE SET module = EXCLUDED.module, description = "
                "CASE WHEN EXCLUDED.description = '' THEN core.permissions.description "
                "ELSE EXCLUDED.description END",
                3, row, err, errlen) < 0)
        return -1;
    /* Admin roles (level 100) hold every permission, including those of a
     * module installed after the team was created; the installation's
     * permissions belong to operators, never to a team role. */
    if (pb_permission_is_installation(name))
        return 0;
    const char *perm[] = {name};
    return exec_ok(c,
                   "INSERT INTO core.role_permissions (role_id, permission) "
                   "SELECT id, $1 FROM core.roles WHERE level = 100 ON CONFLICT DO NOTHING",
                   1, perm, err, errlen);
}

int pb_permissions_register(const pb_config *cfg, const pb_modset *ms, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(cfg->owner_conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect as the owner role: %s", PQerrorMessage(c));
        err[strcspn(err, "\n")] = '\0';
        PQfinish(c);
        return -1;
    }
    int n = 0;
    for (size_t i = 0; n >= 0 && i < ms->n; i++) {
        const pb_module *m = ms->v[i].desc;
        for (const pb_permission *p = m->permissions; n >= 0 && p && p->name; p++)
            n = register_one(c, p->name, p->description, m->name, err, errlen) < 0 ? -1 : n + 1;
        for (const pb_route *r = m->routes; n >= 0 && r && r->pattern; r++)
            if (r->permission)
                n = register_one(c, r->permission, NULL, m->name, err, errlen) < 0 ? -1 : n + 1;
    }
    PQfinish(c);
    return n;
}

int pb_migrate(const pb_config *cfg, char *err, size_t errlen)
{
    mlist l = {.err = err, .errlen = errlen};
    if (pb_config_each_word(cfg->migrations, scan_folder, &l) != 0 || sodium_init() < 0) {
        snprintf(err, errlen, "out of memory");
        free(l.v);
        return -1;
    }
    qsort(l.v, l.n, sizeof *l.v, by_module_version);
    PGconn *c = PQconnectdb(cfg->owner_conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect as the owner role: %s", PQerrorMessage(c));
        err[strcspn(err, "\n")] = '\0';
        PQfinish(c);
        free(l.v);
        return -1;
    }
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    int applied = 0;
    if (exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", 0, NULL, err, errlen) < 0 ||
        exec_ok(c, bootstrap_sql, 0, NULL, err, errlen) < 0)
        applied = -1;
    for (size_t i = 0; applied >= 0 && i < l.n; i++) {
        int rc = apply_one(c, cfg, &l.v[i], err, errlen);
        applied = rc < 0 ? -1 : applied + rc;
    }
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    PQfinish(c);
    free(l.v);
    return applied;
}
