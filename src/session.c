/*
 * session.c - cookie sessions in Redis.
 */
#include "session.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "jsonout.h"
#include "log.h"
#include "request.h"

#define ID_BYTES 32 /* 256 bits */

static pb_session *S(pb_req *req)
{
    return &req->sess;
}

static void set_id(pb_session *s, const char *id)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof h + 1];
    snprintf(s->id, sizeof s->id, "%s", id);
    crypto_hash_sha256(h, (const unsigned char *)id, strlen(id));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(s->key, sizeof s->key, "pb:s:%s", hex);
}

static void random_token(char *out, size_t outsize)
{
    unsigned char raw[ID_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, outsize, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static redisReply *kv(pb_req *req, int argc, const char **argv, const size_t *lens)
{
    char err[256];
    redisReply *r = pb_kv_command(&req->w->kv, argc, argv, lens, err, sizeof err);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        pb_log(PB_LOG_ERROR, "sessions: %s", r ? r->str : err);
        if (r)
            freeReplyObject(r);
        S(req)->unavailable = 1;
        return NULL;
    }
    return r;
}

static void set_cookie(pb_req *req, const char *value, long max_age)
{
    pb_buf *h = req->headers;
    pb_buf_printf(h, "Set-Cookie: %s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Lax%s\r\n",
                  req->w->cfg->session_cookie, value, max_age, req->https ? "; Secure" : "");
}

int pb_session_load(pb_req *req)
{
    pb_session *s = S(req);
    if (s->loaded)
        return s->unavailable ? -1 : 0;
    s->loaded = 1;
    const pb_field *f = pb_params_get(&req->in.cookies, req->w->cfg->session_cookie);
    if (f == NULL || f->path || !pb_session_id_valid(f->value))
        return 0;
    set_id(s, f->value);
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%ld", req->w->cfg->session_idle);
    const char *argv[] = {"GETEX", s->key, "EX", ttl};
    redisReply *r = kv(req, 4, argv, NULL);
    if (r == NULL)
        return -1;
    json_t *data = r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
    freeReplyObject(r);
    json_int_t created = json_integer_value(json_object_get(data, "created"));
    if (data && created + req->w->cfg->session_lifetime < (json_int_t)time(NULL)) {
        json_decref(data); /* past its absolute lifetime, however active */
        data = NULL;
        const char *del[] = {"DEL", s->key};
        redisReply *d = kv(req, 2, del, NULL);
        if (d)
            freeReplyObject(d);
    }
    if (data == NULL) {
        set_cookie(req, "", 0); /* a stale cookie: tell the browser to drop it */
        s->id[0] = s->key[0] = '\0';
        return 0;
    }
    s->data = data;
    s->exists = 1;
    return 0;
}

static const char *data_str(pb_req *req, const char *key)
{
    if (pb_session_load(req) < 0 || !S(req)->exists)
        return NULL;
    const char *v = json_string_value(json_object_get(S(req)->data, key));
    return v && v[0] ? v : NULL;
}

const char *pb_session_user(pb_req *req)
{
    return data_str(req, "uid");
}

const char *pb_session_team(pb_req *req)
{
    return data_str(req, "tid");
}

int pb_session_level(pb_req *req)
{
    return pb_session_user(req) ? (int)json_integer_value(json_object_get(S(req)->data, "lvl")) : 0;
}

/* Every signed-in session is listed under its user (pb:u:<uid>), so
 * "sign out everywhere" can find them. Entries of sessions that expired on
 * their own are harmless: deleting a missing key does nothing. */
static void user_index_key(const char *uid, char *out, size_t n)
{
    snprintf(out, n, "pb:u:%s", uid);
}

static int index_session(pb_req *req)
{
    const char *uid = json_string_value(json_object_get(S(req)->data, "uid"));
    if (uid == NULL || uid[0] == '\0')
        return 0;
    char key[80], life[24];
    user_index_key(uid, key, sizeof key);
    snprintf(life, sizeof life, "%ld", req->w->cfg->session_lifetime);
    const char *add[] = {"SADD", key, S(req)->key};
    const char *ex[] = {"EXPIRE", key, life};
    redisReply *r = kv(req, 3, add, NULL);
    redisReply *x = r ? kv(req, 3, ex, NULL) : NULL;
    if (r)
        freeReplyObject(r);
    if (x)
        freeReplyObject(x);
    return x ? 0 : -1;
}

int pb_session_revoke_user(pb_req *req, const char *uid, int keep_current)
{
    char key[80];
    user_index_key(uid, key, sizeof key);
    const char *members[] = {"SMEMBERS", key};
    redisReply *r = kv(req, 2, members, NULL);
    if (r == NULL)
        return -1;
    const char *keep = keep_current && S(req)->exists ? S(req)->key : NULL;
    int rc = 0;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements && rc == 0; i++) {
        const char *k = r->element[i]->str;
        if (k == NULL || (keep && strcmp(k, keep) == 0))
            continue;
        const char *del[] = {"DEL", k};
        const char *rem[] = {"SREM", key, k};
        redisReply *d = kv(req, 2, del, NULL), *m = d ? kv(req, 3, rem, NULL) : NULL;
        rc = m ? 0 : -1;
        if (d)
            freeReplyObject(d);
        if (m)
            freeReplyObject(m);
    }
    freeReplyObject(r);
    if (rc == 0 && S(req)->exists && !keep) {
        const char *cur = json_string_value(json_object_get(S(req)->data, "uid"));
        const char *real = json_string_value(json_object_get(S(req)->data, "ruid"));
        if ((cur && strcmp(cur, uid) == 0) || (real && strcmp(real, uid) == 0))
            return pb_session_logout(req);
    }
    return rc;
}

