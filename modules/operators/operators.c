/*
 * operators.c - the people who operate the installation: a list, and
 * granting or revoking the flag by e-mail address.
 *
 * Operators hold the installation's permissions (system:...: backups, the
 * modules console, the system log, the cache, host-wide jobs) whatever
 * their role in any team; administering a team gives none of them. The
 * table and its rules are core's (sql/core/007_operators.sql): this module
 * calls core.operator_list/grant/revoke, which check the caller again, and
 * audits each change. `plugboard operator add|remove|list` does the same
 * from the command line when nobody can sign in as an operator.
 */
#include <plugboard.h>
#include <stdio.h>
#include <string.h>

static const pb_host *host;

#define LAST_OPERATOR                                                                              \
    "This is the installation's last operator: grant the flag to someone else first."

static json_t *rows_of(pb_req *req, const char *sql, int n, const char *const *params)
{
    json_t *rows = NULL;
    if (host->db_query(req, sql, n, params, &rows) < 0) {
        json_decref(rows);
        return NULL;
    }
    return rows;
}

/* Fills the page: every operator, marked when it is the viewer. */
static int fill_list(pb_req *req)
{
    json_t *rows = rows_of(req,
                           "SELECT user_id::text AS id, email, display_name AS name, is_active, "
                           "to_char(granted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC' "
                           "AS granted, granted_by_email AS granted_by, "
                           "user_id = core.uid() AS me FROM core.operator_list()",
                           0, NULL);
    if (rows == NULL)
        return PB_ERROR;
    json_t *m = host->model(req);
    json_object_set_new(m, "count", json_integer((json_int_t)json_array_size(rows)));
    json_object_set_new(m, "last", json_boolean(json_array_size(rows) <= 1));
    json_object_set_new(m, "operators", rows);
    return PB_OK;
}

/* Answers a refused change with the page and the field's message. */
static int refuse(pb_req *req, int status, const char *field, const char *message)
{
    json_object_set_new(host->model(req), "message", json_string(message));
    host->input_fail(req, field, message);
    return fill_list(req) == PB_OK ? status : PB_ERROR;
}

/* GET /admin/operators */
static int list_page(pb_req *req)
{
    return fill_list(req) == PB_OK ? 200 : PB_ERROR;
}

/* POST /admin/operators - {email}: that account becomes an operator. */
static int grant(pb_req *req)
{
    const char *email = NULL;
    host->input_email(req, "email", PB_REQUIRED, &email);
    json_object_set_new(host->model(req), "values", json_pack("{s:s?}", "email", email));
    if (host->input_errors(req))
        return fill_list(req) == PB_OK ? 400 : PB_ERROR;
    const char *params[] = {email};
    json_t *rows =
        rows_of(req, "SELECT user_id::text AS id, already FROM core.operator_grant($1)", 1, params);
    if (rows == NULL)
        return PB_ERROR;
    json_t *row = json_array_get(rows, 0);
    char id[40], msg[320];
    snprintf(id, sizeof id, "%s", row ? json_string_value(json_object_get(row, "id")) : "");
    bool already = json_is_true(json_object_get(row, "already"));
    json_decref(rows);
    if (id[0] == '\0')
        return refuse(req, 404, "email", "No account has this e-mail address.");
    if (already)
        return refuse(req, 409, "email", "This account is an operator already.");
    json_t *after = json_pack("{s:s, s:b}", "email", email, "operator", 1);
    int rc = host->audit(req, "operator.grant", "user", id, NULL, after, 0);
    json_decref(after);
    if (rc != PB_OK)
        return PB_ERROR;
    host->permissions_changed(req, id); /* their navigation gains the installation's pages */
    snprintf(msg, sizeof msg, "%s is now an operator of the installation.", email);
    host->flash(req, "success", msg);
    return host->redirect(req, 303, "/admin/operators");
}

/* POST /admin/operators/:id/remove - takes the flag away (never from the
 * last operator). */
static int revoke(pb_req *req)
{
    const char *id = NULL;
    if (host->input_uuid(req, "id", PB_REQUIRED, &id) != PB_OK)
        return refuse(req, 404, "action", "There is no such operator.");
    json_t *count = rows_of(req, "SELECT count(*)::integer AS n FROM core.operators", 0, NULL);
    if (count == NULL)
        return PB_ERROR;
    long long n = json_integer_value(json_object_get(json_array_get(count, 0), "n"));
    json_decref(count);
    const char *params[] = {id};
    json_t *rows = NULL;
    if (n > 1 &&
        (rows = rows_of(req, "SELECT core.operator_revoke($1) AS email", 1, params)) == NULL)
        return PB_ERROR;
    const char *email = json_string_value(json_object_get(json_array_get(rows, 0), "email"));
    char addr[260], msg[320];
    snprintf(addr, sizeof addr, "%s", email ? email : "");
    json_decref(rows);
    if (addr[0] == '\0') {
        /* Either no such operator, or the last one (which was not tried). */
        json_t *is = rows_of(req, "SELECT 1 FROM core.operators WHERE user_id = $1", 1, params);
        if (is == NULL)
            return PB_ERROR;
        size_t found = json_array_size(is);
        json_decref(is);
        return found ? refuse(req, 409, "action", LAST_OPERATOR)
                     : refuse(req, 404, "action", "There is no such operator.");
    }
    json_t *before = json_pack("{s:s, s:b}", "email", addr, "operator", 1);
    int rc = host->audit(req, "operator.revoke", "user", id, before, NULL, 0);
    json_decref(before);
    if (rc != PB_OK)
        return PB_ERROR;
    host->permissions_changed(req, id);
    snprintf(msg, sizeof msg, "%s is no longer an operator.", addr);
    host->flash(req, "success", msg);
    const char *me = host->user_id(req);
    return host->redirect(req, 303, me && strcmp(me, id) == 0 ? "/" : "/admin/operators");
}

static const pb_route routes[] = {
    {PB_GET, "/admin/operators", list_page, "system:operators", 0, "operators/index"},
    {PB_POST, "/admin/operators", grant, "system:operators", 0, "operators/index"},
    {PB_POST, "/admin/operators/:id/remove", revoke, "system:operators", 0, "operators/index"},
    {0},
};

static const pb_nav nav[] = {
    {"Operators", "/admin/operators", "system:operators", 96},
    {0},
};

static const pb_permission permissions[] = {
    {"system:operators", "Operators: see who operates the installation, grant and revoke it"},
    {0},
};

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host) || h->permissions_changed == NULL) {
        snprintf(err, errlen, "host function table too old: no permissions_changed");
        return -1;
    }
    host = h;
    return 0;
}

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "operators",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .permissions = permissions,
    .init = init,
};
