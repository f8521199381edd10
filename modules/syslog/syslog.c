/*
 * syslog.c - the system log: the host's own records (every process's
 * errors, warnings and events, with their module, route and job) searched
 * newest first, for administrators.
 *
 * The records live in the host's [log] file, not in the database: the host
 * searches it (host->log_search) and this module only validates the form,
 * shapes the results and offers the next, older page. Older pages pass
 * until=<the oldest time shown>, which is exclusive.
 */
#include <plugboard.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pb_host *host;

#define PAGE_DEFAULT 100
#define TEXT_MAX     200
#define TIME_MAX     32

/* The processes that log: see src/log.c's callers. */
static const char *const roles[] = {"master",    "worker",    "probe", "mailer",
                                    "scheduler", "plugboard", NULL};
static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

/* Members every record has, and those shown in columns of their own. */
static const char *const shown[] = {"ts",     "level", "role", "pid", "msg",
                                    "module", "route", "job",  NULL};

static bool listed(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* Reads the optional string field name into filter (and the form's echo),
 * checking it against allowed (NULL = any text up to max bytes). */
static void read_field(pb_req *req, json_t *filter, const char *name, size_t max,
                       const char *const *allowed, const char *explains)
{
    const char *v = NULL;
    if (host->input_str(req, name, 0, 0, max, &v) != PB_OK || v[0] == '\0')
        return;
    json_object_set_new(filter, name, json_string(v));
    if (allowed && !listed(allowed, v))
        host->input_fail(req, name, explains);
}

/* The choices of a <select>, the current one marked. */
static json_t *options(const char *const *list, const char *current)
{
    json_t *a = json_array();
    for (; *list; list++)
        json_array_append_new(a, json_pack("{s:s, s:b}", "value", *list, "selected",
                                           current && strcmp(current, *list) == 0));
    return a;
}

/* Adds to each record "details": its other fields as [{key, value}]. */
static void add_details(json_t *records)
{
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        json_t *details = json_array();
        const char *key;
        json_t *v;
        json_object_foreach(rec, key, v)
        {
            if (listed(shown, key))
                continue;
            char *dumped = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY);
            const char *text = dumped ? dumped : json_string_value(v);
            json_array_append_new(details, json_pack("{s:s, s:s?}", "key", key, "value", text));
            free(dumped);
        }
        json_object_set_new(rec, "details", details);
    }
}

/* "older": the filter for the next page: until the oldest record shown,
 * skipping those shown that share its millisecond, read back from where
 * the host says the page ends (next_before). */
static void add_older(json_t *m, const json_t *filter, json_t *records, const char *before)
{
    size_t n = json_array_size(records), same = 0;
    const char *oldest = json_string_value(json_object_get(json_array_get(records, n - 1), "ts"));
    while (same < n &&
           strcmp(json_string_value(json_object_get(json_array_get(records, n - 1 - same), "ts")),
                  oldest) == 0)
        same++;
    const char *until = json_string_value(json_object_get(filter, "until"));
    const char *skip = json_string_value(json_object_get(filter, "skip"));
    /* A whole page within one millisecond: those skipped for it come
     * again, unless the next page starts back after them. */
    if (same == n && until && skip && strcmp(until, oldest) == 0 && before == NULL)
        same += strtoul(skip, NULL, 10);
    char text[24];
    snprintf(text, sizeof text, "%zu", same);
    json_t *older = json_deep_copy(filter);
    json_object_set_new(older, "until", json_string(oldest));
    json_object_set_new(older, "skip", json_string(text));
    if (before)
        json_object_set_new(older, "before", json_string(before));
    json_object_set_new(m, "older", older);
}

/* "resume": the same search again, from where the host stopped reading
 * (the bound of bytes or time per search): older records, same filter. */
static void add_resume(json_t *m, const json_t *filter, const json_t *bound)
{
    json_t *resume = json_deep_copy(filter);
    json_object_set(resume, "before", json_object_get(bound, "before"));
    if (json_object_get(bound, "skip"))
        json_object_set(resume, "skip", json_object_get(bound, "skip"));
    json_object_set_new(m, "resume", resume);
}

/* GET /admin/log - the filter form and the newest matching records. */
static int log_page(pb_req *req)
{
    json_t *m = host->model(req), *filter = json_object();
    long long limit = PAGE_DEFAULT;
    read_field(req, filter, "level", 8, NULL, NULL);
    read_field(req, filter, "role", 16, roles,
               "must be master, worker, probe, mailer, scheduler or plugboard");
    read_field(req, filter, "module", 64, NULL, NULL);
    read_field(req, filter, "text", TEXT_MAX, NULL, NULL);
    read_field(req, filter, "since", TIME_MAX, NULL, NULL);
    read_field(req, filter, "until", TIME_MAX, NULL, NULL);
    read_field(req, filter, "skip", 8, NULL, NULL);
    read_field(req, filter, "before", 20, NULL, NULL);
    host->input_int(req, "limit", 0, 1, 500, &limit);
    json_object_set_new(m, "filter", filter);
    json_object_set_new(m, "levels",
                        options(levels, json_string_value(json_object_get(filter, "level"))));
    json_object_set_new(m, "roles",
                        options(roles, json_string_value(json_object_get(filter, "role"))));
    /* The host checks the level and the times: asked even when a field of
     * ours is wrong, so that the form shows every error at once. */
    json_t *found = host->log_search(req, filter, (size_t)limit);
    if (found == NULL) {
        json_object_set_new(m, "message", json_string("The log file cannot be read."));
        host->set_template(req, NULL);
        return 503;
    }
    const char *field;
    json_t *why;
    json_object_foreach(json_object_get(found, "errors"), field, why)
        host->input_fail(req, field, json_string_value(why));
    if (host->input_errors(req)) {
        json_decref(found);
        return 400;
    }
    json_t *records = json_object_get(found, "records");
    add_details(records);
    if (json_is_true(json_object_get(found, "more")))
        add_older(m, filter, records, json_string_value(json_object_get(found, "next_before")));
    else if (json_is_true(json_object_get(found, "bounded")))
        add_resume(m, filter, json_object_get(found, "bound"));
    json_object_update(m, found);
    json_decref(found);
    json_object_set_new(m, "count", json_integer((json_int_t)json_array_size(records)));
    return 200;
}

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host) || h->log_search == NULL) {
        snprintf(err, errlen, "host function table too old: no log_search");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/admin/log", log_page, "system:logs", 0, "syslog/index"},
    {0},
};

static const pb_nav nav[] = {
    {"System log", "/admin/log", "system:logs", 95},
    {0},
};

static const pb_permission permissions[] = {
    {"system:logs", "Read the system log: every process's records, from every team"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "syslog",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .permissions = permissions,
    .init = init,
};
