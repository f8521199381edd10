/*
 * console.c - the modules console: every module with its identity, state
 * and figures, the system events, and reload, enable and disable.
 *
 * The host gathers the figures and talks to the master
 * (host->module_report, host->module_control: include/plugboard.h). A
 * change takes effect through a new generation of workers: the answer
 * comes once it serves (this request then finishes on the old one), or as
 * the master's refusal with its reason. Every attempt is audited, a
 * refusal too.
 */
#include <plugboard.h>
#include <stdio.h>
#include <string.h>

static const pb_host *host;

#define NAME_MAX_LEN 31
#define MASTER_DOWN  "The master does not answer on its control socket; nothing was changed."

/* Modules the console never disables: without them nobody could sign in,
 * see the site, or come back here to enable them again. */
static const char *const protected_modules[] = {"console", "auth", "system", NULL};

static bool is_protected(const char *name)
{
    for (const char *const *p = protected_modules; *p; p++)
        if (strcmp(*p, name) == 0)
            return true;
    return false;
}

/* As the host decides for rendering: a JSON body, a bearer token, or JSON
 * listed before any HTML in Accept. */
static bool wants_json(pb_req *req)
{
    if (host->json_body(req) != NULL || host->bearer(req))
        return true;
    const char *accept = host->header(req, "Accept");
    const char *json = accept ? strstr(accept, "application/json") : NULL;
    const char *html = accept ? strstr(accept, "text/html") : NULL;
    return json && (html == NULL || json < html);
}

/* Sets "modules", "generation", "loaded_at" and "master" from the host's
 * report, marking what the page may offer for each module. */
static int fill_report(pb_req *req)
{
    json_t *report = host->module_report(req), *m;
    if (report == NULL)
        return PB_ERROR;
    size_t i;
    json_array_foreach(json_object_get(report, "modules"), i, m)
    {
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *state = json_string_value(json_object_get(m, "state"));
        bool disabled = state && strcmp(state, "disabled") == 0;
        json_object_set_new(m, "protected", json_boolean(name && is_protected(name)));
        json_object_set_new(m, "disabled", json_boolean(disabled));
        json_object_set_new(m, "loaded",
                            json_boolean(json_object_get(m, "sha256") != NULL ||
                                         json_object_get(m, "version") != NULL));
        json_object_set_new(m, "alert",
                            json_boolean(state && strcmp(state, "active") != 0 && !disabled));
    }
    json_object_update(host->model(req), report);
    json_decref(report);
    return PB_OK;
}

/* Sets "events": the newest 20 system events, quarantines and rollbacks
 * marked. */
static int fill_events(pb_req *req)
{
    json_t *rows = NULL;
    const char *sql =
        "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS at_text, "
        "at, kind, module, detail, detail::text AS detail_text, "
        "kind IN ('module.quarantined', 'generation.rollback') AS alert "
        "FROM core.system_events ORDER BY at DESC, id DESC LIMIT 20";
    if (host->db_query(req, sql, 0, NULL, &rows) < 0)
        return PB_ERROR;
    json_object_set_new(host->model(req), "events", rows);
    return PB_OK;
}

static int fill_index(pb_req *req)
{
    /* Every console route is an operator's (system:modules). */
    json_object_set_new(host->model(req), "can", json_pack("{s:b}", "manage", 1));
    if (fill_report(req) != PB_OK || fill_events(req) != PB_OK)
        return PB_ERROR;
    return PB_OK;
}

/* GET /admin/modules - the table, the controls and the events. */
static int index_page(pb_req *req)
{
    return fill_index(req) == PB_OK ? 200 : PB_ERROR;
}

/* --- Changes ------------------------------------------------------------------ */

/* Ends a change: JSON answers with the model ("result"), a browser goes
 * back to the console with the outcome. */
static int outcome(pb_req *req, int status, const char *kind, const char *text)
{
    json_t *m = host->model(req);
    json_object_set_new(m, "message", json_string(text));
    if (wants_json(req)) {
        if (status >= 400 && !json_object_get(m, "error"))
            json_object_set_new(m, "error", json_string(text));
        if (status == 503)
            host->set_header(req, "Retry-After", "2");
        return status;
    }
    if (host->flash(req, kind, text) != PB_OK)
        return PB_ERROR;
    return host->redirect(req, 303, "/admin/modules");
}

/* Audits the attempt: the command, the module, and what the master said.
 * A refusal is kept even though the JSON answer (>= 400) rolls back. */
static int audit_attempt(pb_req *req, const char *action, const char *name, json_t *reply,
                         bool refused)
{
    json_t *after = json_pack("{s:O*}", "outcome", reply);
    int rc = host->audit(req, action, "module", name, NULL, after, refused ? PB_AUDIT_KEEP : 0);
    json_decref(after);
    return rc;
}

