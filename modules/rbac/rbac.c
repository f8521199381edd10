/*
 * rbac.c - roles, permissions and assignments of a team, and "view as".
 *
 * This file holds the module's descriptor, the helpers its files share,
 * the overview page, assignments and viewing as another member; roles.c
 * holds the roles and the permission registry.
 *
 * The hierarchy is enforced twice. The handlers check it first to answer
 * with a message a person can act on; the policies and triggers of
 * sql/rbac/001_policies.sql enforce it again for whatever runs the SQL.
 * Every change is audited and drops the cached permission sets it affects,
 * so a member gains or loses a permission on their very next request.
 */
#include "rbac.h"

#include <stdio.h>
#include <string.h>

const pb_host *rbac_host;
#define host rbac_host

/* --- Shared helpers ----------------------------------------------------- */

json_t *rbac_rows(pb_req *req, const char *sql, int n, const char *const *params)
{
    json_t *rows = NULL;
    if (host->db_query(req, sql, n, params, &rows) < 0)
        return NULL;
    return rows;
}

int rbac_row(pb_req *req, const char *sql, int n, const char *const *params, json_t **row)
{
    json_t *rows = rbac_rows(req, sql, n, params);
    if (rows == NULL)
        return PB_ERROR;
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *row != NULL;
}

int rbac_refuse(pb_req *req, int status, const char *message)
{
    json_object_set_new(host->model(req), "message", json_string(message));
    return status;
}

bool rbac_wants_json(pb_req *req)
{
    if (host->json_body(req) != NULL || host->bearer(req))
        return true;
    /* As the host decides for rendering: JSON listed before any HTML. */
    const char *accept = host->header(req, "Accept");
    const char *json = accept ? strstr(accept, "application/json") : NULL;
    const char *html = accept ? strstr(accept, "text/html") : NULL;
    return json && (html == NULL || json < html);
}

int rbac_not_found(pb_req *req, const char *message)
{
    host->set_template(req, NULL); /* the error page, not an empty form */
    return rbac_refuse(req, 404, message);
}

int rbac_again(pb_req *req, int status, int (*fill)(pb_req *req))
{
    if (rbac_wants_json(req))
        return status;
    return fill(req) == PB_OK ? status : PB_ERROR;
}

int rbac_done(pb_req *req, int status, const char *location, const char *text)
{
    if (rbac_wants_json(req))
        return status;
    if (text && host->flash(req, "success", text) != PB_OK)
        return PB_ERROR;
    return host->redirect(req, 303, location);
}

int rbac_changed(pb_req *req, const char *action, const char *type, const char *id, json_t *before,
                 json_t *after, const char *user_id)
{
    int rc = host->audit(req, action, type, id, before, after, 0);
    json_decref(before);
    json_decref(after);
    if (rc != PB_OK)
        return PB_ERROR;
    host->permissions_changed(req, user_id);
    return PB_OK;
}

int rbac_viewer(pb_req *req)
{
    json_t *m = host->model(req), *can = NULL;
    int level = host->role_level(req);
    if (rbac_row(req,
                 "SELECT rbac.holds('rbac:manage') AS manage, "
                 "rbac.holds('rbac:impersonate') AS impersonate",
                 0, NULL, &can) <= 0)
        return PB_ERROR;
    /* The permission registry is shared by every team: administrators only. */
    json_object_set_new(can, "register",
                        json_boolean(level >= 100 && json_is_true(json_object_get(can, "manage"))));
    json_object_set_new(m, "can", can);
    json_object_set_new(m, "my_level", json_integer(level));
    return PB_OK;
}

int rbac_permission_groups(pb_req *req, const char *role_id, bool editable)
{
    const char *params[] = {role_id, editable ? "true" : "false"};
    json_t *groups =
        rbac_rows(req,
                  "SELECT p.module, json_agg(json_build_object("
                  "  'name', p.name, 'description', p.description, 'field', 'perm.' || p.name,"
                  "  'locked', NOT ($2::boolean AND rbac.holds(p.name)),"
                  "  'granted', EXISTS (SELECT 1 FROM core.role_permissions rp"
                  "                      WHERE rp.role_id = $1::uuid AND rp.permission = p.name))"
                  "  ORDER BY p.name) AS permissions "
                  "FROM core.permissions p WHERE p.name NOT LIKE '" PB_INSTALLATION_RESOURCE
                  "%' GROUP BY p.module ORDER BY p.module",
                  2, params);
    if (groups == NULL)
        return PB_ERROR;
    json_object_set_new(host->model(req), "modules", groups);
    return PB_OK;
}

