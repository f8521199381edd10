/*
 * roles.c - the team's roles and the registry of permissions.
 *
 * A role's permissions come from a JSON body's "permissions" array, or
 * from a form's checkboxes "perm.<name>" (the form also sends "perms" to
 * say that it lists them). One may grant or revoke only permissions one
 * holds; a form cannot send the boxes it shows disabled, so there the
 * permissions the viewer does not hold stay as they are.
 */
#include "rbac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define host rbac_host

#define NO_ROLE  "There is no such role in this team."
#define BUILTINS "The built-in roles admin and member cannot be renamed or deleted."

/* --- Reading roles ---------------------------------------------------------- */

int rbac_roles_model(pb_req *req)
{
    json_t *roles = rbac_rows(
        req,
        "SELECT r.id, r.name, r.level, r.description, r.name IN ('admin', 'member') AS builtin, "
        "  (SELECT count(*) FROM core.user_roles ur WHERE ur.role_id = r.id)::integer AS members, "
        "  (SELECT count(*) FROM core.role_permissions rp WHERE rp.role_id = r.id)::integer "
        "    AS permissions, "
        "  r.level < core.level() AS editable, r.level <= core.level() AS assignable "
        "FROM core.roles r WHERE r.team_id = core.tid() ORDER BY r.level DESC, r.name",
        0, NULL);
    if (roles == NULL)
        return PB_ERROR;
    json_object_set_new(host->model(req), "roles", roles);
    return PB_OK;
}

/* One role of the current team with its permission names: 1 with *role
 * set, 0, PB_ERROR. */
static int role_get(pb_req *req, const char *id, json_t **role)
{
    const char *params[] = {id};
    return rbac_row(
        req,
        "SELECT r.id, r.name, r.level, r.description, r.name IN ('admin', 'member') AS builtin, "
        "  r.level < core.level() AS editable, "
        "  coalesce((SELECT json_agg(rp.permission ORDER BY rp.permission) "
        "              FROM core.role_permissions rp WHERE rp.role_id = r.id), '[]') "
        "    AS permissions "
        "FROM core.roles r WHERE r.id = $1 AND r.team_id = core.tid()",
        1, params, role);
}

/* What the audit trail keeps of a role (a new object, or NULL). */
static json_t *role_state(json_t *role)
{
    if (role == NULL)
        return NULL;
    return json_pack("{s:O, s:O, s:O, s:O}", "name", json_object_get(role, "name"), "level",
                     json_object_get(role, "level"), "description",
                     json_object_get(role, "description"), "permissions",
                     json_object_get(role, "permissions"));
}

/* The role page's model for the role in route param "id". PB_OK, PB_ERROR,
 * or PB_ABSENT when there is no such role. */
static int role_page(pb_req *req, const char *id)
{
    json_t *m = host->model(req), *role = NULL, *members;
    int found = role_get(req, id, &role);
    if (found <= 0)
        return found < 0 ? PB_ERROR : PB_ABSENT;
    json_object_set_new(m, "role", role);
    const char *params[] = {id};
    members = rbac_rows(req,
                        "SELECT u.id, u.display_name AS name, u.email, "
                        "  (SELECT r.level <= core.level() FROM core.roles r WHERE r.id = $1) "
                        "    AS removable "
                        "FROM core.user_roles ur JOIN core.users u ON u.id = ur.user_id "
                        "WHERE ur.role_id = $1 AND ur.team_id = core.tid() "
                        "ORDER BY u.display_name, u.email",
                        1, params);
    if (members == NULL)
        return PB_ERROR;
    json_object_set_new(m, "members", members);
    if (rbac_viewer(req) != PB_OK)
        return PB_ERROR;
    bool editable = rbac_can_manage(req) && json_is_true(json_object_get(role, "editable"));
    return rbac_permission_groups(req, id, editable);
}

/* The route's role id, or NULL after recording why (answer 404). */
static const char *role_id(pb_req *req)
{
    const char *id = NULL;
    return host->input_uuid(req, "id", PB_REQUIRED, &id) == PB_OK ? id : NULL;
}

/* Fills the role page again after a refused edit (browsers only). */
static int role_page_again(pb_req *req)
{
    const char *id = host->param(req, "id");
    return role_page(req, id) == PB_OK ? PB_OK : PB_ERROR;
}

