"""Roles, permissions, assignments and view-as (modules/rbac), over HTTP and
directly in SQL as the application role, whose policies and triggers
(sql/rbac/001_policies.sql) must hold whatever runs the statements."""

import json
import os
import re
import subprocess
import unittest
import urllib.parse
import uuid

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")
PASSWORD = "roles and permissions"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LAST_ADMIN = "a team keeps at least one administrator"


def psql(role, sql):
    """Runs sql as role; returns rows as lists of strings. Raises
    AssertionError with PostgreSQL's message when it fails."""
    out = subprocess.run(["psql", "-h", PGHOST, "-U", role, "-d", "plugboard", "-X", "-q", "-A",
                          "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def as_app(team, user, level, sql):
    """Runs sql as the application role with a request's context."""
    ctx = (f"SET LOCAL plugboard.user_id = '{user}'; SET LOCAL plugboard.team_id = '{team}'; "
           f"SET LOCAL plugboard.role_level = '{level}';")
    return psql("plugboard_app", f"BEGIN; {ctx} {sql}; COMMIT;")


def owner(sql):
    return psql("plugboard_owner", sql)


def tag():
    return uuid.uuid4().hex[:8]


class Client:
    """A cookie session for user in team at level (test module sign-in)."""

    def __init__(self, user, team, level):
        self.user, self.team, self.level = user, team, level
        status, headers, _ = pb.request(
            "POST", "/api/v1/test/session/login", headers=FORM,
            body=f"user={user}&team={team}&level={level}".encode())
        assert status == 200, status
        self.cookie = re.search(r"pb_session=([^;]+)", headers["set-cookie"]).group(1)
        self.csrf = self.whoami()["csrf"]

    def headers(self, extra=None):
        h = {"Cookie": f"pb_session={self.cookie}"}
        h.update(extra or {})
        return h

    def whoami(self):
        return pb.get_json("/test/session/whoami", headers=self.headers())

    def api(self, method, path, body=None):
        """A JSON request under /api/v1 (with the CSRF header when unsafe);
        returns (status, decoded body)."""
        extra = {"Accept": "application/json"}
        if method != "GET":
            extra["X-CSRF-Token"] = self.csrf
        status, _, data = pb.request(method, "/api/v1" + path, headers=self.headers(extra),
                                     body=body if body is not None else ({} if method != "GET"
                                                                         else None))
        return status, json.loads(data) if data else None

    def page(self, path):
        status, _, data = pb.request("GET", path, headers=self.headers())
        return status, data.decode()

    def form(self, path, fields):
        """A browser form post; returns (status, headers, text)."""
        body = urllib.parse.urlencode({"_csrf": self.csrf, **fields}).encode()
        status, headers, data = pb.request("POST", path, headers=self.headers(FORM), body=body)
        return status, headers, data.decode()


def team_with_people():
    """A new team: an admin (level 100), a member (level 10) and a manager
    (level 50: rbac:read, rbac:manage and test:read, not rbac:impersonate),
    plus a role above the manager (level 60). Returns a dict of ids."""
    t = tag()
    admin = pb.make_user(pb.unique_email("rbac-admin"), PASSWORD, name=f"Ada Admin {t}")
    team = admin["team_id"]
    member = pb.make_user(pb.unique_email("rbac-member"), PASSWORD, name=f"Mo <Member> {t}",
                          team=team, level=10)
    manager = pb.make_user(pb.unique_email("rbac-manager"), PASSWORD, name=f"Max Manager {t}",
                           team=team, level=10)
    ids = {"team": team, "admin": admin["user_id"], "member": member["user_id"],
           "manager": manager["user_id"], "manager_role": str(uuid.uuid4()),
           "senior_role": str(uuid.uuid4())}
    owner(f"""
        INSERT INTO core.roles (id, team_id, name, level) VALUES
          ('{ids["manager_role"]}', '{team}', 'manager', 50),
          ('{ids["senior_role"]}', '{team}', 'senior', 60);
        INSERT INTO core.role_permissions VALUES ('{ids["manager_role"]}', 'rbac:read'),
          ('{ids["manager_role"]}', 'rbac:manage'), ('{ids["manager_role"]}', 'test:read');
        INSERT INTO core.user_roles VALUES ('{team}', '{ids["manager"]}', '{ids["manager_role"]}');
    """)
    # Some modules grant every role a permission as it is made (auth's
    # account:self): what the senior role, given nothing, holds.
    ids["implicit"] = {p for (p,) in owner(f"SELECT permission FROM core.role_permissions "
                                           f"WHERE role_id = '{ids['senior_role']}'")}
    for name in ("admin", "member"):
        ids[f"{name}_role"] = owner(f"SELECT id FROM core.roles WHERE team_id = '{team}' "
                                    f"AND name = '{name}'")[0][0]
    return ids


def audit_rows(team, action, resource_id=None):
    """(actor_id, real_actor_id, diff) of the team's audit rows for action."""
    where = f" AND resource_id = '{resource_id}'" if resource_id else ""
    rows = owner(f"SELECT coalesce(actor_id::text, ''), coalesce(real_actor_id::text, ''), "
                 f"diff::text FROM core.audit_log WHERE team_id = '{team}' "
                 f"AND action = '{action}'{where} ORDER BY id")
    return [(a, r, json.loads(d)) for a, r, d in rows]


class RbacTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ids = team_with_people()
        cls.admin = Client(cls.ids["admin"], cls.ids["team"], 100)
        cls.member = Client(cls.ids["member"], cls.ids["team"], 10)
        cls.manager = Client(cls.ids["manager"], cls.ids["team"], 50)

    def own(self, perms):
        """perms without those every role holds."""
        return [p for p in perms if p not in self.ids["implicit"]]

    def create(self, client=None, **fields):
        fields.setdefault("name", f"role {tag()}")
        fields.setdefault("level", 20)
        return (client or self.admin).api("POST", "/rbac/roles", fields)

    def assign(self, user, role, action="assign", client=None):
        return (client or self.admin).api("POST", "/rbac/assign",
                                          {"user_id": user, "role_id": role, "action": action})


class OverviewTest(RbacTest):
    def test_overview_lists_roles_members_and_what_the_viewer_may_do(self):
        status, doc = self.admin.api("GET", "/rbac")
        self.assertEqual(status, 200, doc)
        roles = {r["name"]: r for r in doc["roles"]}
        # Every permission a team role can hold: the installation's are operators'.
        registered = int(owner("SELECT count(*) FROM core.permissions "
                               "WHERE name NOT LIKE 'system:%'")[0][0])
        self.assertEqual((roles["admin"]["level"], roles["admin"]["members"],
                          roles["admin"]["permissions"], roles["admin"]["builtin"]),
                         (100, 1, registered, True))
        granted = int(owner(f"SELECT count(*) FROM core.role_permissions "
                            f"WHERE role_id = '{self.ids['manager_role']}'")[0][0])
        self.assertEqual((roles["manager"]["level"], roles["manager"]["permissions"]), (50, granted))
        self.assertEqual([r["name"] for r in doc["roles"]][:2], ["admin", "senior"])
        members = {m["id"]: m for m in doc["members"]}
        self.assertEqual([r["name"] for r in members[self.ids["member"]]["roles"]], ["member"])
        self.assertEqual(members[self.ids["manager"]]["level"], 50)
        self.assertTrue(members[self.ids["member"]]["viewable"])
        self.assertFalse(members[self.ids["admin"]]["viewable"])  # oneself
        self.assertEqual(doc["can"], {"manage": True, "impersonate": True, "register": True})
        self.assertEqual(doc["my_level"], 100)
        self.assertIn("rbac", [g["module"] for g in doc["modules"]])

    def test_flags_follow_the_viewers_own_permissions(self):
        status, doc = self.manager.api("GET", "/rbac")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["can"], {"manage": True, "impersonate": False, "register": False})
        self.assertEqual({r["name"] for r in doc["assignable"]}, {"manager", "member"})
        self.assertEqual(self.member.api("GET", "/rbac")[0], 403)

    def test_the_page_shows_forms_to_those_who_may_use_them(self):
        status, page = self.admin.page("/rbac")
        self.assertEqual(status, 200)
        self.assertIn('action="/rbac/roles"', page)
        self.assertIn(f'action="/rbac/view-as/{self.ids["member"]}"', page)
        self.assertIn("Mo &lt;Member&gt;", page)  # escaped
        self.assertIn(f'name="_csrf" value="{self.admin.csrf}"', page)
        status, page = self.manager.page("/rbac")
        self.assertEqual(status, 200)
        self.assertIn('action="/rbac/assign"', page)
        self.assertNotIn("/rbac/view-as/", page)

    def test_roles_list(self):
        status, doc = self.admin.api("GET", "/rbac/roles")
        self.assertEqual(status, 200)
        self.assertEqual({"admin", "member", "manager", "senior"} - {r["name"] for r in doc["roles"]},
                         set())
        self.assertEqual(self.admin.page("/rbac/roles")[0], 200)

    def test_user_roles_and_effective_permissions(self):
        status, doc = self.admin.api("GET", f"/rbac/user-roles/{self.ids['manager']}")
        self.assertEqual(status, 200, doc)
        self.assertEqual([r["name"] for r in doc["user"]["roles"]], ["manager", "member"])
        self.assertEqual(self.own(doc["user"]["permissions"]),
                         ["rbac:manage", "rbac:read", "test:read"])
        self.assertEqual(doc["user"]["level"], 50)
        self.assertEqual(self.admin.page(f"/rbac/user-roles/{self.ids['manager']}")[0], 200)
        self.assertEqual(self.admin.api("GET", f"/rbac/user-roles/{uuid.uuid4()}")[0], 404)
        status, page = self.admin.page("/rbac/user-roles/not-a-uuid")
        self.assertEqual(status, 404)
        self.assertIn("no such member", page)


class RoleApiTest(RbacTest):
    def test_create_show_update_delete_with_json_bodies(self):
        name = f"Auditors {tag()}"
        status, doc = self.create(name=name, level=30, description="Read the trail",
                                  permissions=["rbac:read"])
        self.assertEqual(status, 201, doc)
        role = doc["role"]
        self.assertEqual((role["name"], role["level"], role["description"], role["permissions"]),
                         (name, 30, "Read the trail", ["rbac:read"]))
        rid = role["id"]

        status, doc = self.admin.api("GET", f"/rbac/roles/{rid}")
        self.assertEqual(status, 200)
        self.assertEqual(self.own(doc["role"]["permissions"]), ["rbac:read"])
        boxes = {p["name"]: p for g in doc["modules"] for p in g["permissions"]}
        self.assertTrue(boxes["rbac:read"]["granted"])
        self.assertFalse(boxes["test:read"]["granted"])
        self.assertEqual(boxes["test:read"]["field"], "perm.test:read")
        self.assertEqual(doc["members"], [])

        status, doc = self.admin.api("PUT", f"/rbac/roles/{rid}",
                                     {"description": "Reads", "permissions": ["test:read", "rbac:read"]})
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["role"]["name"], doc["role"]["level"], doc["role"]["description"],
                          doc["role"]["permissions"]), (name, 30, "Reads", ["rbac:read", "test:read"]))
        status, doc = self.admin.api("PUT", f"/rbac/roles/{rid}", {"level": 35})
        self.assertEqual((status, doc["role"]["level"], doc["role"]["permissions"]),
                         (200, 35, ["rbac:read", "test:read"]))  # absent fields stay

        status, doc = self.admin.api("DELETE", f"/rbac/roles/{rid}")
        self.assertEqual((status, doc["deleted"]["id"]), (200, rid))
        self.assertEqual(self.admin.api("GET", f"/rbac/roles/{rid}")[0], 404)

        [(actor, real, diff)] = audit_rows(self.ids["team"], "rbac.role.create", rid)
        self.assertEqual((actor, real, diff["after"]["name"]), (self.ids["admin"], "", name))
        updates = audit_rows(self.ids["team"], "rbac.role.update", rid)
        self.assertEqual([u[2]["before"]["description"] for u in updates], ["Read the trail", "Reads"])
        self.assertEqual(updates[0][2]["after"]["permissions"], ["rbac:read", "test:read"])
        [(_, _, diff)] = audit_rows(self.ids["team"], "rbac.role.delete", rid)
        self.assertEqual(diff["before"]["level"], 35)

    def test_field_errors(self):
        status, doc = self.create(name="", level=500, permissions="rbac:read")
        self.assertEqual(status, 400)
        self.assertEqual(set(doc["errors"]), {"name", "level", "permissions"})
        status, doc = self.create(permissions=["nope:never"])
        self.assertEqual(status, 400)
        self.assertIn("not a registered permission", doc["errors"]["permissions"])
        status, doc = self.create(name="Member")  # names are unique, whatever the case
        self.assertEqual(status, 409)
        self.assertIn("taken", doc["errors"]["name"])

    def test_built_in_roles_keep_their_names_and_stay(self):
        member_role = self.ids["member_role"]
        status, doc = self.admin.api("DELETE", f"/rbac/roles/{member_role}")
        self.assertEqual(status, 403)
        self.assertIn("built-in", doc["error"]["message"])
        status, doc = self.admin.api("PUT", f"/rbac/roles/{member_role}", {"name": "staff"})
        self.assertEqual(status, 403)
        self.assertIn("built-in", doc["errors"]["name"])
        status, doc = self.admin.api("PUT", f"/rbac/roles/{member_role}", {"description": "All of us"})
        self.assertEqual(status, 200, doc)
        status, doc = self.admin.api("PUT", f"/rbac/roles/{self.ids['admin_role']}",
                                     {"description": "x"})
        self.assertEqual(status, 403)
        self.assertIn("only change roles below your own level (100)", doc["error"]["message"])

    def test_unknown_and_malformed_ids(self):
        self.assertEqual(self.admin.api("GET", f"/rbac/roles/{uuid.uuid4()}")[0], 404)
        self.assertEqual(self.admin.api("PUT", f"/rbac/roles/{uuid.uuid4()}", {"level": 1})[0], 404)
        self.assertEqual(self.admin.api("DELETE", "/rbac/roles/nope")[0], 404)
        status, page = self.admin.page("/rbac/roles/nope")
        self.assertEqual(status, 404)
        self.assertIn("no such role", page)

    def test_a_role_of_another_team_is_not_found(self):
        other = pb.make_user(pb.unique_email("rbac-other"), PASSWORD, name="Other Admin")
        foreign = owner(f"SELECT id FROM core.roles WHERE team_id = '{other['team_id']}' "
                        "AND name = 'member'")[0][0]
        self.assertEqual(self.admin.api("GET", f"/rbac/roles/{foreign}")[0], 404)
        self.assertEqual(self.admin.api("DELETE", f"/rbac/roles/{foreign}")[0], 404)
        status, _ = self.admin.api("POST", "/rbac/assign",
                                   {"user_id": self.ids["member"], "role_id": foreign})
        self.assertEqual(status, 404)


