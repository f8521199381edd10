/*
 * cache.c - the cache's operator page and API: per-namespace figures,
 * Redis's own, and clearing, deleting and re-timing entries.
 *
 * The host owns the cache (host->cache_*: include/plugboard.h) and every
 * figure comes from Redis through it. An entry is named "<ns>:<key>" here,
 * split at the first ':' (keys may hold more); the host validates both
 * parts. Changes are audited before they are made: when Redis then fails,
 * the request answers 503 and the audit row rolls back with it.
 */
#include <plugboard.h>
#include <stdio.h>
#include <string.h>

static const pb_host *host;

#define NS_MAX     32
#define TTL_MAX    31536000
#define NO_ENTRY   "There is no such cache entry (it may have expired)."
#define REDIS_DOWN "The cache (Redis) is unavailable for a moment. Try again shortly."
#define KEY_EXPLAINS                                                                               \
    "must be <namespace>:<key>: a namespace of a lower-case letter then up to 31 of a-z, 0-9 "     \
    "and _, and a key of 1 to 200 bytes without control characters"

/* --- Shared helpers ---------------------------------------------------------- */

/* As the host decides for rendering: a JSON body, a bearer token, or JSON
 * listed before any HTML in Accept. */
static bool wants_json(pb_req *req)
{
    if (host->json_body(req) != NULL || host->bearer(req) ||
        strcmp(host->method(req), "DELETE") == 0) /* no form sends DELETE */
        return true;
    const char *accept = host->header(req, "Accept");
    const char *json = accept ? strstr(accept, "application/json") : NULL;
    const char *html = accept ? strstr(accept, "text/html") : NULL;
    return json && (html == NULL || json < html);
}

static int answer(pb_req *req, int status, const char *message)
{
    json_object_set_new(host->model(req), "message", json_string(message));
    if (status == 404 || status >= 500)
        host->set_template(req, NULL); /* the error page */
    if (status == 503)
        host->set_header(req, "Retry-After", "2");
    return status;
}

/* After a change: JSON answers with the model, a browser goes to location
 * with a message. */
static int done(pb_req *req, const char *location, const char *text)
{
    if (wants_json(req))
        return 200;
    if (host->flash(req, "success", text) != PB_OK)
        return PB_ERROR;
    return host->redirect(req, 303, location);
}

/* Reads field "key" as "<ns>:<key>" into ns and *key. PB_OK, PB_ABSENT (not
 * required and not given), or PB_INVALID with the field's error recorded. */
static int read_entry(pb_req *req, unsigned flags, char ns[NS_MAX + 1], const char **key)
{
    const char *full = NULL, *colon;
    int rc = host->input_str(req, "key", flags, 0, NS_MAX + 1 + 200, &full);
    if (rc != PB_OK || (full[0] == '\0' && !(flags & PB_REQUIRED)))
        return rc == PB_OK ? PB_ABSENT : rc;
    colon = strchr(full, ':');
    if (colon == NULL || colon == full || colon - full > NS_MAX)
        return host->input_fail(req, "key", KEY_EXPLAINS);
    memcpy(ns, full, (size_t)(colon - full));
    ns[colon - full] = '\0';
    *key = colon + 1;
    return PB_OK;
}

/* A failed host call on an entry as the answer: 400, 404 or 503. */
static int entry_failed(pb_req *req, int rc, int (*again)(pb_req *req))
{
    if (rc == PB_ABSENT)
        return answer(req, 404, NO_ENTRY);
    if (rc != PB_INVALID)
        return answer(req, 503, REDIS_DOWN);
    host->input_fail(req, "key", KEY_EXPLAINS);
    if (wants_json(req))
        return 400;
    return again(req) == PB_OK ? 400 : PB_ERROR;
}

/* "3 d 4 h", "2 h 5 min", "42 s". */
static void duration_text(long long s, char *out, size_t n)
{
    if (s >= 86400)
        snprintf(out, n, "%lld d %lld h", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "%lld h %lld min", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, n, "%lld min %lld s", s / 60, s % 60);
    else
        snprintf(out, n, "%lld s", s);
}

/* Sets "server": Redis's figures, or {reachable: false, message}. Returns
 * true when Redis answered. */
static bool fill_server(pb_req *req)
{
    char err[256], up[48];
    json_t *server = host->cache_server(req, err, sizeof err);
    if (server == NULL) {
        json_object_set_new(host->model(req), "server",
                            json_pack("{s:b, s:s}", "reachable", 0, "message", err));
        return false;
    }
    duration_text(json_integer_value(json_object_get(server, "uptime_seconds")), up, sizeof up);
    json_object_set_new(server, "uptime_text", json_string(up));
    json_object_set_new(host->model(req), "server", server);
    return true;
}