/* GET /rbac/roles - the team's roles. */
int rbac_roles_list(pb_req *req)
{
    return rbac_roles_model(req) == PB_OK && rbac_viewer(req) == PB_OK ? 200 : PB_ERROR;
}

/* GET /rbac/roles/:id - a role, its permissions by module, its members. */
int rbac_role_show(pb_req *req)
{
    const char *id = role_id(req);
    if (id == NULL)
        return rbac_not_found(req, NO_ROLE);
    int rc = role_page(req, id);
    if (rc == PB_ABSENT)
        return rbac_not_found(req, NO_ROLE);
    return rc == PB_OK ? 200 : PB_ERROR;
}

/* --- The permissions a request asks for ------------------------------------- */

static bool has(json_t *names, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) if (strcmp(json_string_value(v), name) == 0) return true;
    return false;
}

/* Every permission a team role can hold: [{name, held}], held by the
 * viewer. The installation's (system:...) are operators', never a role's. */
static json_t *registry(pb_req *req)
{
    return rbac_rows(req,
                     "SELECT name, rbac.holds(name) AS held FROM core.permissions "
                     "WHERE name NOT LIKE '" PB_INSTALLATION_RESOURCE "%' ORDER BY 1",
                     0, NULL);
}

/* From a JSON body's "permissions": a new array, or NULL when absent or
 * invalid (a field error is then recorded). */
static json_t *json_permissions(pb_req *req, json_t *reg)
{
    json_t *list = json_object_get(host->json_body(req), "permissions"), *out, *v, *r;
    size_t i, j;
    if (list == NULL || json_is_null(list))
        return NULL;
    if (!json_is_array(list)) {
        host->input_fail(req, "permissions", "must be a list of permission names");
        return NULL;
    }
    out = json_array();
    json_array_foreach(list, i, v)
    {
        bool known = false;
        json_array_foreach(reg, j, r) known = known || json_equal(json_object_get(r, "name"), v);
        if (!known) {
            char msg[160];
            const char *name = json_is_string(v) ? json_string_value(v) : NULL;
            snprintf(msg, sizeof msg,
                     pb_permission_is_installation(name)
                         ? "%.100s belongs to operators of the installation: no team role holds it"
                         : "%.100s is not a registered permission",
                     name ? name : "a value that is not a name");
            host->input_fail(req, "permissions", msg);
            json_decref(out);
            return NULL;
        }
        if (!has(out, json_string_value(v)))
            json_array_append(out, v);
    }
    return out;
}

/* From a form's checkboxes when it sends "perms": the boxes the viewer may
 * tick, and current's state for the others. A new array, or NULL. */
static json_t *form_permissions(pb_req *req, json_t *reg, json_t *current)
{
    if (host->form(req, "perms") == NULL)
        return NULL;
    json_t *out = json_array(), *r;
    size_t i;
    json_array_foreach(reg, i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        char field[160];
        bool ticked = false;
        snprintf(field, sizeof field, "perm.%s", name);
        if (json_is_true(json_object_get(r, "held")))
            host->input_bool(req, field, 0, &ticked);
        else
            ticked = has(current, name);
        if (ticked)
            json_array_append_new(out, json_string(name));
    }
    return out;
}

/* Appends to out the names of a that b lacks. */
static void minus(json_t *a, json_t *b, json_t *out)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (!has(b, json_string_value(v))) json_array_append(out, v);
}

/* Records a field error when the change from current to wanted touches a
 * permission the viewer does not hold. Returns true when it does. */
static bool beyond_own(pb_req *req, json_t *reg, json_t *current, json_t *wanted)
{
    json_t *changed = json_array(), *r;
    size_t i;
    minus(wanted, current, changed);
    minus(current, wanted, changed);
    bool refused = false;
    json_array_foreach(reg, i, r)
    {
        const char *name = json_string_value(json_object_get(r, "name"));
        if (!refused && !json_is_true(json_object_get(r, "held")) && has(changed, name)) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "You can only grant or revoke permissions you hold yourself, "
                     "and you do not hold %s.",
                     name);
            host->input_fail(req, "permissions", msg);
            refused = true;
        }
    }
    json_decref(changed);
    return refused;
}

/* --- Changing roles ------------------------------------------------------------ */

typedef struct role_input {
    const char *name, *description;
    long long level; /* -1 when not given */
    json_t *perms;   /* the wanted set, or NULL to keep it */
    int status;      /* 0, or the status of the first refusal */
} role_input;