class RoleFormTest(RbacTest):
    def test_create_edit_delete_through_the_forms(self):
        name = f"Editors {tag()}"
        status, headers, _ = self.admin.form("/rbac/roles", {
            "name": name, "level": "25", "description": "Edit things", "perms": "1",
            "perm.test:read": "on"})
        self.assertEqual(status, 303)
        rid = re.fullmatch(r"/rbac/roles/([0-9a-f-]{36})", headers["location"]).group(1)
        status, page = self.admin.page(f"/rbac/roles/{rid}")
        self.assertEqual(status, 200)
        self.assertRegex(page, r'name="perm\.test:read" checked')
        self.assertIn("The role is created.", page)

        status, headers, _ = self.admin.form(f"/rbac/roles/{rid}", {
            "name": name + " 2", "level": "26", "description": "", "perms": "1"})
        self.assertEqual((status, headers["location"]), (303, f"/rbac/roles/{rid}"))
        status, doc = self.admin.api("GET", f"/rbac/roles/{rid}")
        self.assertEqual((doc["role"]["name"], doc["role"]["level"], doc["role"]["description"],
                          doc["role"]["permissions"]), (name + " 2", 26, "", []))

        status, headers, _ = self.admin.form(f"/rbac/roles/{rid}/delete", {})
        self.assertEqual((status, headers["location"]), (303, "/rbac"))
        self.assertEqual(self.admin.api("GET", f"/rbac/roles/{rid}")[0], 404)

    def test_refused_forms_come_back_with_the_errors_beside_the_fields(self):
        status, _, page = self.admin.form("/rbac/roles", {"name": "Typo", "level": "abc"})
        self.assertEqual(status, 400)
        self.assertIn('id="level-error"', page)
        self.assertIn('value="Typo"', page)  # what was typed stays
        status, _, page = self.manager.form(f"/rbac/roles/{self.ids['member_role']}", {
            "name": "member", "level": "55", "description": "", "perms": "1"})
        self.assertEqual(status, 403)
        self.assertIn("must be below your own level (50)", page)
        self.assertIn('value="55"', page)


