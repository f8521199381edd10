/*
 * testkit.c - a test module that exposes the host's request and response
 * functions over HTTP, so integration tests can drive every parser,
 * accessor and renderer through the real nginx + plugboard stack.
 */
#include <plugboard.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const pb_host *host;

static void put_str(json_t *o, const char *key, const char *v)
{
    json_object_set_new(o, key, v ? json_string(v) : json_null());
}

/* GET|POST /test/echo - the fields q (query), f (form), c (cookie), the
 * JSON body, and the upload "file" (size and client name). */
static int echo(pb_req *req)
{
    json_t *m = host->model(req);
    put_str(m, "method", host->method(req));
    put_str(m, "path", host->path(req));
    put_str(m, "q", host->query(req, "q"));
    put_str(m, "f", host->form(req, "f"));
    put_str(m, "c", host->cookie(req, "c"));
    put_str(m, "user_agent", host->header(req, "User-Agent"));
    json_t *body = host->json_body(req);
    json_object_set(m, "json", body ? body : json_null());
    const char *path, *filename;
    size_t size;
    if (host->upload(req, "file", &path, &filename, &size) == PB_OK) {
        FILE *f = fopen(path, "rb");
        unsigned long sum = 0;
        int ch;
        while (f && (ch = fgetc(f)) != EOF)
            sum = sum * 31 + (unsigned char)ch;
        if (f)
            fclose(f);
        json_object_set_new(m, "file",
                            json_pack("{s:s, s:I, s:I}", "filename", filename, "size",
                                      (json_int_t)size, "hash", (json_int_t)(sum & 0xffffffff)));
    }
    return 200;
}

/* GET /test/params/:a/:b - route parameters, percent-decoded. */
static int params(pb_req *req)
{
    json_t *m = host->model(req);
    put_str(m, "a", host->param(req, "a"));
    put_str(m, "b", host->param(req, "b"));
    return 200;
}

/* GET|POST /test/typed - every typed accessor; 400 with per-field errors. */
static int typed(pb_req *req)
{
    json_t *m = host->model(req);
    const char *title = NULL, *id = NULL, *email = NULL;
    long long n = 0;
    bool flag = false;
    pb_date day = {0};
    host->input_str(req, "title", PB_REQUIRED, 1, 20, &title);
    host->input_int(req, "n", PB_REQUIRED, 1, 100, &n);
    int has_flag = host->input_bool(req, "flag", 0, &flag);
    host->input_uuid(req, "id", 0, &id);
    host->input_email(req, "email", 0, &email);
    int has_day = host->input_date(req, "day", 0, &day);
    json_object_set_new(m, "values",
                        json_pack("{s:s?, s:I, s:b, s:s?, s:s?}", "title", title, "n",
                                  (json_int_t)n, "flag", has_flag == PB_OK && flag, "id", id,
                                  "email", email));
    if (has_day == PB_OK) {
        char d[16];
        snprintf(d, sizeof d, "%04d-%02d-%02d", day.year, day.month, day.day);
        json_object_set_new(json_object_get(m, "values"), "day", json_string(d));
    }
    return host->input_errors(req) ? 400 : 200;
}

/* GET /test/redirect?to=PATH */
static int redirect(pb_req *req)
{
    const char *to = host->query(req, "to");
    int st = host->redirect(req, 0, to ? to : "/");
    if (st == PB_INVALID) {
        json_object_set_new(host->model(req), "message", json_string("refused: not a local path"));
        return 400;
    }
    return st;
}

/* GET /test/cookie - sets one cookie and tries two unsafe ones. */
static int cookie(pb_req *req)
{
    json_t *m = host->model(req);
    json_object_set_new(m, "good", json_integer(host->set_cookie(req, "flavour", "oat", NULL)));
    json_object_set_new(m, "bad_value", json_integer(host->set_cookie(req, "x", "a;b", NULL)));
    json_object_set_new(m, "bad_header",
                        json_integer(host->set_header(req, "X-Test", "a\r\nInjected: 1")));
    host->set_header(req, "X-Test", "ok");
    return 200;
}

/* GET /test/escape - text that must arrive escaped in HTML. */
static int escape(pb_req *req)
{
    json_object_set_new(host->model(req), "text",
                        json_string("<script>alert(\"x\")</script> & 'quotes'"));
    return 200;
}