static void refuse_field(pb_req *req, role_input *in, int status, const char *field,
                         const char *message)
{
    host->input_fail(req, field, message);
    if (in->status == 0)
        in->status = status;
}

/* Reads and checks a role's fields against the viewer's level and the
 * team's other roles. current is the role being edited (NULL to create).
 * Afterwards in->status is 0 when everything may be written. */
static int role_input_read(pb_req *req, json_t *current, role_input *in)
{
    bool form = host->json_body(req) == NULL;
    unsigned need = current == NULL || form ? PB_REQUIRED : 0;
    in->name = in->description = NULL;
    in->level = -1;
    in->perms = NULL;
    in->status = 0;
    host->input_str(req, "name", need, 1, 60, &in->name);
    host->input_int(req, "level", need, 0, 100, &in->level);
    if (host->input_str(req, "description", 0, 0, 500, &in->description) == PB_ABSENT && form)
        in->description = ""; /* a form sends every field: an empty one clears it */
    json_t *reg = registry(req);
    if (reg == NULL)
        return PB_ERROR;
    json_t *none = json_array();
    json_t *had = current ? json_object_get(current, "permissions") : none;
    in->perms = form ? form_permissions(req, reg, had) : json_permissions(req, reg);
    if (in->perms && beyond_own(req, reg, had, in->perms))
        in->status = 403;
    json_decref(none);
    json_decref(reg);
    if (host->input_errors(req) && in->status == 0)
        in->status = 400;

    int level = host->role_level(req);
    char msg[160];
    if (in->level >= level) {
        snprintf(msg, sizeof msg, "must be below your own level (%d)", level);
        refuse_field(req, in, 403, "level", msg);
    }
    const char *old = json_string_value(json_object_get(current, "name"));
    if (in->name && old && json_is_true(json_object_get(current, "builtin")) &&
        strcmp(in->name, old) != 0)
        refuse_field(req, in, 403, "name", BUILTINS);
    if (in->name && (old == NULL || strcmp(in->name, old) != 0)) {
        const char *params[] = {in->name, json_string_value(json_object_get(current, "id"))};
        json_t *taken = NULL;
        int found = rbac_row(req,
                             "SELECT 1 AS taken FROM core.roles WHERE team_id = core.tid() "
                             "AND lower(name) = lower($1) AND id IS DISTINCT FROM $2::uuid",
                             2, params, &taken);
        json_decref(taken);
        if (found < 0)
            return PB_ERROR;
        if (found)
            refuse_field(req, in, 409, "name", "is taken by another role of this team");
    }
    return PB_OK;
}

/* Grants and revokes what turns the role's current permissions into
 * wanted. PB_OK or PB_ERROR. */
static int permissions_write(pb_req *req, const char *id, json_t *current, json_t *wanted)
{
    json_t *grant = json_array(), *revoke = json_array();
    minus(wanted, current, grant);
    minus(current, wanted, revoke);
    char *g = json_dumps(grant, JSON_COMPACT), *r = json_dumps(revoke, JSON_COMPACT);
    const char *pg[] = {id, g}, *pr[] = {id, r};
    int rc =
        g && r &&
                host->db_query(req,
                               "INSERT INTO core.role_permissions (role_id, permission) "
                               "SELECT $1, jsonb_array_elements_text($2::jsonb)",
                               2, pg, NULL) >= 0 &&
                host->db_query(req,
                               "DELETE FROM core.role_permissions WHERE role_id = $1 "
                               "AND permission IN (SELECT jsonb_array_elements_text($2::jsonb))",
                               2, pr, NULL) >= 0
            ? PB_OK
            : PB_ERROR;
    free(g);
    free(r);
    json_decref(grant);
    json_decref(revoke);
    return rc;
}

/* Copies what was sent into into (the create form's "values", or the
 * role shown), so a refused form keeps it. */
static void keep_sent(const role_input *in, json_t *into)
{
    if (in->name)
        json_object_set_new(into, "name", json_string(in->name));
    if (in->description)
        json_object_set_new(into, "description", json_string(in->description));
    if (in->level >= 0)
        json_object_set_new(into, "level", json_integer(in->level));
}