class AssignmentTest(RbacTest):
    def test_a_member_gains_exactly_the_roles_permissions_on_the_next_request(self):
        member = self.member
        had = set(self.admin.api("GET", f"/rbac/user-roles/{self.ids['member']}")[1]["user"]
                  ["permissions"])
        status, doc = self.create(name=f"Readers {tag()}", level=20,
                                  permissions=["test:read", "rbac:read"])
        self.assertEqual(status, 201, doc)
        rid = doc["role"]["id"]
        # The member's permission set is built and cached by these refusals.
        self.assertEqual(member.api("GET", "/test/private")[0], 403)
        self.assertEqual(member.api("GET", "/rbac")[0], 403)

        status, doc = self.assign(self.ids["member"], rid)
        self.assertEqual((status, doc["changed"]), (200, True), doc)
        self.assertIn(rid, [r["id"] for r in doc["user"]["roles"]])
        self.assertEqual(member.api("GET", "/test/private")[0], 200)
        self.assertEqual(member.api("GET", "/rbac")[0], 200)
        self.assertEqual(member.api("POST", "/rbac/roles", {"name": "x", "level": 1})[0], 403)
        now = set(member.api("GET", f"/rbac/user-roles/{self.ids['member']}")[1]["user"]
                  ["permissions"])
        self.assertEqual(now - had, {"rbac:read", "test:read"})
        self.assertTrue(had <= now)
        self.assertEqual(self.assign(self.ids["member"], rid)[1]["changed"], False)

        status, doc = self.assign(self.ids["member"], rid, "unassign")
        self.assertEqual((status, doc["changed"]), (200, True), doc)
        self.assertEqual(member.api("GET", "/test/private")[0], 403)
        self.assertEqual(member.api("GET", "/rbac")[0], 403)
        self.assertEqual(set(self.admin.api("GET", f"/rbac/user-roles/{self.ids['member']}")[1]
                             ["user"]["permissions"]), had)

        def touching(action):
            return [(actor, [r["id"] for r in diff["before"]["roles"]],
                     [r["id"] for r in diff["after"]["roles"]])
                    for actor, _, diff in audit_rows(self.ids["team"], action, self.ids["member"])
                    if rid in [r["id"] for r in diff["before"]["roles"] + diff["after"]["roles"]]]
        [(actor, before, after)] = touching("rbac.role.assign")
        self.assertEqual((actor, rid in before, rid in after), (self.ids["admin"], False, True))
        [(actor, before, after)] = touching("rbac.role.unassign")
        self.assertEqual((actor, rid in before, rid in after), (self.ids["admin"], True, False))

    def test_a_changed_role_changes_its_members_permissions_at_once(self):
        status, doc = self.create(name=f"Growing {tag()}", level=15)
        rid = doc["role"]["id"]
        self.assertEqual(self.assign(self.ids["member"], rid)[0], 200)
        self.assertEqual(self.member.api("GET", "/test/private")[0], 403)
        self.assertEqual(self.admin.api("PUT", f"/rbac/roles/{rid}", {"permissions": ["test:read"]})[0],
                         200)
        self.assertEqual(self.member.api("GET", "/test/private")[0], 200)
        self.assertEqual(self.admin.api("DELETE", f"/rbac/roles/{rid}")[0], 200)
        self.assertEqual(self.member.api("GET", "/test/private")[0], 403)

    def test_forms_go_back_where_they_came_from(self):
        fields = {"user_id": self.ids["member"], "role_id": self.ids["manager_role"]}
        status, headers, _ = self.admin.form("/rbac/assign", fields)
        self.assertEqual((status, headers["location"]), (303, "/rbac"))
        status, headers, _ = self.admin.form("/rbac/assign", {
            **fields, "action": "unassign", "next": f"/rbac/roles/{self.ids['manager_role']}"})
        self.assertEqual((status, headers["location"]),
                         (303, f"/rbac/roles/{self.ids['manager_role']}"))
        status, headers, _ = self.admin.form("/rbac/assign", {**fields, "next": "//evil.example"})
        self.assertEqual((status, headers["location"]), (303, "/rbac"))
        self.assertEqual(self.assign(self.ids["member"], self.ids["manager_role"], "unassign")[0],
                         200)

    def test_invalid_requests(self):
        status, doc = self.assign(self.ids["member"], self.ids["member_role"], "promote")
        self.assertEqual(status, 400)
        self.assertIn("action", doc["errors"])
        status, doc = self.assign(str(uuid.uuid4()), self.ids["member_role"])
        self.assertEqual(status, 404)
        self.assertIn("user_id", doc["errors"])
        status, doc = self.admin.api("POST", "/rbac/assign", {})
        self.assertEqual((status, set(doc["errors"])), (400, {"user_id", "role_id"}))