/* Sets "namespaces", "totals", "tag_sets" and "keys_exact". PB_OK or
 * PB_ERROR (Redis unavailable). */
static int fill_stats(pb_req *req)
{
    json_t *stats = host->cache_stats(req);
    if (stats == NULL)
        return PB_ERROR;
    json_object_update(host->model(req), stats);
    json_decref(stats);
    return PB_OK;
}

/* Sets "lookup" for the entry the field "key" names, when it names one:
 * the entry, or {key, missing: true}. */
static int fill_lookup(pb_req *req)
{
    char ns[NS_MAX + 1];
    const char *key = NULL;
    json_t *entry = NULL;
    if (read_entry(req, 0, ns, &key) != PB_OK)
        return PB_OK;
    int rc = host->cache_inspect(req, ns, key, &entry);
    if (rc == PB_INVALID)
        host->input_fail(req, "key", KEY_EXPLAINS);
    else if (rc == PB_ABSENT)
        entry = json_pack("{s:s, s:s, s:b}", "namespace", ns, "name", key, "missing", 1);
    if (entry)
        json_object_set_new(host->model(req), "lookup", entry);
    return rc == PB_ERROR ? PB_ERROR : PB_OK;
}

/* The whole page. Redis being down is shown, not an error. */
static int fill_index(pb_req *req)
{
    json_t *m = host->model(req);
    /* Every cache route is an operator's (system:cache). */
    json_object_set_new(m, "can", json_pack("{s:b}", "manage", 1));
    json_object_set_new(m, "ttl_max", json_integer(TTL_MAX));
    if (!fill_server(req))
        return PB_OK;
    if (fill_stats(req) != PB_OK || fill_lookup(req) != PB_OK)
        json_object_set_new(m, "redis_error", json_string(REDIS_DOWN));
    return PB_OK;
}

/* --- Pages and reports --------------------------------------------------------- */

/* GET /cache - namespaces, Redis, and the forms. */
static int index_page(pb_req *req)
{
    if (fill_index(req) != PB_OK)
        return PB_ERROR;
    return host->input_errors(req) ? 400 : 200;
}

/* GET /cache/stats - per-namespace counters and entry counts. */
static int stats(pb_req *req)
{
    return fill_stats(req) == PB_OK ? 200 : answer(req, 503, REDIS_DOWN);
}

/* GET /cache/status - Redis's figures; 503 with the reason when it is down. */
static int status(pb_req *req)
{
    bool up = fill_server(req);
    json_t *m = host->model(req);
    json_object_update(m, json_object_get(m, "server")); /* the figures at the top */
    json_object_del(m, "server");
    if (up)
        return 200;
    host->set_header(req, "Retry-After", "2");
    return 503;
}

/* --- Changes ----------------------------------------------------------------------- */

/* Audits action on the entry; before and after are stolen. */
static int audit_entry(pb_req *req, const char *action, const char *ns, const char *key,
                       json_t *before, json_t *after)
{
    char full[NS_MAX + 2 + 200 + 1];
    snprintf(full, sizeof full, "%s:%s", ns, key);
    int rc = host->audit(req, action, "cache_entry", full, before, after, 0);
    json_decref(before);
    json_decref(after);
    return rc;
}

static int index_again(pb_req *req)
{
    host->set_template(req, "cache/index");
    return fill_index(req);
}

/* POST /cache/clear - {namespace} (none or "": every namespace),
 * {reset_counters}. Never touches anything but cache entries, tag sets and
 * (when asked) counters. */
static int clear(pb_req *req)
{
    const char *ns = NULL;
    bool reset = false;
    host->input_str(req, "namespace", 0, 0, NS_MAX, &ns);
    host->input_bool(req, "reset_counters", 0, &reset);
    if (ns && ns[0] == '\0')
        ns = NULL;
    if (host->input_errors(req))
        return wants_json(req) ? 400 : index_again(req) == PB_OK ? 400 : PB_ERROR;
    json_t *after = json_pack("{s:s?, s:b}", "namespace", ns, "reset_counters", reset);
    int rc = host->audit(req, "cache.clear", "cache_namespace", ns, NULL, after, 0);
    json_decref(after);
    if (rc != PB_OK)
        return PB_ERROR;
    long long n = host->cache_clear(req, ns, reset);
    if (n == PB_INVALID) {
        host->input_fail(req, "namespace",
                         "must be a lower-case letter then up to 31 of a-z, 0-9 and _");
        return wants_json(req) ? 400 : index_again(req) == PB_OK ? 400 : PB_ERROR;
    }
    if (n < 0)
        return answer(req, 503, REDIS_DOWN);
    json_object_set_new(host->model(req), "cleared",
                        json_pack("{s:s?, s:I, s:b}", "namespace", ns, "entries_deleted",
                                  (json_int_t)n, "counters_reset", reset));
    char text[160];
    snprintf(text, sizeof text, "Cleared %lld %s from %s%s%s.", n, n == 1 ? "entry" : "entries",
             ns ? "namespace " : "every namespace", ns ? ns : "",
             reset ? ", and reset the counters" : "");
    return done(req, "/cache", text);
}