/* POST /rbac/roles - {name, level, description, permissions[]}. */
int rbac_role_create(pb_req *req)
{
    role_input in;
    json_t *role = NULL;
    if (role_input_read(req, NULL, &in) != PB_OK)
        return PB_ERROR;
    json_t *values = json_object();
    keep_sent(&in, values);
    json_object_set_new(host->model(req), "values", values);
    if (in.status) {
        json_decref(in.perms);
        return rbac_again(req, in.status, rbac_index_model);
    }
    char level[24];
    snprintf(level, sizeof level, "%lld", in.level);
    const char *params[] = {in.name, level, in.description ? in.description : ""};
    int rc = rbac_row(req,
                      "INSERT INTO core.roles (team_id, name, level, description) "
                      "VALUES (core.tid(), $1, $2, $3) RETURNING id",
                      3, params, &role);
    const char *id = rc > 0 ? json_string_value(json_object_get(role, "id")) : NULL;
    json_t *none = json_array(), *after = NULL;
    rc = id && permissions_write(req, id, none, in.perms ? in.perms : none) == PB_OK &&
                 role_get(req, id, &after) > 0 &&
                 rbac_changed(req, "rbac.role.create", "role", id, NULL, role_state(after), NULL) ==
                     PB_OK
             ? PB_OK
             : PB_ERROR;
    char location[80];
    snprintf(location, sizeof location, "/rbac/roles/%s", id ? id : "");
    json_decref(none);
    json_decref(in.perms);
    json_decref(role);
    if (rc != PB_OK) {
        json_decref(after);
        return PB_ERROR;
    }
    json_object_set_new(host->model(req), "role", after);
    return rbac_done(req, 201, location, "The role is created.");
}

/* Loads the route's role for a change and checks that the viewer outranks
 * it. Returns 0 with *role set, or the status to answer with. */
static int role_for_change(pb_req *req, json_t **role)
{
    const char *id = role_id(req);
    *role = NULL;
    int found = id ? role_get(req, id, role) : 0;
    if (found <= 0)
        return found < 0 ? PB_ERROR : rbac_not_found(req, NO_ROLE);
    if (!json_is_true(json_object_get(*role, "editable"))) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "You can only change roles below your own level (%d); %s is level %d.",
                 host->role_level(req), json_string_value(json_object_get(*role, "name")),
                 (int)json_integer_value(json_object_get(*role, "level")));
        json_decref(*role);
        *role = NULL;
        host->set_template(req, NULL);
        return rbac_refuse(req, 403, msg);
    }
    return 0;
}

/* PUT or POST /rbac/roles/:id - any of {name, level, description,
 * permissions[]}; a form sends them all. */
int rbac_role_update(pb_req *req)
{
    role_input in;
    json_t *before = NULL, *after = NULL;
    int rc = role_for_change(req, &before);
    if (rc != 0)
        return rc;
    if (role_input_read(req, before, &in) != PB_OK) {
        json_decref(before);
        return PB_ERROR;
    }
    if (in.status) {
        json_decref(before);
        json_decref(in.perms);
        rc = rbac_again(req, in.status, role_page_again);
        keep_sent(&in, json_object_get(host->model(req), "role"));
        return rc;
    }
    const char *id = json_string_value(json_object_get(before, "id"));
    char level[24];
    snprintf(level, sizeof level, "%lld", in.level);
    const char *params[] = {id, in.name, in.level >= 0 ? level : NULL, in.description};
    rc = host->db_query(req,
                        "UPDATE core.roles SET name = coalesce($2, name), "
                        "level = coalesce($3::integer, level), "
                        "description = coalesce($4, description) WHERE id = $1",
                        4, params, NULL) == 1 &&
                 (in.perms == NULL ||
                  permissions_write(req, id, json_object_get(before, "permissions"), in.perms) ==
                      PB_OK) &&
                 role_get(req, id, &after) > 0 &&
                 rbac_changed(req, "rbac.role.update", "role", id, role_state(before),
                              role_state(after), NULL) == PB_OK
             ? PB_OK
             : PB_ERROR;
    char location[80];
    snprintf(location, sizeof location, "/rbac/roles/%s", id);
    json_decref(before);
    json_decref(in.perms);
    if (rc != PB_OK) {
        json_decref(after);
        return PB_ERROR;
    }
    json_object_set_new(host->model(req), "role", after);
    return rbac_done(req, 200, location, "The role is saved.");
}