class HierarchyTest(RbacTest):
    def test_a_manager_cannot_create_a_role_at_or_above_their_level(self):
        for level in (60, 50):
            status, doc = self.create(client=self.manager, level=level)
            self.assertEqual(status, 403, doc)
            self.assertEqual(doc["errors"]["level"], "must be below your own level (50)")
        status, doc = self.create(client=self.manager, level=40, permissions=["test:read"])
        self.assertEqual(status, 201, doc)

    def test_a_manager_grants_only_what_they_hold(self):
        status, doc = self.create(client=self.manager, level=40, permissions=["rbac:impersonate"])
        self.assertEqual(status, 403)
        self.assertIn("you do not hold rbac:impersonate", doc["errors"]["permissions"])

    def test_a_manager_cannot_edit_or_delete_roles_at_or_above_them(self):
        for role in ("admin_role", "senior_role", "manager_role"):
            rid = self.ids[role]
            status, doc = self.manager.api("PUT", f"/rbac/roles/{rid}", {"description": "mine"})
            self.assertEqual(status, 403, role)
            self.assertIn("only change roles below your own level (50)", doc["error"]["message"])
            self.assertEqual(self.manager.api("DELETE", f"/rbac/roles/{rid}")[0], 403)
        status, page = self.manager.page(f"/rbac/roles/{self.ids['admin_role']}")
        self.assertEqual(status, 200)
        self.assertNotIn("Delete this role", page)

    def test_a_manager_cannot_assign_or_remove_the_admin_role(self):
        status, doc = self.assign(self.ids["member"], self.ids["admin_role"], client=self.manager)
        self.assertEqual(status, 403)
        self.assertIn("at or below your own level (50)", doc["errors"]["role_id"])
        status, _ = self.assign(self.ids["admin"], self.ids["admin_role"], "unassign",
                                client=self.manager)
        self.assertEqual(status, 403)

    def test_a_manager_assigns_roles_up_to_their_own_level(self):
        self.assertEqual(self.assign(self.ids["member"], self.ids["manager_role"],
                                     client=self.manager)[0], 200)
        self.assertEqual(self.assign(self.ids["member"], self.ids["manager_role"], "unassign",
                                     client=self.manager)[0], 200)

    def test_nobody_removes_the_last_admin(self):
        admin = pb.make_user(pb.unique_email("rbac-solo"), PASSWORD, name="Solo Admin")
        team, uid = admin["team_id"], admin["user_id"]
        role = owner(f"SELECT id FROM core.roles WHERE team_id = '{team}' AND level = 100")[0][0]
        solo = Client(uid, team, 100)
        status, doc = self.assign(uid, role, "unassign", client=solo)
        self.assertEqual(status, 409)
        self.assertIn("at least one administrator", doc["errors"]["role_id"])
        second = pb.make_user(pb.unique_email("rbac-second"), PASSWORD, name="Second Admin",
                              team=team, level=100)
        self.assertEqual(self.assign(uid, role, "unassign", client=solo)[0], 200)
        other = Client(second["user_id"], team, 100)
        self.assertEqual(self.assign(second["user_id"], role, "unassign", client=other)[0], 409)