int pb_session_view_as(pb_req *req, const char *uid, int level, const char *name)
{
    if (pb_session_load(req) < 0 || !S(req)->exists)
        return -1;
    json_t *d = S(req)->data;
    const char *real = json_string_value(json_object_get(d, "ruid"));
    if (uid) {
        if (real == NULL) { /* the first step away from oneself: remember who */
            json_object_set(d, "ruid", json_object_get(d, "uid"));
            json_object_set(d, "rlvl", json_object_get(d, "lvl"));
        }
        json_object_set_new(d, "uid", json_string(uid));
        json_object_set_new(d, "lvl", json_integer(level));
        json_object_set_new(d, "vname", json_string(name ? name : ""));
    } else if (real) {
        json_object_set(d, "uid", json_object_get(d, "ruid"));
        json_object_set(d, "lvl", json_object_get(d, "rlvl"));
        json_object_del(d, "ruid");
        json_object_del(d, "rlvl");
        json_object_del(d, "vname");
    }
    S(req)->dirty = 1;
    return 0;
}

void pb_session_set_level(pb_req *req, int level)
{
    if (S(req)->exists) {
        json_object_set_new(S(req)->data, "lvl", json_integer(level));
        S(req)->dirty = 1;
    }
}

const char *pb_session_real_user(pb_req *req)
{
    return data_str(req, "ruid");
}

const char *pb_session_view_as_name(pb_req *req)
{
    return pb_session_real_user(req) ? json_string_value(json_object_get(S(req)->data, "vname"))
                                     : NULL;
}

/* Replaces the session with a new id holding data. */
static int start(pb_req *req, json_t *data)
{
    pb_session *s = S(req);
    if (s->exists) {
        const char *del[] = {"DEL", s->key};
        redisReply *r = kv(req, 2, del, NULL);
        if (r == NULL) {
            json_decref(data);
            return -1;
        }
        freeReplyObject(r);
    }
    char id[48], csrf[48];
    random_token(id, sizeof id);
    random_token(csrf, sizeof csrf);
    json_object_set_new(data, "csrf", json_string(csrf));
    json_object_set_new(data, "created", json_integer((json_int_t)time(NULL)));
    json_decref(s->data);
    s->data = data;
    set_id(s, id);
    s->exists = s->dirty = s->loaded = 1;
    set_cookie(req, id, req->w->cfg->session_lifetime);
    return index_session(req);
}

int pb_session_login(pb_req *req, const char *user_id, const char *team_id, int level)
{
    if (pb_session_load(req) < 0)
        return -1;
    json_t *old = S(req)->exists ? S(req)->data : NULL;
    json_t *data =
        json_pack("{s:s, s:s, s:i}", "uid", user_id, "tid", team_id ? team_id : "", "lvl", level);
    json_t *flash = json_object_get(old, "flash"); /* a message queued before login stays */
    if (flash)
        json_object_set(data, "flash", flash);
    return start(req, data);
}

