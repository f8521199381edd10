/*
 * console.c - the modules console's host side (host->module_report and
 * host->module_control).
 *
 * What never changes for a worker (a module's version, build id, file hash)
 * is computed at the first report and kept: the master keeps each
 * generation's files, so the file a worker loaded is the file it hashed.
 * The figures come from the scoreboard at each call; the states from the
 * master, asked over the control socket.
 */
#include "console.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"
#include "request.h"
#include "worker.h"

/* --- The master's control socket --------------------------------------------- */

json_t *pb_console_ask(const char *path, const char *command, long timeout, char *err,
                       size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "no control socket is configured");
        return NULL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        snprintf(err, errlen, "the master does not answer on its control socket: %s",
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct timeval tv = {timeout, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char line[128];
    int n = snprintf(line, sizeof line, "%s\n", command);
    pb_buf reply = PB_BUF_INIT;
    bool timed_out = false;
    if (n > 0 && (size_t)n < sizeof line && send(fd, line, (size_t)n, MSG_NOSIGNAL) == n) {
        char chunk[4096];
        ssize_t got;
        while ((got = recv(fd, chunk, sizeof chunk, 0)) > 0)
            pb_buf_append(&reply, chunk, (size_t)got);
        timed_out = got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    close(fd);
    json_error_t je;
    json_t *v = reply.len ? json_loadb(reply.data, reply.len, 0, &je) : NULL;
    pb_buf_free(&reply);
    if (v == NULL)
        snprintf(err, errlen, "%s",
                 timed_out ? "the master did not answer in time"
                           : "the master gave no valid answer");
    return v;
}

/* --- What never changes for this worker ------------------------------------------ */

typedef struct build_id_query {
    ElfW(Addr) base;
    char hex[2 * 64 + 1];
} build_id_query;

/* Reads NT_GNU_BUILD_ID from the PT_NOTE segments of the object loaded at
 * q->base. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    build_id_query *q = data;
    if (info->dlpi_addr != q->base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            size_t namesz = (nh->n_namesz + 3) & ~(size_t)3,
                   descsz = (nh->n_descsz + 3) & ~(size_t)3;
            const unsigned char *desc = (const unsigned char *)p + sizeof *nh + namesz;
            if ((const char *)desc + nh->n_descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz <= 64) {
                for (size_t k = 0; k < nh->n_descsz; k++)
                    snprintf(q->hex + 2 * k, 3, "%02x", desc[k]);
                return 1;
            }
            p = (const char *)desc + descsz;
        }
    }
    return 1;
}

static void build_id(void *handle, char *out, size_t n)
{
    struct link_map *lm = NULL;
    build_id_query q = {0};
    out[0] = '\0';
    if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || lm == NULL)
        return;
    q.base = lm->l_addr;
    dl_iterate_phdr(find_build_id, &q);
    snprintf(out, n, "%s", q.hex);
}

/* SHA-256 of the file at path, streamed, as hex; "" when unreadable. */
static void file_sha256(const char *path, char out[65])
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char chunk[65536], digest[crypto_hash_sha256_BYTES];
    ssize_t got;
    while ((got = read(fd, chunk, sizeof chunk)) > 0)
        crypto_hash_sha256_update(&st, chunk, (unsigned long long)got);
    close(fd);
    if (got < 0)
        return;
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

static json_t *identity; /* name -> {version, build_id, file, sha256}, per worker */

static json_t *module_identity(const pb_modset *ms)
{
    if (identity)
        return identity;
    identity = json_object();
    for (size_t i = 0; i < ms->n; i++) {
        const pb_module_rec *r = &ms->v[i];
        char id[2 * 64 + 1], sha[65];
        build_id(r->handle, id, sizeof id);
        file_sha256(r->path, sha);
        json_object_set_new(identity, r->desc->name,
                            json_pack("{s:s, s:s?, s:s, s:s?}", "version",
                                      r->desc->version ? r->desc->version : "", "build_id",
                                      id[0] ? id : NULL, "file", r->path, "sha256",
                                      sha[0] ? sha : NULL));
    }
    return identity;
}

/* --- The report ------------------------------------------------------------------- */

/* "≤ 5 ms", "> 10000 ms", or NULL without requests. */
static json_t *bound_text(double le)
{
    char s[48];
    if (le < 0)
        return json_null();
    if (isinf(le))
        snprintf(s, sizeof s, "> %g ms", pb_sb_bucket_le[PB_SB_BUCKETS - 2] * 1000);
    else
        snprintf(s, sizeof s, "\u2264 %g ms", le * 1000);
    return json_string(s);
}

static json_t *bound_ms(double le)
{
    return le < 0 || isinf(le) ? json_null() : json_real(le * 1000);
}

static void add_figures(const pb_scoreboard *sb, const char *name, json_t *o)
{
    uint64_t requests = 0, errors = 0, hist[PB_SB_BUCKETS] = {0};
    if (sb)
        pb_metrics_module_totals(sb, name, &requests, &errors, hist);
    double p50 = pb_metrics_quantile_le(hist, 0.5), p99 = pb_metrics_quantile_le(hist, 0.99);
    json_object_set_new(o, "requests", json_integer((json_int_t)requests));
    json_object_set_new(o, "errors", json_integer((json_int_t)errors));
    json_object_set_new(o, "p50_le_ms", bound_ms(p50));
    json_object_set_new(o, "p99_le_ms", bound_ms(p99));
    json_object_set_new(o, "p50_text", bound_text(p50));
    json_object_set_new(o, "p99_text", bound_text(p99));
}

/* The master's entry for name in its "modules" answer, or NULL. */
static json_t *master_entry(json_t *answer, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(answer, "modules"), i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return e;
    }
    return NULL;
}

static void iso_time(time_t t, char *out, size_t n)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *pb_console_report(pb_req *req)
{
    pb_worker *w = req->w;
    const pb_scoreboard *sb = w->sb;
    char err[256] = "", loaded_at[32];
    json_t *answer = pb_console_ask(w->cfg->control_socket, "modules", 1, err, sizeof err);
    time_t started = time(NULL);
    if (w->slot)
        started -= (time_t)((pb_now_ns() - w->slot->started_ns) / 1000000000);
    iso_time(started, loaded_at, sizeof loaded_at);
    json_t *ids = module_identity(&w->modules), *list = json_array();
    for (size_t i = 0; i < w->modules.n; i++) {
        const char *name = w->modules.v[i].desc->name;
        json_t *o = json_deep_copy(json_object_get(ids, name));
        json_t *e = master_entry(answer, name);
        const char *state = json_string_value(json_object_get(e, "state"));
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "generation", json_integer(w->generation));
        json_object_set_new(o, "loaded_at", json_string(loaded_at));
        /* Without the master's word, what this worker runs is active. */
        json_object_set_new(o, "state", json_string(state ? state : "active"));
        add_figures(sb, name, o);
        json_array_append_new(list, o);
    }
    /* Modules the master knows of that this worker does not run. */
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(answer, "modules"), i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (name == NULL || pb_modset_find(&w->modules, name))
            continue;
        json_array_append_new(list, json_pack("{s:s, s:O*, s:O*, s:O*}", "name", name, "state",
                                              json_object_get(e, "state"), "reason",
                                              json_object_get(e, "reason"), "file",
                                              json_object_get(e, "file")));
    }
    json_t *master = answer ? json_pack("{s:b, s:O*}", "reachable", 1, "generation",
                                        json_object_get(answer, "generation"))
                            : json_pack("{s:b, s:s}", "reachable", 0, "message", err);
    json_decref(answer);
    return json_pack("{s:o, s:i, s:s, s:o}", "modules", list, "generation", (int)w->generation,
                     "loaded_at", loaded_at, "master", master);
}

/* --- Control ------------------------------------------------------------------------ */

static bool name_ok(const char *s)
{
    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z') || strlen(s) >= PB_SB_MODLEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

int pb_console_control(pb_req *req, const char *command, const char *name, json_t **reply)
{
    char line[64], err[256];
    *reply = NULL;
    if (command && strcmp(command, "reload") == 0) {
        snprintf(line, sizeof line, "reload");
    } else if (command && (strcmp(command, "enable") == 0 || strcmp(command, "disable") == 0)) {
        if (!name_ok(name)) {
            *reply = json_pack("{s:s}", "error", "a module name is [a-z][a-z0-9_]*");
            return PB_INVALID;
        }
        snprintf(line, sizeof line, "%s %s", command, name);
    } else {
        *reply = json_pack("{s:s}", "error", "unknown command");
        return PB_INVALID;
    }
    long timeout = req->w->cfg->start_timeout + 60;
    json_t *answer = pb_console_ask(req->w->cfg->control_socket, line, timeout, err, sizeof err);
    if (answer == NULL) {
        *reply = json_pack("{s:s}", "error", err);
        return PB_ERROR;
    }
    *reply = answer;
    return json_object_get(answer, "error") ? PB_INVALID : PB_OK;
}