class SqlPolicyTest(RbacTest):
    """The same rules with no handler in front: as plugboard_app with the
    request's context set, as the host sets it."""

    def manager_sql(self, sql):
        return as_app(self.ids["team"], self.ids["manager"], 50, sql)

    def test_a_level_50_manager_cannot_create_a_level_60_role(self):
        with self.assertRaisesRegex(AssertionError, "row-level security"):
            self.manager_sql(f"INSERT INTO core.roles (team_id, name, level) "
                             f"VALUES ('{self.ids['team']}', 'sql {tag()}', 60)")
        rows = self.manager_sql(f"INSERT INTO core.roles (team_id, name, level) "
                                f"VALUES ('{self.ids['team']}', 'sql {tag()}', 40) RETURNING level")
        self.assertEqual(rows[-1], ["40"])

    def test_a_manager_cannot_edit_delete_or_assign_the_admin_role(self):
        admin_role = self.ids["admin_role"]
        rows = self.manager_sql(f"WITH u AS (UPDATE core.roles SET description = 'mine' "
                                f"WHERE id = '{admin_role}' RETURNING 1) SELECT count(*) FROM u")
        self.assertEqual(rows[-1], ["0"])
        rows = self.manager_sql(f"WITH d AS (DELETE FROM core.roles WHERE id = '{admin_role}' "
                                f"RETURNING 1) SELECT count(*) FROM d")
        self.assertEqual(rows[-1], ["0"])
        with self.assertRaisesRegex(AssertionError, "row-level security"):
            self.manager_sql(f"INSERT INTO core.user_roles VALUES ('{self.ids['team']}', "
                             f"'{self.ids['member']}', '{admin_role}')")
        with self.assertRaisesRegex(AssertionError, "row-level security"):
            self.manager_sql(f"UPDATE core.roles SET level = 70 "
                             f"WHERE id = (SELECT id FROM core.roles WHERE team_id = "
                             f"'{self.ids['team']}' AND name = 'member')")

    def test_a_manager_cannot_grant_a_permission_they_lack(self):
        with self.assertRaisesRegex(AssertionError, "row-level security"):
            self.manager_sql(f"INSERT INTO core.role_permissions VALUES "
                             f"('{self.ids['member_role']}', 'rbac:impersonate')")

    def test_nobody_can_write_into_another_team(self):
        other = pb.make_user(pb.unique_email("rbac-far"), PASSWORD, name="Far Admin")
        with self.assertRaisesRegex(AssertionError, "row-level security"):
            as_app(self.ids["team"], self.ids["admin"], 100,
                   f"INSERT INTO core.roles (team_id, name, level) "
                   f"VALUES ('{other['team_id']}', 'intruder', 1)")

    def test_the_last_admin_stays_whoever_asks(self):
        admin = pb.make_user(pb.unique_email("rbac-last"), PASSWORD, name="Last Admin")
        team, uid = admin["team_id"], admin["user_id"]
        delete = f"DELETE FROM core.user_roles WHERE team_id = '{team}' AND user_id = '{uid}'"
        with self.assertRaisesRegex(AssertionError, LAST_ADMIN):
            as_app(team, uid, 100, delete)
        with self.assertRaisesRegex(AssertionError, LAST_ADMIN):
            owner(delete)  # even the owner, who bypasses row-level security
        with self.assertRaisesRegex(AssertionError, LAST_ADMIN):
            owner(f"UPDATE core.memberships SET status = 'deactivated' WHERE user_id = '{uid}'")
        with self.assertRaisesRegex(AssertionError, LAST_ADMIN):
            owner(f"UPDATE core.roles SET level = 90 WHERE team_id = '{team}' AND level = 100")
        with self.assertRaisesRegex(AssertionError, "built-in role admin keeps its name"):
            owner(f"UPDATE core.roles SET name = 'boss' WHERE team_id = '{team}' AND level = 100")
        owner(f"DELETE FROM core.teams WHERE id = '{team}'")  # a whole team may still go
        self.assertEqual(owner(f"SELECT count(*) FROM core.roles WHERE team_id = '{team}'"),
                         [["0"]])

    def test_only_administrators_register_permissions(self):
        with self.assertRaisesRegex(AssertionError, "only a team administrator"):
            self.manager_sql(f"SELECT rbac.permission_register('sql{tag()}:x', '')")
        with self.assertRaisesRegex(AssertionError, "permission denied"):
            self.manager_sql("INSERT INTO core.permissions (name, module) VALUES ('a:b', 'custom')")