/* Runs command (on name, or NULL for a reload) and reports it. */
static int control(pb_req *req, const char *action, const char *command, const char *name)
{
    json_t *reply = NULL;
    int rc = host->module_control(req, command, name, &reply);
    json_object_set(host->model(req), "result", reply);
    char text[600];
    if (rc == PB_OK) {
        long long gen = json_integer_value(json_object_get(reply, "generation"));
        long long ms = (long long)json_number_value(json_object_get(reply, "took_ms"));
        if (name)
            snprintf(text, sizeof text, "Module %s is %sd: generation %lld is serving (%lld ms).",
                     name, command, gen, ms);
        else
            snprintf(text, sizeof text, "Generation %lld is serving (%lld ms).", gen, ms);
    } else {
        const char *error = json_string_value(json_object_get(reply, "error"));
        const char *module = json_string_value(json_object_get(reply, "module"));
        const char *reason = json_string_value(json_object_get(reply, "reason"));
        snprintf(text, sizeof text, "%s%s%s%s%s%s", rc == PB_ERROR ? MASTER_DOWN " " : "",
                 error ? error : "refused", module ? ": " : "", module ? module : "",
                 reason ? ": " : "", reason ? reason : "");
        json_object_set_new(host->model(req), "error", json_string(error ? error : "refused"));
    }
    int audited = audit_attempt(req, action, name, reply, rc != PB_OK);
    json_decref(reply);
    if (audited != PB_OK)
        return PB_ERROR;
    if (rc == PB_OK)
        return outcome(req, 200, "success", text);
    return outcome(req, rc == PB_ERROR ? 503 : 409, "error", text);
}

/* POST /admin/modules/reload - a new generation from the module files as
 * they are now. */
static int reload(pb_req *req)
{
    return control(req, "modules.reload", "reload", NULL);
}

/* The state the report gives name: "active", "quarantined", "failed",
 * "disabled", or NULL for a module nobody knows of. */
static const char *state_of(pb_req *req, const char *name, json_t **report)
{
    *report = host->module_report(req);
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(*report, "modules"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n && strcmp(n, name) == 0)
            return json_string_value(json_object_get(m, "state"));
    }
    return NULL;
}

/* POST /admin/modules/:name/enable and /disable. */
static int toggle(pb_req *req, bool disable)
{
    const char *name = NULL, *action = disable ? "modules.disable" : "modules.enable";
    const char *command = disable ? "disable" : "enable";
    char text[300];
    if (host->input_str(req, "name", PB_REQUIRED, 1, NAME_MAX_LEN, &name) != PB_OK)
        return 404;
    json_t *report = NULL;
    const char *state = state_of(req, name, &report);
    if (state == NULL) {
        json_decref(report);
        json_object_set_new(host->model(req), "message", json_string("There is no such module."));
        host->set_template(req, NULL);
        return 404;
    }
    bool disabled = strcmp(state, "disabled") == 0;
    json_decref(report);
    if (disable && is_protected(name)) {
        snprintf(text, sizeof text,
                 "Module %s cannot be disabled here: without it nobody could sign in or reach "
                 "this console to enable it again.",
                 name);
        json_t *reply = json_pack("{s:s}", "error", text);
        int rc = audit_attempt(req, action, name, reply, true);
        json_decref(reply);
        json_object_set_new(host->model(req), "error", json_string(text));
        return rc == PB_OK ? outcome(req, 409, "error", text) : PB_ERROR;
    }
    if (disable == disabled) {
        snprintf(text, sizeof text, "Module %s is already %sd.", name, command);
        return outcome(req, 200, "info", text);
    }
    return control(req, action, command, name);
}

static int enable(pb_req *req)
{
    return toggle(req, false);
}

static int disable(pb_req *req)
{
    return toggle(req, true);
}

/* --- The descriptor ---------------------------------------------------------------- */

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host) || h->module_report == NULL || h->module_control == NULL) {
        snprintf(err, errlen, "host function table too old: no modules console functions");
        return -1;
    }
    host = h;
    return 0;
}

static const pb_route routes[] = {
    {PB_GET, "/admin/modules", index_page, "system:modules", 0, "console/index"},
    {PB_POST, "/admin/modules/reload", reload, "system:modules", 0, "console/index"},
    {PB_POST, "/admin/modules/:name/enable", enable, "system:modules", 0, "console/index"},
    {PB_POST, "/admin/modules/:name/disable", disable, "system:modules", 0, "console/index"},
    {0},
};

static const pb_nav nav[] = {
    {"Modules", "/admin/modules", "system:modules", 95},
    {0},
};

static const pb_permission permissions[] = {
    {"system:modules", "Operators: see the loaded modules, their figures and the system events; "
                       "reload, enable and disable modules"},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "console",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .permissions = permissions,
    .init = init,
};
