/*
 * cache.c - the host's cache over Redis: entries with a TTL per namespace,
 * tags for invalidation, hit/miss counters, and the operator's view.
 */
#include "cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "request.h"

#define NS_SET      "pb:cn"
#define SCAN_PAGES  200 /* stats examine at most 200 x 1000 keys */
#define FULL_KEYLEN (sizeof "pb:ct:" + PB_CACHE_NS_MAX + 1 + PB_CACHE_KEY_MAX)

/* --- Names ------------------------------------------------------------------- */

bool pb_cache_ns_ok(const char *ns)
{
    if (ns == NULL || ns[0] < 'a' || ns[0] > 'z')
        return false;
    size_t n = strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789_");
    return ns[n] == '\0' && n <= PB_CACHE_NS_MAX;
}

/* Length of the UTF-8 sequence at s (RFC 3629 §4), or 0 when it is not
 * one: no overlong forms, surrogates or code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || s[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

bool pb_cache_key_ok(const char *key)
{
    if (key == NULL || key[0] == '\0')
        return false;
    const unsigned char *p = (const unsigned char *)key;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        size_t n = utf8_len(p);
        if (n == 0)
            return false;
        p += n;
    }
    return (size_t)(p - (const unsigned char *)key) <= PB_CACHE_KEY_MAX;
}

bool pb_cache_path_encode(const char *s, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p);
        if (o + (plain ? 1 : 3) >= outlen)
            return false;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= outlen)
        return false;
    out[o] = '\0';
    return true;
}

static void entry_name(char *out, size_t n, const char *ns, const char *key)
{
    snprintf(out, n, "pb:c:%s:%s", ns, key);
}

/* --- Talking to Redis ---------------------------------------------------------- */

/* One command; an error reply counts as a failure. Returns the reply (the
 * caller frees it) or NULL after logging why. */