class PermissionRegistryTest(RbacTest):
    def test_every_registered_permission_is_listed(self):
        status, doc = self.member.api("GET", "/rbac/permissions")
        self.assertEqual(status, 403)
        status, doc = self.manager.api("GET", "/rbac/permissions")
        self.assertEqual(status, 200)
        perms = {p["name"]: p for p in doc["permissions"]}
        self.assertEqual(perms["rbac:impersonate"]["module"], "rbac")
        self.assertIn("View the site as", perms["rbac:impersonate"]["description"])
        self.assertEqual(perms["test:read"]["module"], "testkit")
        self.assertEqual(self.manager.page("/rbac/permissions")[0], 200)

    def test_an_administrator_registers_a_custom_permission(self):
        name = f"reports{tag()}:export"
        status, doc = self.admin.api("POST", "/rbac/permissions",
                                     {"name": name, "description": "Export reports"})
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["permission"], {"name": name, "description": "Export reports",
                                             "module": "custom"})
        admin_role = self.admin.api("GET", f"/rbac/roles/{self.ids['admin_role']}")[1]["role"]
        self.assertIn(name, admin_role["permissions"])
        status, doc = self.admin.api("POST", "/rbac/permissions", {"name": name})
        self.assertEqual(status, 409)
        self.assertIn("already registered", doc["errors"]["name"])
        self.assertEqual(len(audit_rows(self.ids["team"], "rbac.permission.create", name)), 1)
        # Granted to a role by someone who holds it.
        status, doc = self.create(level=5, permissions=[name])
        self.assertEqual((status, doc["role"]["permissions"]), (201, [name]))

    def test_names_and_levels_are_checked(self):
        for bad in ("Reports:export", "reports", "reports:", ":x", "a:b:c", "a:1b"):
            status, doc = self.admin.api("POST", "/rbac/permissions", {"name": bad})
            self.assertEqual(status, 400, bad)
            self.assertIn("name", doc["errors"])
        status, doc = self.manager.api("POST", "/rbac/permissions", {"name": f"m{tag()}:x"})
        self.assertEqual(status, 403)
        self.assertIn("Only an administrator", doc["errors"]["name"])

    def test_the_form(self):
        name = f"forms{tag()}:use"
        status, headers, _ = self.admin.form("/rbac/permissions", {"name": name, "description": ""})
        self.assertEqual((status, headers["location"]), (303, "/rbac/permissions"))
        status, page = self.admin.page("/rbac/permissions")
        self.assertIn(f"<code>{name}</code>", page)