/* DELETE /cache/key/:key, POST /cache/key/:key/delete - one entry. */
static int delete_entry(pb_req *req)
{
    char ns[NS_MAX + 1];
    const char *key = NULL;
    json_t *before = NULL;
    if (read_entry(req, PB_REQUIRED, ns, &key) != PB_OK)
        return entry_failed(req, PB_INVALID, index_again);
    int rc = host->cache_inspect(req, ns, key, &before);
    if (rc != PB_OK)
        return entry_failed(req, rc, index_again);
    json_object_del(before, "path");
    if (audit_entry(req, "cache.entry.delete", ns, key, before, NULL) != PB_OK)
        return PB_ERROR;
    rc = host->cache_del(req, ns, key);
    if (rc != PB_OK)
        return entry_failed(req, rc, index_again);
    char full[NS_MAX + 2 + 200 + 1], text[300];
    snprintf(full, sizeof full, "%s:%s", ns, key);
    json_object_set_new(host->model(req), "deleted", json_string(full));
    snprintf(text, sizeof text, "Deleted the cache entry %s.", full);
    return done(req, "/cache", text);
}

/* POST /cache/ttl/:key - {ttl}: seconds from now, 1..31536000. */
static int set_ttl(pb_req *req)
{
    char ns[NS_MAX + 1];
    const char *key = NULL;
    long long ttl = 0;
    json_t *entry = NULL;
    int has_key = read_entry(req, PB_REQUIRED, ns, &key);
    host->input_int(req, "ttl", PB_REQUIRED, 1, TTL_MAX, &ttl);
    if (has_key != PB_OK)
        return entry_failed(req, PB_INVALID, index_again);
    if (host->input_errors(req))
        return wants_json(req) ? 400 : index_again(req) == PB_OK ? 400 : PB_ERROR;
    int rc = host->cache_inspect(req, ns, key, &entry);
    if (rc != PB_OK)
        return entry_failed(req, rc, index_again);
    json_t *before = json_pack("{s:O}", "ttl", json_object_get(entry, "ttl"));
    json_t *after = json_pack("{s:I}", "ttl", (json_int_t)ttl);
    if (audit_entry(req, "cache.entry.ttl", ns, key, before, after) != PB_OK) {
        json_decref(entry);
        return PB_ERROR;
    }
    rc = host->cache_expire(req, ns, key, (long)ttl);
    if (rc != PB_OK) {
        json_decref(entry);
        return entry_failed(req, rc, index_again);
    }
    char location[700], text[300];
    snprintf(location, sizeof location, "/cache?key=%s",
             json_string_value(json_object_get(entry, "path")));
    snprintf(text, sizeof text, "The entry %s now expires in %lld s.",
             json_string_value(json_object_get(entry, "key")), ttl);
    json_object_set_new(host->model(req), "entry",
                        json_pack("{s:O, s:I, s:O}", "key", json_object_get(entry, "key"), "ttl",
                                  (json_int_t)ttl, "previous_ttl", json_object_get(entry, "ttl")));
    json_decref(entry);
    return done(req, location, text);
}

/* --- The descriptor ------------------------------------------------------------------ */

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host) || h->cache_stats == NULL || h->cache_expire == NULL) {
        snprintf(err, errlen, "host function table too old: no cache functions");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/cache", index_page, "system:cache", 0, "cache/index"},
    {PB_GET, "/cache/stats", stats, "system:cache", PB_JSON_ONLY, NULL},
    {PB_GET, "/cache/status", status, "system:cache", PB_JSON_ONLY, NULL},
    {PB_POST, "/cache/clear", clear, "system:cache", 0, "cache/index"},
    {PB_DELETE, "/cache/key/:key", delete_entry, "system:cache", PB_JSON_ONLY, NULL},
    {PB_POST, "/cache/key/:key/delete", delete_entry, "system:cache", 0, "cache/index"},
    {PB_POST, "/cache/ttl/:key", set_ttl, "system:cache", 0, "cache/index"},
    {0},
};

static const pb_nav nav[] = {
    {"Cache", "/cache", "system:cache", 90},
    {0},
};

static const pb_permission permissions[] = {
    {"system:cache", "Operators: see the cache's figures and Redis's status, clear the cache, "
                     "delete entries and change their expiry"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "cache",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .permissions = permissions,
    .init = init,
};