int pb_session_logout(pb_req *req)
{
    pb_session *s = S(req);
    if (pb_session_load(req) < 0)
        return -1;
    if (s->exists) {
        const char *uid = json_string_value(json_object_get(s->data, "ruid"));
        if (uid == NULL)
            uid = json_string_value(json_object_get(s->data, "uid"));
        char key[80];
        user_index_key(uid ? uid : "", key, sizeof key);
        const char *del[] = {"DEL", s->key};
        const char *rem[] = {"SREM", key, s->key};
        redisReply *r = kv(req, 2, del, NULL);
        if (r == NULL)
            return -1;
        freeReplyObject(r);
        if (uid && (r = kv(req, 3, rem, NULL)) != NULL)
            freeReplyObject(r);
    }
    json_decref(s->data);
    s->data = NULL;
    s->exists = s->dirty = 0;
    set_cookie(req, "", 0);
    return 0;
}

const char *pb_session_csrf(pb_req *req)
{
    if (pb_session_load(req) < 0)
        return NULL;
    if (!S(req)->exists && start(req, json_object()) < 0)
        return NULL;
    return json_string_value(json_object_get(S(req)->data, "csrf"));
}

int pb_session_csrf_ok(pb_req *req)
{
    if (pb_session_load(req) < 0 || !S(req)->exists)
        return 0;
    const char *want = json_string_value(json_object_get(S(req)->data, "csrf"));
    const pb_field *f = pb_params_get(&req->in.form, "_csrf");
    const char *got = f && !f->path ? f->value : pb_request_header(req, "X-CSRF-Token");
    if (got == NULL && req->in.json)
        got = json_string_value(json_object_get(req->in.json, "_csrf"));
    return pb_csrf_equal(want, got);
}

/* Returns the session's member name (made with make() when missing),
 * starting an anonymous session if there is none, and marks the session
 * changed; NULL when Redis is unavailable. */
static json_t *writable(pb_req *req, const char *name, json_t *(*make)(void))
{
    if (pb_session_load(req) < 0 || (!S(req)->exists && start(req, json_object()) < 0))
        return NULL;
    json_t *v = json_object_get(S(req)->data, name);
    if (v == NULL) {
        v = make();
        json_object_set_new(S(req)->data, name, v);
    }
    S(req)->dirty = 1;
    return v;
}

int pb_session_flash(pb_req *req, const char *kind, const char *text)
{
    json_t *list = writable(req, "flash", json_array);
    if (list == NULL)
        return -1;
    return json_array_append_new(list, json_pack("{s:s, s:s}", "kind", kind, "text", text));
}

const char *pb_session_get(pb_req *req, const char *key)
{
    if (pb_session_load(req) < 0 || !S(req)->exists)
        return NULL;
    return json_string_value(json_object_get(json_object_get(S(req)->data, "kv"), key));
}

int pb_session_set(pb_req *req, const char *key, const char *value)
{
    json_t *kvs = writable(req, "kv", json_object);
    if (kvs == NULL)
        return -1;
    if (value)
        json_object_set_new(kvs, key, json_string(value));
    else
        json_object_del(kvs, key);
    return 0;
}

int pb_session_finish(pb_req *req, int show_flash, json_t **flash)
{
    pb_session *s = S(req);
    *flash = NULL;
    if (!s->exists)
        return 0;
    json_t *list = json_object_get(s->data, "flash");
    if (show_flash && json_array_size(list) > 0) {
        *flash = json_incref(list);
        json_object_del(s->data, "flash");
        s->dirty = 1;
    }
    if (!s->dirty)
        return 0;
    pb_buf text = PB_BUF_INIT;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%ld", req->w->cfg->session_idle);
    int rc = -1;
    if (pb_json_write(&text, s->data) == 0) {
        const char *argv[] = {"SET", s->key, text.data, "EX", ttl};
        size_t lens[] = {3, strlen(s->key), text.len, 2, strlen(ttl)};
        redisReply *r = kv(req, 5, argv, lens);
        if (r) {
            rc = 0;
            freeReplyObject(r);
        }
    }
    pb_buf_free(&text);
    s->dirty = 0;
    return rc;
}

void pb_session_free(pb_session *s)
{
    json_decref(s->data);
    memset(s, 0, sizeof *s);
}