/* GET /test/fail - a handler error: 500, rendered by the host. */
static int fail(pb_req *req)
{
    (void)req;
    return PB_ERROR;
}

/* GET /test/log?level=warn&text=T - writes T to the system log through
 * host->log (fields module and route), for the system log's tests. */
static int log_text(pb_req *req)
{
    const char *text = "", *level = "warn";
    host->input_str(req, "text", 0, 0, 500, &text);
    host->input_str(req, "level", 0, 0, 8, &level);
    int l = strcmp(level, "error") == 0  ? PB_LOG_ERROR
            : strcmp(level, "info") == 0 ? PB_LOG_INFO
                                         : PB_LOG_WARN;
    host->log(req, l, "testkit says: %s", text);
    return 200;
}

/* POST /test/tx/:mode - inserts a note, then succeeds (ok), fails in the
 * handler (fail), refuses the input (invalid) or runs a bad statement
 * (sqlerror). Only "ok" may leave a row behind. */
static int tx(pb_req *req)
{
    const char *mode = host->param(req, "mode"), *body = "note";
    host->input_str(req, "body", 0, 1, 200, &body);
    const char *params[] = {body};
    if (host->db_query(req, "INSERT INTO testkit.notes (body) VALUES ($1)", 1, params, NULL) < 0)
        return PB_ERROR;
    if (strcmp(mode, "ok") == 0)
        return 201;
    if (strcmp(mode, "invalid") == 0)
        return host->input_str(req, "never_sent", PB_REQUIRED, 1, 1, &body) == PB_OK ? 201 : 400;
    if (strcmp(mode, "sqlerror") == 0)
        return host->db_query(req, "SELECT 1/0", 0, NULL, NULL) < 0 ? PB_ERROR : 200;
    return PB_ERROR;
}

/* GET /test/tx-count?body=B - notes with that body. */
static int tx_count(pb_req *req)
{
    const char *body = "note";
    host->input_str(req, "body", 0, 1, 200, &body);
    const char *params[] = {body};
    json_t *rows = NULL;
    if (host->db_query(req, "SELECT count(*)::int AS n FROM testkit.notes WHERE body = $1", 1,
                       params, &rows) < 0)
        return PB_ERROR;
    json_object_set(host->model(req), "count", json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return 200;
}

/* GET /test/tx-context - the row-security context the request's
 * transaction carries, and whether it is one transaction. */
static int tx_context(pb_req *req)
{
    json_t *rows = NULL, *again = NULL;
    const char *sql = "SELECT current_setting('plugboard.user_id', true) AS user_id, "
                      "current_setting('plugboard.team_id', true) AS team_id, "
                      "current_setting('plugboard.role_level', true) AS role_level, "
                      "txid_current() AS txid";
    if (host->db_query(req, sql, 0, NULL, &rows) < 0 ||
        host->db_query(req, "SELECT txid_current() AS txid", 0, NULL, &again) < 0) {
        json_decref(rows);
        return PB_ERROR;
    }
    json_t *m = host->model(req), *r = json_array_get(rows, 0);
    json_object_update(m, r);
    json_object_set_new(
        m, "same_transaction",
        json_boolean(json_equal(json_object_get(r, "txid"),
                                json_object_get(json_array_get(again, 0), "txid"))));
    json_decref(rows);
    json_decref(again);
    return 200;
}

/* POST /test/session/login - signs in whoever the test names (the auth
 * module's password check is not involved). */
static int session_login(pb_req *req)
{
    const char *user = NULL, *team = "";
    long long level = 0;
    host->input_uuid(req, "user", PB_REQUIRED, &user);
    host->input_uuid(req, "team", 0, &team);
    host->input_int(req, "level", 0, 0, 100, &level);
    if (host->input_errors(req))
        return 400;
    return host->login(req, user, team, (int)level) == PB_OK ? 200 : 503;
}

/* POST /test/users - a user with a real password (argon2id, as the auth
 * module hashes), in a new team of their own or in team at level. */
static int make_user(pb_req *req)
{
    const char *email = NULL, *name = NULL, *password = NULL, *team = NULL;
    long long level = 100;
    host->input_email(req, "email", PB_REQUIRED, &email);
    host->input_str(req, "name", PB_REQUIRED, 1, 120, &name);
    host->input_str(req, "password", PB_REQUIRED, 1, 200, &password);
    host->input_uuid(req, "team", 0, &team);
    host->input_int(req, "level", 0, 0, 100, &level);
    if (host->input_errors(req))
        return 400;
    char hash[crypto_pwhash_STRBYTES], lvl[8];
    /* argon2id at its lowest cost: the parameters travel in the hash, so
     * sign-in verifies it as any other, and test users cost no 64 MiB and
     * tenth of a second each (under a loaded CI machine that brushed the
     * test stack's 3 s request timeout). */
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_MIN,
                          crypto_pwhash_MEMLIMIT_MIN) != 0)
        return PB_ERROR;
    snprintf(lvl, sizeof lvl, "%lld", level);
    const char *params[] = {email, name, hash, team, lvl};
    json_t *rows = NULL;
    if (host->db_query(req,
                       "SELECT user_id::text AS user_id, team_id::text AS team_id "
                       "FROM testkit.make_user($1, $2, $3, $4, $5)",
                       5, params, &rows) < 0)
        return PB_ERROR;
    json_object_update(host->model(req), json_array_get(rows, 0));
    json_decref(rows);
    return 200;
}