class ViewAsTest(RbacTest):
    def view_as(self, client, user):
        return client.form(f"/rbac/view-as/{user}", {})

    def test_an_admin_sees_what_a_member_sees_and_comes_back(self):
        admin = Client(self.ids["admin"], self.ids["team"], 100)
        status, headers, _ = self.view_as(admin, self.ids["member"])
        self.assertEqual((status, headers["location"]), (303, "/"))
        me = admin.whoami()
        self.assertEqual((me["user"], me["real_user"], me["level"]),
                         (self.ids["member"], self.ids["admin"], 10))
        self.assertEqual(admin.api("GET", "/rbac")[0], 403)
        self.assertEqual(admin.page("/rbac/roles")[0], 403)
        self.assertEqual(admin.api("GET", "/test/private")[0], 403)

        status, headers, _ = admin.form("/rbac/view-as/stop", {})
        self.assertEqual((status, headers["location"]), (303, "/rbac"))
        me = admin.whoami()
        self.assertEqual((me["user"], me["real_user"], me["level"]), (self.ids["admin"], None, 100))
        self.assertEqual(admin.api("GET", "/rbac")[0], 200)

        [(real, diff)] = [(r, d) for a, r, d in audit_rows(self.ids["team"], "rbac.view_as",
                                                           self.ids["member"])
                          if a == self.ids["admin"]]
        self.assertEqual((real, diff["after"]["level"]), ("", 10))
        [actor] = [a for a, r, _ in audit_rows(self.ids["team"], "rbac.view_as_end",
                                               self.ids["member"]) if r == self.ids["admin"]]
        self.assertEqual(actor, self.ids["member"])
        denied = owner(f"SELECT DISTINCT coalesce(real_actor_id::text, '') FROM core.audit_log "
                       f"WHERE team_id = '{self.ids['team']}' AND action = 'access.denied' "
                       f"AND actor_id = '{self.ids['member']}' AND real_actor_id IS NOT NULL")
        self.assertEqual(denied, [[self.ids["admin"]]])  # the member's 403s, in the admin's name

    def test_only_members_below_ones_level(self):
        admin = Client(self.ids["admin"], self.ids["team"], 100)
        status, _, page = self.view_as(admin, self.ids["admin"])
        self.assertEqual(status, 403)
        self.assertIn("below your own level", page)
        self.assertEqual(self.view_as(admin, str(uuid.uuid4()))[0], 404)
        self.assertIsNone(admin.whoami()["real_user"])

    def test_viewing_as_needs_the_permission(self):
        manager = Client(self.ids["manager"], self.ids["team"], 50)
        status, _, _ = self.view_as(manager, self.ids["member"])
        self.assertEqual(status, 403)
        self.assertIsNone(manager.whoami()["real_user"])

    def test_never_as_someone_holding_a_permission_the_viewer_lacks(self):
        t = tag()
        deputy = pb.make_user(pb.unique_email("rbac-deputy"), PASSWORD, name="Deputy",
                              team=self.ids["team"], level=10)
        keeper = pb.make_user(pb.unique_email("rbac-keeper"), PASSWORD, name="Keeper",
                              team=self.ids["team"], level=10)
        deputy_role, keeper_role = str(uuid.uuid4()), str(uuid.uuid4())
        owner(f"""
            INSERT INTO core.permissions (name, module) VALUES ('secret{t}:read', 'custom');
            INSERT INTO core.roles (id, team_id, name, level) VALUES
              ('{deputy_role}', '{self.ids["team"]}', 'deputy {t}', 50),
              ('{keeper_role}', '{self.ids["team"]}', 'keeper {t}', 20);
            INSERT INTO core.role_permissions VALUES ('{deputy_role}', 'rbac:impersonate'),
              ('{deputy_role}', 'rbac:read'), ('{keeper_role}', 'secret{t}:read');
            INSERT INTO core.user_roles VALUES
              ('{self.ids["team"]}', '{deputy["user_id"]}', '{deputy_role}'),
              ('{self.ids["team"]}', '{keeper["user_id"]}', '{keeper_role}');
        """)
        client = Client(deputy["user_id"], self.ids["team"], 50)
        members = {m["id"]: m for m in client.api("GET", "/rbac")[1]["members"]}
        self.assertFalse(members[keeper["user_id"]]["viewable"])
        self.assertTrue(members[self.ids["member"]]["viewable"])
        status, _, page = self.view_as(client, keeper["user_id"])
        self.assertEqual(status, 403)
        self.assertIn("no permission you lack", page)
        self.assertIsNone(client.whoami()["real_user"])
        self.assertEqual(self.view_as(client, self.ids["member"])[0], 303)

    def test_stopping_when_not_viewing_as_anyone(self):
        admin = Client(self.ids["admin"], self.ids["team"], 100)
        status, _, page = admin.form("/rbac/view-as/stop", {})
        self.assertEqual(status, 400)
        self.assertIn("not viewing as anyone", page)
        status, _, _ = pb.request("POST", "/rbac/view-as/stop", headers=FORM, body=b"")
        self.assertEqual(status, 400)

    def test_api_tokens_cannot_view_as(self):
        status, _, body = pb.request(
            "POST", "/api/v1/test/session/token", headers=FORM,
            body=f"user={self.ids['admin']}&team={self.ids['team']}&level=100".encode())
        self.assertEqual(status, 200)
        token = json.loads(body)["access_token"]
        status, _, body = pb.request("POST", f"/api/v1/rbac/view-as/{self.ids['member']}",
                                     headers={"Authorization": f"Bearer {token}", **FORM},
                                     body=b"")
        self.assertEqual(status, 400, body)
        self.assertIn("browser session", json.loads(body)["error"]["message"])


if __name__ == "__main__":
    unittest.main()