bool rbac_can_manage(pb_req *req)
{
    return json_is_true(json_object_get(json_object_get(host->model(req), "can"), "manage"));
}

/* A local path to go back to after a form ("next"), or fallback. */
static const char *next_path(pb_req *req, const char *fallback)
{
    const char *next = NULL;
    host->input_str(req, "next", 0, 1, 300, &next);
    if (next == NULL || next[0] != '/' || next[1] == '/' || next[1] == '\\')
        return fallback;
    return next;
}

#define NO_MEMBER "There is no such member in this team."

/* --- Members ------------------------------------------------------------- */

/* Members of the current team (all, or the one $1 names) with their roles,
 * level, and whether the viewer may view as them: an active member below
 * the viewer's level who holds no permission the viewer lacks (viewing as
 * them must not lend the viewer more power than their own). */
static const char MEMBERS_SQL[] =
    "SELECT u.id, u.display_name AS name, u.email, m.status, "
    "       coalesce(max(r.level), 0) AS level, u.id = core.uid() AS self, "
    "       coalesce(max(r.level), 0) < core.level() AND u.id <> core.uid() "
    "         AND m.status = 'active' "
    "         AND NOT EXISTS (SELECT 1 FROM core.user_roles x "
    "                           JOIN core.role_permissions xp ON xp.role_id = x.role_id "
    "                          WHERE x.team_id = core.tid() AND x.user_id = u.id "
    "                            AND NOT rbac.holds(xp.permission)) AS viewable, "
    "       coalesce(json_agg(json_build_object('id', r.id, 'name', r.name, 'level', r.level, "
    "                                           'user_id', u.id, "
    "                                           'removable', r.level <= core.level()) "
    "                         ORDER BY r.level DESC, r.name) FILTER (WHERE r.id IS NOT NULL), "
    "                '[]') AS roles "
    "FROM core.memberships m JOIN core.users u ON u.id = m.user_id "
    "LEFT JOIN core.user_roles ur ON ur.team_id = m.team_id AND ur.user_id = m.user_id "
    "LEFT JOIN core.roles r ON r.id = ur.role_id "
    "WHERE m.team_id = core.tid() AND ($1::uuid IS NULL OR m.user_id = $1::uuid) "
    "GROUP BY u.id, m.status ORDER BY u.display_name, u.email";

/* One member of the current team by id: 1 with *member set, 0, PB_ERROR. */
static int member_get(pb_req *req, const char *user_id, json_t **member)
{
    const char *params[] = {user_id};
    return rbac_row(req, MEMBERS_SQL, 1, params, member);
}

/* What the audit trail keeps of a member: their roles (a new object). */
static json_t *member_state(json_t *member)
{
    json_t *roles = json_array(), *r;
    size_t i;
    json_array_foreach(json_object_get(member, "roles"), i, r)
    {
        json_array_append_new(roles, json_pack("{s:O, s:O, s:O}", "id", json_object_get(r, "id"),
                                               "name", json_object_get(r, "name"), "level",
                                               json_object_get(r, "level")));
    }
    return json_pack("{s:o}", "roles", roles);
}

/* The member's effective permissions in the team, as the host computes
 * them for its guard (active membership only). */
static json_t *member_permissions(pb_req *req, const char *user_id)
{
    const char *params[] = {user_id};
    json_t *rows = rbac_rows(req,
                             "SELECT DISTINCT rp.permission FROM core.user_roles ur "
                             "JOIN core.role_permissions rp ON rp.role_id = ur.role_id "
                             "JOIN core.memberships m ON m.team_id = ur.team_id "
                             "  AND m.user_id = ur.user_id AND m.status = 'active' "
                             "WHERE ur.team_id = core.tid() AND ur.user_id = $1 ORDER BY 1",
                             1, params);
    if (rows == NULL)
        return NULL;
    json_t *names = json_array(), *row;
    size_t i;
    json_array_foreach(rows, i, row) json_array_append(names, json_object_get(row, "permission"));
    json_decref(rows);
    return names;
}