/* POST /test/mail - queues an e-mail through the host's outbox. */
static int send_mail(pb_req *req)
{
    const char *to = NULL, *subject = NULL, *text = NULL;
    host->input_str(req, "to", PB_REQUIRED, 1, 300, &to);
    host->input_str(req, "subject", PB_REQUIRED, 1, 300, &subject);
    host->input_str(req, "text", PB_REQUIRED, 1, 10000, &text);
    if (host->input_errors(req))
        return 400;
    int rc = host->mail(req, to, subject, text);
    if (rc == PB_INVALID)
        return host->input_fail(req, "to", "Not a single e-mail address.") == PB_INVALID ? 400
                                                                                         : PB_ERROR;
    return rc == PB_OK ? 200 : PB_ERROR;
}

/* POST /test/session/token - API tokens for whoever the test names. */
static int session_token(pb_req *req)
{
    const char *user = NULL, *team = NULL;
    long long level = 0;
    host->input_uuid(req, "user", PB_REQUIRED, &user);
    host->input_uuid(req, "team", PB_REQUIRED, &team);
    host->input_int(req, "level", 0, 0, 100, &level);
    if (host->input_errors(req))
        return 400;
    json_t *out = NULL;
    if (host->token_issue(req, user, team, (int)level, &out) != PB_OK)
        return PB_ERROR;
    json_object_update(host->model(req), out);
    json_decref(out);
    return 200;
}

/* GET /test/session/whoami - identity and a CSRF token (which starts an
 * anonymous session when there is none). */
static int session_whoami(pb_req *req)
{
    json_t *m = host->model(req);
    put_str(m, "user", host->user_id(req));
    put_str(m, "team", host->team_id(req));
    put_str(m, "real_user", host->real_user_id(req));
    json_object_set_new(m, "level", json_integer(host->role_level(req)));
    json_object_set_new(m, "bearer", json_boolean(host->bearer(req)));
    if (!host->bearer(req))
        put_str(m, "csrf", host->csrf_token(req));
    return 200;
}

/* POST /test/session/logout */
static int session_logout(pb_req *req)
{
    return host->logout(req) == PB_OK ? 200 : 503;
}

/* POST /test/session/flash - queues a message and redirects to a page. */
static int session_flash(pb_req *req)
{
    const char *text = "saved";
    host->input_str(req, "text", 0, 1, 100, &text);
    if (host->flash(req, "success", text) != PB_OK)
        return 503;
    return host->redirect(req, 303, "/test/escape");
}

/* GET /test/private - needs the permission test:read. */
static int private_page(pb_req *req)
{
    put_str(host->model(req), "user", host->user_id(req));
    return 200;
}

/* GET /test/team-notes - forgets its team filter on purpose: row-level
 * security alone must keep other teams' rows out. */
static int team_notes(pb_req *req)
{
    json_t *rows = NULL;
    if (host->db_query(req,
                       "SELECT team_id::text AS team, body FROM testkit.team_notes ORDER BY id", 0,
                       NULL, &rows) < 0)
        return PB_ERROR;
    json_object_set_new(host->model(req), "notes", rows);
    return 200;
}