/* DELETE /rbac/roles/:id, POST /rbac/roles/:id/delete */
int rbac_role_delete(pb_req *req)
{
    json_t *role = NULL;
    int rc = role_for_change(req, &role);
    if (rc != 0)
        return rc;
    const char *id = json_string_value(json_object_get(role, "id"));
    if (json_is_true(json_object_get(role, "builtin"))) {
        json_decref(role);
        host->set_template(req, NULL);
        return rbac_refuse(req, 403, BUILTINS);
    }
    const char *params[] = {id};
    rc = host->db_query(req, "DELETE FROM core.roles WHERE id = $1", 1, params, NULL) == 1 &&
                 rbac_changed(req, "rbac.role.delete", "role", id, role_state(role), NULL, NULL) ==
                     PB_OK
             ? PB_OK
             : PB_ERROR;
    if (rc != PB_OK) {
        json_decref(role);
        return PB_ERROR;
    }
    json_object_set_new(host->model(req), "deleted", role);
    return rbac_done(req, 200, "/rbac", "The role is deleted.");
}

/* --- The permission registry ---------------------------------------------- */

static int permissions_model(pb_req *req)
{
    json_t *all = rbac_rows(req,
                            "SELECT name, description, module FROM core.permissions "
                            "WHERE name NOT LIKE '" PB_INSTALLATION_RESOURCE "%' "
                            "ORDER BY module, name",
                            0, NULL);
    if (all == NULL)
        return PB_ERROR;
    json_object_set_new(host->model(req), "permissions", all);
    return rbac_viewer(req);
}

/* GET /rbac/permissions - every registered permission. */
int rbac_permissions_list(pb_req *req)
{
    return permissions_model(req) == PB_OK ? 200 : PB_ERROR;
}

/* resource:action, each [a-z][a-z0-9_]* (as core.permissions checks). */
static bool permission_name_ok(const char *s)
{
    int part = 0;
    size_t len = 0;
    for (; *s; s++, len++) {
        bool lower = *s >= 'a' && *s <= 'z', digit = *s >= '0' && *s <= '9';
        if (*s == ':' && part == 0 && len > 0) {
            part = 1;
            len = (size_t)-1;
        } else if (!(lower || (len > 0 && (digit || *s == '_')))) {
            return false;
        }
    }
    return part == 1 && len > 0;
}

/* POST /rbac/permissions - {name: "resource:action", description}: a
 * custom permission (module "custom"), granted to administrators. */
int rbac_permission_create(pb_req *req)
{
    const char *name = NULL, *description = "";
    int status = 400;
    host->input_str(req, "name", PB_REQUIRED, 3, 100, &name);
    host->input_str(req, "description", 0, 0, 200, &description);
    if (name && !permission_name_ok(name))
        host->input_fail(req, "name", "must look like resource:action (lower case a-z, 0-9, _)");
    else if (pb_permission_is_installation(name))
        host->input_fail(req, "name",
                         "The resource \"system\" is the installation's: its permissions belong "
                         "to operators, not to team roles. Choose another resource.");
    if (host->role_level(req) < 100) {
        host->input_fail(req, "name",
                         "Only an administrator (level 100) can register permissions: the list "
                         "is shared by every team.");
        status = 403;
    }
    json_object_set_new(host->model(req), "values",
                        json_pack("{s:s?, s:s}", "name", name, "description", description));
    json_t *row = NULL;
    if (!host->input_errors(req)) {
        const char *params[] = {name, description};
        if (rbac_row(req, "SELECT rbac.permission_register($1, $2) AS created", 2, params, &row) <=
            0)
            return PB_ERROR;
        bool created = json_is_true(json_object_get(row, "created"));
        json_decref(row);
        if (!created) {
            host->input_fail(req, "name", "is already registered");
            status = 409;
        }
    }
    if (host->input_errors(req))
        return rbac_again(req, status, permissions_model);
    json_t *perm =
        json_pack("{s:s, s:s, s:s}", "name", name, "description", description, "module", "custom");
    if (rbac_changed(req, "rbac.permission.create", "permission", name, NULL, json_incref(perm),
                     NULL) != PB_OK) {
        json_decref(perm);
        return PB_ERROR;
    }
    json_object_set_new(host->model(req), "permission", perm);
    return rbac_done(req, 201, "/rbac/permissions", "The permission is registered.");
}