int rbac_index_model(pb_req *req)
{
    static const char *const everyone[] = {NULL};
    json_t *members = rbac_rows(req, MEMBERS_SQL, 1, everyone);
    if (members == NULL)
        return PB_ERROR;
    json_object_set_new(host->model(req), "members", members);
    if (rbac_roles_model(req) != PB_OK || rbac_viewer(req) != PB_OK)
        return PB_ERROR;
    /* The roles the viewer may assign, for each member's form. */
    json_t *m = host->model(req), *assignable = json_array(), *role;
    size_t i;
    json_array_foreach(json_object_get(m, "roles"), i, role)
    {
        if (json_is_true(json_object_get(role, "assignable")))
            json_array_append(assignable, role);
    }
    json_object_set_new(m, "assignable", assignable);
    return rbac_permission_groups(req, NULL, rbac_can_manage(req));
}

/* GET /rbac - the team's roles and members, and the forms to change them. */
static int index_page(pb_req *req)
{
    return rbac_index_model(req) == PB_OK ? 200 : PB_ERROR;
}

/* GET /rbac/user-roles/:userId - a member's roles and effective
 * permissions. */
static int user_roles(pb_req *req)
{
    const char *uid = NULL;
    json_t *member = NULL;
    if (host->input_uuid(req, "userId", PB_REQUIRED, &uid) != PB_OK)
        return rbac_not_found(req, NO_MEMBER);
    int found = member_get(req, uid, &member);
    if (found <= 0)
        return found < 0 ? PB_ERROR : rbac_not_found(req, NO_MEMBER);
    json_object_set_new(host->model(req), "user", member);
    json_t *perms = member_permissions(req, uid);
    if (perms == NULL || rbac_viewer(req) != PB_OK) {
        json_decref(perms);
        return PB_ERROR;
    }
    json_object_set_new(member, "permissions", perms);
    return 200;
}

/* --- Assignments ------------------------------------------------------------ */

/* Counts the team's active members holding a level-100 role other than
 * through (user_id, role_id). Returns the count or PB_ERROR. */
static int other_admins(pb_req *req, const char *user_id, const char *role_id)
{
    const char *params[] = {user_id, role_id};
    json_t *row = NULL;
    if (rbac_row(req,
                 "SELECT count(*)::integer AS n FROM core.user_roles ur "
                 "JOIN core.roles r ON r.id = ur.role_id AND r.level = 100 "
                 "JOIN core.memberships m ON m.team_id = ur.team_id AND m.user_id = ur.user_id "
                 "  AND m.status = 'active' "
                 "WHERE ur.team_id = core.tid() AND NOT (ur.user_id = $1 AND ur.role_id = $2)",
                 2, params, &row) <= 0)
        return PB_ERROR;
    int n = (int)json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    return n;
}

/* Refuses an assignment with message on field, showing the overview page
 * again for a browser. */
static int assign_refuse(pb_req *req, int status, const char *field, const char *message)
{
    host->input_fail(req, field, message);
    return rbac_again(req, rbac_refuse(req, status, message), rbac_index_model);
}

/* Checks an assignment of role to user by the viewer. Returns 0 to go on,
 * or the status to answer with (the model says why). */