/* --- The cache ---------------------------------------------------------------
 * GET /test/cache/:ns/:key?value=V&tags=a,b&ttl=N - get-or-compute: a hit
 * answers the stored value; a miss "computes" V (default "computed"),
 * stores it with the tags and answers it. With Redis down the value is
 * still answered ("source": "fallback"). POST /test/cache/rollback/:ns/:key
 * stores then fails (400): the entry must not survive. */

static int cache_fill(pb_req *req)
{
    const char *ns = host->param(req, "ns"), *key = host->param(req, "key");
    const char *value = "computed", *tagtext = NULL, *tags[9] = {NULL};
    long long ttl = 60;
    char tagbuf[400], *v = NULL;
    size_t len = 0, n = 0;
    host->input_str(req, "value", 0, 0, 1000, &value);
    host->input_str(req, "tags", 0, 1, 399, &tagtext);
    host->input_int(req, "ttl", 0, -5, 100000000, &ttl);
    if (host->input_errors(req))
        return 400;
    snprintf(tagbuf, sizeof tagbuf, "%s", tagtext ? tagtext : "");
    for (char *save = NULL, *t = strtok_r(tagbuf, ",", &save); t && n < 8;
         t = strtok_r(NULL, ",", &save))
        tags[n++] = t;
    json_t *m = host->model(req);
    int rc = host->cache_get(req, ns, key, &v, &len);
    json_object_set_new(m, "get", json_integer(rc));
    if (rc == PB_OK) {
        json_object_set_new(m, "source", json_string("cache"));
        json_object_set_new(m, "value", json_stringn(v, len));
        free(v);
        return 200;
    }
    if (rc == PB_INVALID)
        return 400;
    int set = host->cache_set(req, ns, key, value, strlen(value), (long)ttl, n ? tags : NULL);
    json_object_set_new(m, "set", json_integer(set));
    json_object_set_new(m, "source", json_string(rc == PB_ABSENT ? "computed" : "fallback"));
    json_object_set_new(m, "value", json_string(value));
    return set == PB_INVALID ? 400 : 200;
}

static int cache_rollback(pb_req *req)
{
    const char *ns = host->param(req, "ns"), *key = host->param(req, "key");
    int rc = host->cache_set(req, ns, key, "doomed", 6, 60, NULL);
    json_object_set_new(host->model(req), "set", json_integer(rc));
    return 400;
}

/* POST /test/cache/invalidate - {tag}; POST /test/cache/del/:ns/:key. */
static int cache_invalidate(pb_req *req)
{
    const char *tag = NULL;
    if (host->input_str(req, "tag", PB_REQUIRED, 0, 1000, &tag) != PB_OK)
        return 400;
    int rc = host->cache_invalidate_tag(req, tag);
    json_object_set_new(host->model(req), "result", json_integer(rc));
    return rc == PB_INVALID ? 400 : rc == PB_OK ? 200 : 503;
}

static int cache_delete(pb_req *req)
{
    int rc = host->cache_del(req, host->param(req, "ns"), host->param(req, "key"));
    json_object_set_new(host->model(req), "result", json_integer(rc));
    return rc == PB_INVALID ? 400 : rc == PB_ERROR ? 503 : 200;
}
/* --- Jobs ------------------------------------------------------------------ */

/* POST /test/jobs - enqueues a run of `name` (default testkit.record) with
 * the payload fields tag, steps, step_ms and fail, an optional key and
 * delay; answers its id, and what the job functions say outside a run. */