static redisReply *cmd(pb_req *req, int argc, const char **argv, const size_t *lens)
{
    char err[256];
    redisReply *r = pb_kv_command(&req->w->kv, argc, argv, lens, err, sizeof err);
    if (r == NULL) {
        pb_log(PB_LOG_WARN, "cache: %s", err);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        pb_log(PB_LOG_ERROR, "cache: Redis answered %s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Runs a command whose reply is one integer into *out. PB_OK or PB_ERROR. */
static int cmd_int(pb_req *req, int argc, const char **argv, long long *out)
{
    redisReply *r = cmd(req, argc, argv, NULL);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    if (ok && out)
        *out = r->integer;
    if (r)
        freeReplyObject(r);
    return ok ? PB_OK : PB_ERROR;
}

/* Remembers name under what ("drop", "tags" or "stored") for
 * pb_cache_settle. Names are kept as given (not necessarily UTF-8 once
 * prefixed: never dumped). */
static void remember(pb_req *req, const char *what, const char *name)
{
    if (req->cache_pending == NULL && (req->cache_pending = json_object()) == NULL)
        return;
    json_t *list = json_object_get(req->cache_pending, what);
    if (list == NULL) {
        list = json_array();
        json_object_set_new(req->cache_pending, what, list);
    }
    json_array_append_new(list, json_string_nocheck(name));
}

/* --- Entries --------------------------------------------------------------------- */

/* KEYS: entry, counters, namespace set. ARGV: namespace. */
static const char get_lua[] = "local v = redis.call('GET', KEYS[1]) "
                              "redis.call('HINCRBY', KEYS[2], v and 'hits' or 'misses', 1) "
                              "redis.call('SADD', KEYS[3], ARGV[1]) "
                              "return v";

/* KEYS: entry, counters, namespace set, then the tag sets. ARGV: value,
 * ttl, namespace. A tag set lives as long as its longest-lived member. */
static const char set_lua[] =
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
    "redis.call('HINCRBY', KEYS[2], 'sets', 1) "
    "redis.call('SADD', KEYS[3], ARGV[3]) "
    "local ttl = tonumber(ARGV[2]) "
    "for i = 4, #KEYS do "
    "  redis.call('SADD', KEYS[i], KEYS[1]) "
    "  if redis.call('TTL', KEYS[i]) < ttl then redis.call('EXPIRE', KEYS[i], ttl) end "
    "end "
    "return 1";

/* KEYS: the tag set. Deletes its members, 500 at a time (unpack's limits),
 * then the set. Returns how many entries were still there. */
static const char tag_lua[] = "local m = redis.call('SMEMBERS', KEYS[1]) "
                              "local n = 0 "
                              "for i = 1, #m, 500 do "
                              "  n = n + redis.call('DEL', unpack(m, i, math.min(i + 499, #m))) "
                              "end "
                              "redis.call('DEL', KEYS[1]) "
                              "return n";

int pb_cache_get(pb_req *req, const char *ns, const char *key, char **value, size_t *len)
{
    if (!pb_cache_ns_ok(ns) || !pb_cache_key_ok(key) || value == NULL)
        return PB_INVALID;
    char entry[FULL_KEYLEN], stats[64];
    entry_name(entry, sizeof entry, ns, key);
    snprintf(stats, sizeof stats, "pb:cs:%s", ns);
    const char *argv[] = {"EVAL", get_lua, "3", entry, stats, NS_SET, ns};
    redisReply *r = cmd(req, 7, argv, NULL);
    if (r == NULL)
        return PB_ERROR;
    int rc = PB_ABSENT;
    if (r->type == REDIS_REPLY_STRING) {
        *value = malloc(r->len + 1);
        if (*value == NULL) {
            rc = PB_ERROR;
        } else {
            memcpy(*value, r->str, r->len);
            (*value)[r->len] = '\0'; /* a convenience for text values */
            if (len)
                *len = r->len;
            rc = PB_OK;
        }
    }
    freeReplyObject(r);
    return rc;
}

int pb_cache_set(pb_req *req, const char *ns, const char *key, const char *value, size_t len,
                 long ttl, const char *const *tags)
{
    size_t ntags = 0;
    while (tags && tags[ntags]) {
        if (!pb_cache_key_ok(tags[ntags]))
            return PB_INVALID;
        ntags++;
    }
    if (!pb_cache_ns_ok(ns) || !pb_cache_key_ok(key) || (value == NULL && len > 0) || ttl < 1 ||
        ttl > PB_CACHE_TTL_MAX || ntags > 64)
        return PB_INVALID;
    char entry[FULL_KEYLEN], stats[64], nkeys[8], ttltext[24];
    char(*tagkeys)[FULL_KEYLEN] = ntags ? calloc(ntags, sizeof *tagkeys) : NULL;
    size_t argc = 9 + ntags;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    int rc = PB_ERROR;
    if (argv == NULL || lens == NULL || (ntags && tagkeys == NULL))
        goto out;
    entry_name(entry, sizeof entry, ns, key);
    snprintf(stats, sizeof stats, "pb:cs:%s", ns);
    snprintf(nkeys, sizeof nkeys, "%zu", 3 + ntags);
    snprintf(ttltext, sizeof ttltext, "%ld", ttl);
    argv[0] = "EVAL", argv[1] = set_lua, argv[2] = nkeys;
    argv[3] = entry, argv[4] = stats, argv[5] = NS_SET;
    for (size_t i = 0; i < ntags; i++) {
        snprintf(tagkeys[i], sizeof tagkeys[i], "pb:ct:%s", tags[i]);
        argv[6 + i] = tagkeys[i];
    }
    argv[6 + ntags] = value ? value : "", argv[7 + ntags] = ttltext, argv[8 + ntags] = ns;
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    lens[6 + ntags] = len; /* values are bytes */
    redisReply *r = cmd(req, (int)argc, argv, lens);
    if (r) {
        rc = PB_OK;
        remember(req, "stored", entry);
        freeReplyObject(r);
    }
out:
    free(tagkeys);
    free(argv);
    free(lens);
    return rc;
}

int pb_cache_del(pb_req *req, const char *ns, const char *key)
{
    if (!pb_cache_ns_ok(ns) || !pb_cache_key_ok(key))
        return PB_INVALID;
    char entry[FULL_KEYLEN];
    entry_name(entry, sizeof entry, ns, key);
    const char *argv[] = {"DEL", entry};
    long long n = 0;
    if (cmd_int(req, 2, argv, &n) != PB_OK)
        return PB_ERROR;
    remember(req, "drop", entry);
    return n > 0 ? PB_OK : PB_ABSENT;
}

/* Drops the entries of one tag set. Returns how many or -1. */
static long long drop_tag(pb_req *req, const char *tagkey)
{
    const char *argv[] = {"EVAL", tag_lua, "1", tagkey};
    long long n = 0;
    return cmd_int(req, 4, argv, &n) == PB_OK ? n : -1;
}

int pb_cache_invalidate_tag(pb_req *req, const char *tag)
{
    if (!pb_cache_key_ok(tag))
        return PB_INVALID;
    char tagkey[FULL_KEYLEN];
    snprintf(tagkey, sizeof tagkey, "pb:ct:%s", tag);
    if (drop_tag(req, tagkey) < 0)
        return PB_ERROR;
    remember(req, "tags", tagkey);
    return PB_OK;
}

/* DEL of every name in list, as one command. */
static void del_all(pb_req *req, json_t *list)
{
    size_t n = json_array_size(list);
    const char **argv = n ? calloc(n + 1, sizeof *argv) : NULL;
    if (argv == NULL)
        return;
    argv[0] = "DEL";
    for (size_t i = 0; i < n; i++)
        argv[i + 1] = json_string_value(json_array_get(list, i));
    redisReply *r = cmd(req, (int)n + 1, argv, NULL);
    if (r)
        freeReplyObject(r);
    free(argv);
}

void pb_cache_settle(pb_req *req, bool committed)
{
    json_t *p = req->cache_pending, *tag;
    size_t i;
    if (p == NULL)
        return;
    req->cache_pending = NULL;
    if (committed) {
        json_array_foreach(json_object_get(p, "tags"), i, tag)
            drop_tag(req, json_string_value(tag));
        del_all(req, json_object_get(p, "drop"));
    } else {
        del_all(req, json_object_get(p, "stored"));
    }
    json_decref(p);
}

/* --- The operator's view ---------------------------------------------------------- */

/* The namespace's entry in the stats object, made on first use. */
static json_t *ns_entry(json_t *by_ns, const char *ns)
{
    json_t *e = json_object_get(by_ns, ns);
    if (e == NULL) {
        e = json_pack("{s:s, s:I, s:I, s:I, s:I}", "namespace", ns, "keys", (json_int_t)0, "hits",
                      (json_int_t)0, "misses", (json_int_t)0, "sets", (json_int_t)0);
        json_object_set_new(by_ns, ns, e);
    }
    return e;
}

static void add_int(json_t *o, const char *field, long long n)
{
    json_object_set_new(o, field, json_integer(json_integer_value(json_object_get(o, field)) + n));
}

/* Counts entries per namespace and the tag sets. */
static int count_page(redisReply *keys, void *ctx)
{
    json_t *by_ns = ctx;
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str, *colon;
        char ns[PB_CACHE_NS_MAX + 1];
        if (strncmp(k, "pb:ct:", 6) == 0) {
            add_int(json_object_get(by_ns, ""), "tag_sets", 1);
        } else if (strncmp(k, "pb:c:", 5) == 0 && (colon = strchr(k + 5, ':')) != NULL &&
                   (size_t)(colon - k - 5) <= PB_CACHE_NS_MAX) {
            memcpy(ns, k + 5, (size_t)(colon - k - 5));
            ns[colon - k - 5] = '\0';
            if (pb_cache_ns_ok(ns))
                add_int(ns_entry(by_ns, ns), "keys", 1);
        }
    }
    return 0;
}

/* KEYS: the namespace set. Every namespace with its counters, sorted. */
static const char counters_lua[] =
    "local names = redis.call('SMEMBERS', KEYS[1]) "
    "table.sort(names) "
    "local out = {} "
    "for _, ns in ipairs(names) do "
    "  local v = redis.call('HMGET', 'pb:cs:' .. ns, 'hits', 'misses', 'sets') "
    "  out[#out + 1] = {ns, tonumber(v[1] or 0), tonumber(v[2] or 0), tonumber(v[3] or 0)} "
    "end "
    "return out";

static void set_ratio(json_t *o)
{
    long long hits = json_integer_value(json_object_get(o, "hits"));
    long long lookups = hits + json_integer_value(json_object_get(o, "misses"));
    json_object_set_new(o, "hit_ratio",
                        lookups ? json_real((double)hits / (double)lookups) : json_null());
    char pct[16];
    snprintf(pct, sizeof pct, "%.1f%%", lookups ? 100.0 * (double)hits / (double)lookups : 0.0);
    json_object_set_new(o, "hit_percent", lookups ? json_string(pct) : json_null());
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The namespaces of by_ns (but the "" totals slot) as a sorted array. */
static json_t *sorted_namespaces(json_t *by_ns, json_t *totals)
{
    size_t n = json_object_size(by_ns), k = 0;
    const char **names = calloc(n ? n : 1, sizeof *names), *name;
    json_t *out = json_array(), *e;
    if (names == NULL || out == NULL) {
        free(names);
        json_decref(out);
        return NULL;
    }
    json_object_foreach(by_ns, name, e) if (name[0]) names[k++] = name;
    qsort(names, k, sizeof *names, by_name);
    for (size_t i = 0; i < k; i++) {
        e = json_object_get(by_ns, names[i]);
        set_ratio(e);
        static const char *const sums[] = {"keys", "hits", "misses", "sets"};
        for (size_t s = 0; s < 4; s++)
            add_int(totals, sums[s], json_integer_value(json_object_get(e, sums[s])));
        json_array_append(out, e);
    }
    free(names);
    set_ratio(totals);
    return out;
}

json_t *pb_cache_stats(pb_req *req)
{
    const char *argv[] = {"EVAL", counters_lua, "1", NS_SET};
    redisReply *r = cmd(req, 4, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    json_t *by_ns = json_object();
    json_object_set_new(by_ns, "", json_pack("{s:I}", "tag_sets", (json_int_t)0));
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *row = r->element[i];
        if (row->type != REDIS_REPLY_ARRAY || row->elements != 4 ||
            !pb_cache_ns_ok(row->element[0]->str))
            continue;
        json_t *e = ns_entry(by_ns, row->element[0]->str);
        json_object_set_new(e, "hits", json_integer(row->element[1]->integer));
        json_object_set_new(e, "misses", json_integer(row->element[2]->integer));
        json_object_set_new(e, "sets", json_integer(row->element[3]->integer));
    }
    freeReplyObject(r);
    char err[256];
    int scanned = pb_kv_scan(&req->w->kv, "pb:c*", SCAN_PAGES, count_page, by_ns, err, sizeof err);
    if (scanned < 0)
        pb_log(PB_LOG_WARN, "cache: %s", err);
    json_t *totals = json_pack("{s:I, s:I, s:I, s:I}", "keys", (json_int_t)0, "hits", (json_int_t)0,
                               "misses", (json_int_t)0, "sets", (json_int_t)0);
    json_t *list = scanned < 0 ? NULL : sorted_namespaces(by_ns, totals);
    json_t *out = NULL;
    if (list)
        out = json_pack("{s:o, s:O, s:o, s:b}", "namespaces", list, "tag_sets",
                        json_object_get(json_object_get(by_ns, ""), "tag_sets"), "totals", totals,
                        "keys_exact", scanned == 1);
    else
        json_decref(totals);
    json_decref(by_ns);
    return out;
}

/* The value of field in an INFO reply ("field:value\r\n" lines), copied
 * into out; "" when absent. */
static void info_field(const char *info, const char *field, char *out, size_t n)
{
    size_t fl = strlen(field);
    out[0] = '\0';
    for (const char *line = info; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
            size_t len = strcspn(line + fl + 1, "\r\n");
            snprintf(out, n, "%.*s", (int)len, line + fl + 1);
            return;
        }
    }
}

json_t *pb_cache_server(pb_req *req, char *err, size_t errlen)
{
    const char *argv[] = {"INFO"};
    char why[256];
    redisReply *r = pb_kv_command(&req->w->kv, 1, argv, NULL, why, sizeof why);
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "%s",
                 r == NULL                      ? why
                 : r->type == REDIS_REPLY_ERROR ? r->str
                                                : "unexpected reply to INFO");
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    char version[32], uptime[24], memory[32], clients[24], hits[24], misses[24];
    info_field(r->str, "redis_version", version, sizeof version);
    info_field(r->str, "uptime_in_seconds", uptime, sizeof uptime);
    info_field(r->str, "used_memory_human", memory, sizeof memory);
    info_field(r->str, "connected_clients", clients, sizeof clients);
    info_field(r->str, "keyspace_hits", hits, sizeof hits);
    info_field(r->str, "keyspace_misses", misses, sizeof misses);
    freeReplyObject(r);
    return json_pack("{s:b, s:s, s:I, s:s, s:I, s:I, s:I}", "reachable", 1, "version", version,
                     "uptime_seconds", (json_int_t)atoll(uptime), "used_memory_human", memory,
                     "connected_clients", (json_int_t)atoll(clients), "keyspace_hits",
                     (json_int_t)atoll(hits), "keyspace_misses", (json_int_t)atoll(misses));
}

static long long delete_matching(pb_req *req, const char *pattern)
{
    char err[256];
    long long n = pb_kv_delete_matching(&req->w->kv, pattern, err, sizeof err);
    if (n < 0)
        pb_log(PB_LOG_WARN, "cache: %s", err);
    return n;
}

/* Drops the counters of ns, or of every namespace (and the set of them). */
static int reset_counters_of(pb_req *req, const char *ns)
{
    if (ns == NULL) {
        const char *del[] = {"DEL", NS_SET};
        return delete_matching(req, "pb:cs:*") < 0 ? PB_ERROR : cmd_int(req, 2, del, NULL);
    }
    char stats[64];
    snprintf(stats, sizeof stats, "pb:cs:%s", ns);
    const char *del[] = {"DEL", stats}, *srem[] = {"SREM", NS_SET, ns};
    return cmd_int(req, 2, del, NULL) == PB_OK ? cmd_int(req, 3, srem, NULL) : PB_ERROR;
}

long long pb_cache_clear(pb_req *req, const char *ns, bool reset_counters)
{
    if (ns && !pb_cache_ns_ok(ns))
        return PB_INVALID;
    char pattern[64] = "pb:c:*";
    if (ns)
        snprintf(pattern, sizeof pattern, "pb:c:%s:*", ns);
    /* Clearing everything empties every tag set too; one namespace's
     * names left in a tag set are harmless (deleting them is a no-op). */
    if (ns == NULL && delete_matching(req, "pb:ct:*") < 0)
        return PB_ERROR;
    long long n = delete_matching(req, pattern);
    if (n < 0 || (reset_counters && reset_counters_of(req, ns) != PB_OK))
        return PB_ERROR;
    return n;
}

/* KEYS: the entry. Its TTL (-2: none, -1: no expiry) and size. */
static const char inspect_lua[] =
    "return {redis.call('TTL', KEYS[1]), redis.call('STRLEN', KEYS[1])}";

int pb_cache_inspect(pb_req *req, const char *ns, const char *key, json_t **out)
{
    if (!pb_cache_ns_ok(ns) || !pb_cache_key_ok(key))
        return PB_INVALID;
    char entry[FULL_KEYLEN], full[PB_CACHE_NS_MAX + 2 + PB_CACHE_KEY_MAX], path[3 * sizeof full];
    entry_name(entry, sizeof entry, ns, key);
    const char *argv[] = {"EVAL", inspect_lua, "1", entry};
    redisReply *r = cmd(req, 4, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        if (r)
            freeReplyObject(r);
        return PB_ERROR;
    }
    long long ttl = r->element[0]->integer, bytes = r->element[1]->integer;
    freeReplyObject(r);
    if (ttl == -2)
        return PB_ABSENT;
    snprintf(full, sizeof full, "%s:%s", ns, key);
    pb_cache_path_encode(full, path, sizeof path);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:I}", "key", full, "namespace", ns, "name", key,
                     "path", path, "ttl", ttl >= 0 ? json_integer(ttl) : json_null(), "bytes",
                     (json_int_t)bytes);
    return *out ? PB_OK : PB_ERROR;
}

int pb_cache_expire(pb_req *req, const char *ns, const char *key, long ttl)
{
    if (!pb_cache_ns_ok(ns) || !pb_cache_key_ok(key) || ttl < 1 || ttl > PB_CACHE_TTL_MAX)
        return PB_INVALID;
    char entry[FULL_KEYLEN], ttltext[24];
    entry_name(entry, sizeof entry, ns, key);
    snprintf(ttltext, sizeof ttltext, "%ld", ttl);
    const char *argv[] = {"EXPIRE", entry, ttltext};
    long long n = 0;
    if (cmd_int(req, 3, argv, &n) != PB_OK)
        return PB_ERROR;
    return n == 1 ? PB_OK : PB_ABSENT;
}