static int assign_check(pb_req *req, const char *uid, const char *rid, bool assign, json_t *user,
                        json_t *role)
{
    char msg[200];
    if (user == NULL)
        return assign_refuse(req, 404, "user_id", NO_MEMBER);
    if (role == NULL)
        return assign_refuse(req, 404, "role_id", "There is no such role in this team.");
    int level = host->role_level(req);
    json_int_t role_level = json_integer_value(json_object_get(role, "level"));
    if (role_level > level) {
        snprintf(msg, sizeof msg,
                 "You can only %s roles at or below your own level (%d); %s is level %d.",
                 assign ? "assign" : "remove", level,
                 json_string_value(json_object_get(role, "name")), (int)role_level);
        return assign_refuse(req, 403, "role_id", msg);
    }
    if (!assign && role_level == 100) {
        int others = other_admins(req, uid, rid);
        if (others < 0)
            return PB_ERROR;
        if (others == 0)
            return assign_refuse(req, 409, "role_id",
                                 "A team keeps at least one administrator: make someone else "
                                 "an administrator first.");
    }
    return 0;
}

/* POST /rbac/assign - {user_id, role_id, action: "assign" | "unassign"}. */
static int assign(pb_req *req)
{
    const char *uid = NULL, *rid = NULL, *action = "assign";
    host->input_uuid(req, "user_id", PB_REQUIRED, &uid);
    host->input_uuid(req, "role_id", PB_REQUIRED, &rid);
    host->input_str(req, "action", 0, 1, 10, &action);
    bool on = strcmp(action, "assign") == 0;
    if (!on && strcmp(action, "unassign") != 0)
        host->input_fail(req, "action", "must be assign or unassign");
    if (host->input_errors(req))
        return rbac_again(req, 400, rbac_index_model);

    json_t *before = NULL, *role = NULL, *after = NULL;
    const char *rp[] = {rid};
    int rc = member_get(req, uid, &before);
    if (rc >= 0)
        rc = rbac_row(
            req, "SELECT id, name, level FROM core.roles WHERE id = $1 AND team_id = core.tid()", 1,
            rp, &role);
    if (rc >= 0)
        rc = assign_check(req, uid, rid, on, before, role);
    if (rc == 0) {
        const char *params[] = {uid, rid};
        const char *sql = on ? "INSERT INTO core.user_roles (team_id, user_id, role_id) "
                               "VALUES (core.tid(), $1, $2) ON CONFLICT DO NOTHING"
                             : "DELETE FROM core.user_roles "
                               "WHERE team_id = core.tid() AND user_id = $1 AND role_id = $2";
        int n = host->db_query(req, sql, 2, params, NULL);
        rc = n < 0 || member_get(req, uid, &after) <= 0 ? PB_ERROR : 0;
        json_object_set_new(host->model(req), "changed", json_boolean(n > 0));
        if (rc == 0 && n > 0)
            rc = rbac_changed(req, on ? "rbac.role.assign" : "rbac.role.unassign", "user", uid,
                              member_state(before), member_state(after), uid);
    }
    json_decref(before);
    json_decref(role);
    if (rc != 0) {
        json_decref(after);
        return rc;
    }
    json_object_set_new(host->model(req), "user", after);
    return rbac_done(req, 200, next_path(req, "/rbac"),
                     on ? "The role is assigned." : "The role is removed.");
}

/* --- Viewing as another member ---------------------------------------------- */

#define BROWSER_ONLY "Viewing as someone else works in a browser session only."

/* POST /rbac/view-as/:userId - act as a member below one's own level, with
 * their permissions and rows, until /rbac/view-as/stop. */
static int view_as(pb_req *req)
{
    const char *uid = NULL;
    json_t *member = NULL;
    if (host->input_uuid(req, "userId", PB_REQUIRED, &uid) != PB_OK)
        return rbac_not_found(req, NO_MEMBER);
    int found = member_get(req, uid, &member);
    if (found <= 0)
        return found < 0 ? PB_ERROR : rbac_not_found(req, NO_MEMBER);
    bool viewable = json_is_true(json_object_get(member, "viewable"));
    int level = (int)json_integer_value(json_object_get(member, "level"));
    json_t *after = json_pack("{s:s, s:O, s:i}", "user_id", uid, "name",
                              json_object_get(member, "name"), "level", level);
    json_decref(member);
    int rc = 0;
    if (!viewable)
        rc = rbac_refuse(req, 403,
                         "You can view as active members below your own level who hold no "
                         "permission you lack, and not as yourself.");
    else if (host->bearer(req))
        rc = rbac_refuse(req, 400, BROWSER_ONLY);
    else if (host->audit(req, "rbac.view_as", "user", uid, NULL, after, 0) != PB_OK ||
             host->view_as(req, uid, level) != PB_OK)
        rc = PB_ERROR;
    json_decref(after);
    return rc ? rc : host->redirect(req, 303, "/");
}