static int enqueue_job(pb_req *req)
{
    const char *name = "testkit.record", *tag = NULL, *fail = NULL, *key = NULL;
    long long steps = 0, step_ms = 0, delay = 0;
    host->input_str(req, "name", 0, 1, 120, &name);
    host->input_str(req, "tag", 0, 1, 100, &tag);
    host->input_str(req, "fail", 0, 1, 200, &fail);
    host->input_str(req, "key", 0, 1, 200, &key);
    host->input_int(req, "steps", 0, 0, 1000, &steps);
    host->input_int(req, "step_ms", 0, 0, 600000, &step_ms);
    host->input_int(req, "delay", 0, 0, 86400, &delay);
    if (host->input_errors(req))
        return 400;
    json_t *payload = json_pack("{s:s?, s:I, s:I, s:s?}", "tag", tag, "steps", (json_int_t)steps,
                                "step_ms", (json_int_t)step_ms, "fail", fail);
    long long id = host->job_enqueue(req, name, payload, key, (long)delay);
    json_decref(payload);
    json_t *m = host->model(req);
    json_object_set_new(m, "id", json_integer(id));
    json_object_set_new(m, "outside_id", json_integer(host->job_id(req)));
    json_object_set_new(m, "outside_payload", json_boolean(host->job_payload(req) != NULL));
    json_object_set_new(m, "outside_progress", json_integer(host->job_progress(req, 5, "x")));
    return id > 0 ? 200 : PB_ERROR;
}

/* The job testkit.record: writes one result row (in the run's
 * transaction, so it exists only if the run commits) and an audit row,
 * then sleeps `steps` times `step_ms`, reporting progress; fails with the
 * payload's `fail` text when there is one. */
static int job_record(pb_req *req)
{
    json_t *p = host->job_payload(req);
    const char *tag = json_string_value(json_object_get(p, "tag"));
    const char *fail = json_string_value(json_object_get(p, "fail"));
    long long steps = json_integer_value(json_object_get(p, "steps"));
    long long step_ms = json_integer_value(json_object_get(p, "step_ms"));
    char id[24], level[12];
    snprintf(id, sizeof id, "%lld", host->job_id(req));
    snprintf(level, sizeof level, "%d", host->role_level(req));
    const char *params[] = {id,
                            tag,
                            host->user_id(req),
                            host->team_id(req),
                            level,
                            host->client_ip(req),
                            host->header(req, "User-Agent")};
    if (host->db_query(req,
                       "INSERT INTO testkit.job_results (job_id, tag, user_id, team_id, level, ip, "
                       "agent) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                       7, params, NULL) < 0 ||
        host->audit(req, "testkit.job", "job", id, NULL, p, 0) != PB_OK)
        return PB_ERROR;
    for (long long i = 0; i < steps; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "step %lld of %lld", i + 1, steps);
        if (host->job_progress(req, (int)(i * 100 / steps), msg) != PB_OK)
            return PB_ERROR;
        struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (fail) {
        json_object_set_new(host->model(req), "error", json_string(fail));
        return PB_ERROR;
    }
    return PB_OK;
}

static const pb_job jobs[] = {
    {"record", NULL, job_record},
    {"tick", "0 3 * * *", job_record}, /* a module's cron schedule, in [scheduler] timezone */
    {0},
};

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET | PB_POST | PB_PUT, "/test/echo", echo, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/params/:a/:b", params, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/params/fixed/:b", params, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET | PB_POST, "/test/typed", typed, NULL, PB_PUBLIC, "testkit/typed"},
    {PB_GET, "/test/redirect", redirect, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/cookie", cookie, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/escape", escape, NULL, PB_PUBLIC, "testkit/escape"},
    {PB_GET, "/test/fail", fail, NULL, PB_PUBLIC, "testkit/escape"},
    {PB_GET, "/test/log", log_text, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/tx/:mode", tx, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/tx-get/:mode", tx, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/tx-count", tx_count, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET | PB_POST, "/test/tx-context", tx_context, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/session/login", session_login, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/mail", send_mail, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/users", make_user, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/session/token", session_token, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/session/whoami", session_whoami, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/session/logout", session_logout, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/session/flash", session_flash, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_GET, "/test/private", private_page, "test:read", PB_JSON_ONLY, NULL},
    {PB_GET, "/test/team-notes", team_notes, "test:read", PB_JSON_ONLY, NULL},
    {PB_GET, "/test/cache/:ns/:key", cache_fill, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/cache/rollback/:ns/:key", cache_rollback, NULL, PB_PUBLIC | PB_JSON_ONLY,
     NULL},
    {PB_POST, "/test/cache/invalidate", cache_invalidate, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/cache/del/:ns/:key", cache_delete, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {PB_POST, "/test/jobs", enqueue_job, NULL, PB_PUBLIC | PB_JSON_ONLY, NULL},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "testkit",
    .version = "0.0.1",
    .routes = routes,
    .jobs = jobs,
    .init = init,
};
