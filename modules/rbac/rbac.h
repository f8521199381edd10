/*
 * rbac.h - what the files of the rbac module share: the host table and
 * small helpers for queries, answers and the audit trail.
 */
#ifndef RBAC_H
#define RBAC_H

#include <plugboard.h>
#include <stdbool.h>

/* The host function table, kept by init(). */
extern const pb_host *rbac_host;

/* Runs a query and returns its rows (a new array), or NULL on failure. */
json_t *rbac_rows(pb_req *req, const char *sql, int n, const char *const *params);

/* Runs a query and sets *row to its first row (a new reference) or NULL.
 * Returns 1 for a row, 0 for none, PB_ERROR. */
int rbac_row(pb_req *req, const char *sql, int n, const char *const *params, json_t **row);

/* Sets the model's "message" and returns status. */
int rbac_refuse(pb_req *req, int status, const char *message);

/* Answers 404 with message on the error page (also for a malformed id,
 * whose field error would otherwise re-render an empty form). */
int rbac_not_found(pb_req *req, const char *message);

/* Answers status after a refused form: for a browser, fill() first puts
 * back the page the form came from (errors are shown beside the fields);
 * an API client gets only the error. */
int rbac_again(pb_req *req, int status, int (*fill)(pb_req *req));

/* True when the client expects JSON rather than a redirect: a JSON body,
 * an Accept header preferring JSON, or a bearer token. */
bool rbac_wants_json(pb_req *req);

/* The end of a successful change: status with the model for API clients;
 * for a browser, flash text and a 303 to location. */
int rbac_done(pb_req *req, int status, const char *location, const char *text);

/* Writes the audit row of a change and drops the cached permission sets
 * of user_id (everyone's when NULL) after commit. before and after are
 * new references (or NULL), released here. PB_OK or PB_ERROR. */
int rbac_changed(pb_req *req, const char *action, const char *type, const char *id, json_t *before,
                 json_t *after, const char *user_id);

/* Sets the model's "my_level" (the viewer's level) and "can" ({manage,
 * impersonate, register}), computed from the viewer's own roles.
 * PB_OK or PB_ERROR. */
int rbac_viewer(pb_req *req);

/* True when rbac_viewer found that the viewer holds rbac:manage. */
bool rbac_can_manage(pb_req *req);

/* Sets the model's "modules": every registered permission grouped by
 * module, each with "granted" (held by role_id, which may be NULL),
 * "locked" (its box is disabled: the role is not editable, or the viewer
 * does not hold the permission) and "field" (the form's checkbox). */
int rbac_permission_groups(pb_req *req, const char *role_id, bool editable);

/* Sets the model's "roles": the team's roles with their level, member
 * and permission counts. PB_OK or PB_ERROR. */
int rbac_roles_model(pb_req *req);

/* Handlers of roles.c. */
int rbac_roles_list(pb_req *req);
int rbac_role_show(pb_req *req);
int rbac_role_create(pb_req *req);
int rbac_role_update(pb_req *req);
int rbac_role_delete(pb_req *req);
int rbac_permissions_list(pb_req *req);
int rbac_permission_create(pb_req *req);

/* The index page's model (roles, members, forms); roles.c re-renders it
 * when the create form has errors. PB_OK or PB_ERROR. */
int rbac_index_model(pb_req *req);

#endif