/* POST /rbac/view-as/stop - back to one's own identity. Public on purpose:
 * while viewing as a member the request carries the member's permissions,
 * and a member usually holds no rbac permission at all, so requiring one
 * would lock the viewer inside the view. Only a session that is viewing
 * as someone (real_user_id) has anything to stop; the CSRF token is still
 * checked, as on every unsafe request with a session cookie. */
static int view_as_stop(pb_req *req)
{
    const char *real = host->real_user_id(req);
    const char *viewed = host->user_id(req);
    if (real == NULL)
        return rbac_refuse(req, 400, "You are not viewing as anyone.");
    if (host->bearer(req)) /* a token's identity is fixed until it expires */
        return rbac_refuse(req, 400, BROWSER_ONLY);
    if (host->audit(req, "rbac.view_as_end", "user", viewed, NULL, NULL, 0) != PB_OK ||
        host->view_as(req, NULL, 0) != PB_OK)
        return PB_ERROR;
    return host->redirect(req, 303, "/rbac");
}

/* --- The module ----------------------------------------------------------- */

static int init(const pb_host *h, char *err, size_t errlen)
{
    if (h->size < sizeof(pb_host) || h->role_level == NULL || h->audit == NULL ||
        h->permissions_changed == NULL || h->view_as == NULL || h->real_user_id == NULL ||
        h->bearer == NULL) {
        snprintf(err, errlen, "the host lacks the account functions (audit, view_as...)");
        return -1;
    }
    rbac_host = h;
    return 0;
}

static const pb_permission permissions[] = {
    {"rbac:read", "See the team's roles, their permissions and who holds them"},
    {"rbac:manage", "Create, change and delete roles below one's level, and assign them"},
    {"rbac:impersonate", "View the site as a member below one's level"},
    {0},
};

static const pb_route routes[] = {
    {PB_GET, "/rbac", index_page, "rbac:read", 0, "rbac/index"},
    {PB_GET, "/rbac/roles", rbac_roles_list, "rbac:read", 0, "rbac/roles"},
    {PB_POST, "/rbac/roles", rbac_role_create, "rbac:manage", 0, "rbac/index"},
    {PB_GET, "/rbac/roles/:id", rbac_role_show, "rbac:read", 0, "rbac/role"},
    {PB_PUT | PB_POST, "/rbac/roles/:id", rbac_role_update, "rbac:manage", 0, "rbac/role"},
    {PB_DELETE, "/rbac/roles/:id", rbac_role_delete, "rbac:manage", 0, "rbac/role"},
    {PB_POST, "/rbac/roles/:id/delete", rbac_role_delete, "rbac:manage", 0, "rbac/role"},
    {PB_GET, "/rbac/permissions", rbac_permissions_list, "rbac:read", 0, "rbac/permissions"},
    {PB_POST, "/rbac/permissions", rbac_permission_create, "rbac:manage", 0, "rbac/permissions"},
    {PB_POST, "/rbac/assign", assign, "rbac:manage", 0, "rbac/index"},
    {PB_GET, "/rbac/user-roles/:userId", user_roles, "rbac:read", 0, "rbac/user"},
    {PB_POST, "/rbac/view-as/:userId", view_as, "rbac:impersonate", 0, "rbac/user"},
    /* Public: see view_as_stop. */
    {PB_POST, "/rbac/view-as/stop", view_as_stop, NULL, PB_PUBLIC, "rbac/index"},
    {0},
};

static const pb_nav nav[] = {
    {"Roles", "/rbac", "rbac:read", 80},
    {0},
};

PB_MODULE = {
    .abi_version = PB_ABI_VERSION,
    .name = "rbac",
    .version = "1.0.0",
    .routes = routes,
    .nav = nav,
    .permissions = permissions,
    .init = init,
};
