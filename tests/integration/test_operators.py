"""Operators of the installation (sql/core/007_operators.sql, the operators
module, `plugboard operator`): administering a team, any team, gives no
right over the installation's backups, modules, system log, cache or
sign-up setting; operators hold them, grant and revoke them, audited."""

import json
import subprocess
import unittest
import urllib.parse
import uuid

import pb
from test_auth import PASSWORD, cookie_of
from test_teams import act, as_json, csrf_of, sign_in_as

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def installation_routes():
    out = subprocess.run([pb.BIN, "-c", pb.CONFIG, "routes", "--json"], capture_output=True,
                         text=True, check=True, timeout=60)
    return [r for r in json.loads(out.stdout) if r["permission"].startswith("system:")]


def concrete(pattern, backup_id):
    return pattern.replace(":id", str(backup_id)).replace(":name", "auth") \
        .replace(":key", "pb%3Ax")


def bearer_call(token, method, path, fields=None):
    body = urllib.parse.urlencode(fields or {}).encode() if method != "GET" else None
    status, _, raw = pb.request(method, "/api/v1" + path, body=body,
                                headers={**FORM, "Authorization": f"Bearer {token}",
                                         "Accept": "application/json"})
    return status, raw


def cookie_call(cookie, method, path):
    headers = {"Cookie": f"pb_session={cookie}", "Accept": "application/json"}
    if method != "GET":
        headers.update(FORM, **{"X-CSRF-Token": csrf_of(cookie)})
    status, _, raw = pb.request(method, path, headers=headers,
                                body=None if method == "GET" else b"")
    return status, raw


def operators():
    return {r[0] for r in pb.psql("SELECT u.email FROM core.operators o "
                                  "JOIN core.users u ON u.id = o.user_id")}


def cli(*args):
    return subprocess.run([pb.BIN, "-c", pb.CONFIG, "operator", *args], capture_output=True,
                          text=True, timeout=60)


class EscalationTest(unittest.TestCase):
    """The path found from outside: a member invited into team A founds team
    B, is its level-100 administrator, and tries every installation-wide
    route by cookie and by bearer token. Every one must answer 403, and
    nothing may change."""

    def test_a_team_founder_gets_403_on_every_installation_route(self):
        pb.make_user(pb.unique_email("op-first"), PASSWORD, operator=True)
        a = pb.make_user(pb.unique_email("team-a"), PASSWORD, name="A Admin")
        b_email = pb.unique_email("team-b")
        pb.make_user(b_email, PASSWORD, name="B Founder", team=a["team_id"], level=10)
        self.assertNotIn(b_email, operators())
        # A backup of the whole database that B must not reach.
        backup_id = pb.psql("INSERT INTO backups.backups (file, status, size) VALUES "
                            "('escalation-test.dump', 'done', 1) RETURNING id")[0][0]

        cookie = sign_in_as(b_email)
        status, headers, body = act(cookie, "/teams", {"name": f"B {uuid.uuid4().hex[:6]}"})
        self.assertEqual(status, 303, body[:300])
        cookie = cookie_of(headers)
        status, doc = as_json(cookie, "/team/members")
        self.assertEqual((status, doc["can_manage"]), (200, True))  # B administers team B

        status, _, raw = pb.request("POST", "/api/v1/auth/token", headers=FORM,
                                    body=urllib.parse.urlencode({
                                        "grant_type": "password", "email": b_email,
                                        "password": PASSWORD}).encode())
        self.assertEqual(status, 200, raw)
        token = json.loads(raw)["access_token"]
        status, raw = bearer_call(token, "POST", "/teams", {"name": f"B2 {uuid.uuid4().hex[:6]}"})
        self.assertEqual(status, 201, raw)
        token = json.loads(raw)["token"]["access_token"]  # administers the new team

        routes = installation_routes()
        self.assertGreaterEqual(len(routes), 20)
        refused = []
        for route in routes:
            path = concrete(route["pattern"], backup_id)
            for method in [m for m in route["methods"].split(", ") if m != "HEAD"]:
                for way, call in (("cookie", lambda m, p: cookie_call(cookie, m, p)),
                                  ("bearer", lambda m, p: bearer_call(token, m, p))):
                    status, raw = call(method, path)
                    if status != 403 or b"Only operators of the installation" not in raw:
                        refused.append(f"{method} {path} by {way}: {status} {raw[:120]!r}")
        self.assertEqual(refused, [], "reached by a team administrator who is no operator")

        self.assertEqual(pb.psql("SELECT count(*) FROM backups.backups WHERE id = :'v1'",
                                 backup_id), [["1"]])
        self.assertEqual(pb.psql("SELECT signup_mode FROM teams.settings"), [["invite"]])
        denied = pb.psql("SELECT count(*) FROM core.audit_log a JOIN core.users u "
                         "ON u.id = a.actor_id WHERE u.email = :'v1' "
                         "AND a.action = 'access.denied'", b_email)
        self.assertGreaterEqual(int(denied[0][0]), len(routes))  # every refusal audited
        pb.psql("DELETE FROM backups.backups WHERE id = :'v1'", backup_id)


class TeamRolesTest(unittest.TestCase):
    """No team role can be given an installation permission, whichever way."""

    def setUp(self):
        self.admin = pb.make_user(pb.unique_email("roles-admin"), PASSWORD)
        status, _, raw = pb.request("POST", "/api/v1/test/session/token", headers=FORM,
                                    body=urllib.parse.urlencode({
                                        "user": self.admin["user_id"],
                                        "team": self.admin["team_id"], "level": "100"}).encode())
        self.token = json.loads(raw)["access_token"]

    def test_the_rbac_api_refuses_them(self):
        status, raw = bearer_call(self.token, "GET", "/rbac/permissions")
        self.assertEqual(status, 200)
        names = [p["name"] for p in json.loads(raw)["permissions"]]
        self.assertTrue(names)
        self.assertFalse([n for n in names if n.startswith("system:")], names)
        status, raw = pb.request("POST", "/api/v1/rbac/roles", body=json.dumps(
            {"name": "backup keeper", "level": 50, "permissions": ["system:backups"]}).encode(),
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.token}"})[::2]
        self.assertEqual(status, 400, raw)
        self.assertIn(b"belongs to operators of the installation", raw)
        status, raw = bearer_call(self.token, "POST", "/rbac/permissions",
                                  {"name": "system:anything"})
        self.assertEqual(status, 400, raw)
        self.assertIn(b"installation", raw)

    def test_the_database_never_stores_one(self):
        role = pb.psql("SELECT id FROM core.roles WHERE team_id = :'v1' AND level = 100",
                       self.admin["team_id"])[0][0]
        held = pb.psql("SELECT count(*) FROM core.role_permissions WHERE role_id = :'v1' "
                       "AND permission LIKE 'system:%'", role)
        self.assertEqual(held, [["0"]])  # the admin role took "every permission" but these
        pb.psql("INSERT INTO core.role_permissions VALUES (:'v1', 'system:backups')", role)
        held = pb.psql("SELECT count(*) FROM core.role_permissions WHERE role_id = :'v1' "
                       "AND permission LIKE 'system:%'", role)
        self.assertEqual(held, [["0"]])


class OperatorsPageTest(unittest.TestCase):
    def setUp(self):
        self.op_email = pb.unique_email("op")
        self.op = pb.make_user(self.op_email, PASSWORD, name="Olga Operator", operator=True)
        self.cookie = sign_in_as(self.op_email)
        self.other_email = pb.unique_email("op-other")
        self.other = pb.make_user(self.other_email, PASSWORD, name="Otto Other")

    def test_grant_and_revoke_take_effect_at_once_and_are_audited(self):
        status, doc = as_json(self.cookie, "/admin/operators")
        self.assertEqual(status, 200)
        self.assertIn(self.op_email, [o["email"] for o in doc["operators"]])
        page = pb.request("GET", "/admin/operators",
                          headers={"Cookie": f"pb_session={self.cookie}"})[2].decode()
        self.assertIn("Olga Operator", page)
        self.assertIn('href="/admin/operators"', page)  # in the navigation

        other = sign_in_as(self.other_email)  # a team admin: no operator yet
        self.assertEqual(cookie_call(other, "GET", "/admin/log")[0], 403)
        status, _, body = act(self.cookie, "/admin/operators", {"email": self.other_email})
        self.assertEqual(status, 303, body[:300])
        self.assertEqual(cookie_call(other, "GET", "/admin/log")[0], 200)
        page = pb.request("GET", "/", headers={"Cookie": f"pb_session={other}"})[2].decode()
        self.assertIn('href="/backups"', page)  # the navigation follows

        status, _, body = act(self.cookie, "/admin/operators", {"email": self.other_email})
        self.assertEqual(status, 409)
        status, _, body = act(self.cookie, "/admin/operators", {"email": "nobody@example.com"})
        self.assertEqual(status, 404)
        self.assertIn(b"No account has this e-mail address.", body)

        status, _, body = act(self.cookie, f"/admin/operators/{self.other['user_id']}/remove")
        self.assertEqual(status, 303, body[:300])
        self.assertEqual(cookie_call(other, "GET", "/admin/log")[0], 403)
        actions = pb.psql("SELECT action, actor_id FROM core.audit_log WHERE resource_id = :'v1' "
                          "AND action LIKE 'operator.%' ORDER BY id", self.other["user_id"])
        self.assertEqual(actions, [["operator.grant", self.op["user_id"]],
                                   ["operator.revoke", self.op["user_id"]]])

    def test_the_last_operator_stays(self):
        with self.assertRaises(subprocess.CalledProcessError) as e:
            pb.psql("DELETE FROM core.operators")
        self.assertIn("at least one operator", e.exception.stderr)
        self.assertIn(self.op_email, operators())

    def test_the_first_account_is_an_operator(self):
        # As on a new installation: no operator yet (in a transaction that
        # rolls back), then accounts arrive, two in one statement.
        tag = uuid.uuid4().hex[:8]
        rows = pb.psql(f"""
            BEGIN;
            ALTER TABLE core.operators DISABLE TRIGGER operators_keep_one;
            DELETE FROM core.operators;
            INSERT INTO core.users (email, display_name, password_hash, created_at) VALUES
              ('first-{tag}@example.com', 'First', 'x', now() - interval '1 second'),
              ('second-{tag}@example.com', 'Second', 'x', now());
            INSERT INTO core.users (email, display_name, password_hash)
              VALUES ('third-{tag}@example.com', 'Third', 'x');
            SELECT u.email FROM core.operators o JOIN core.users u ON u.id = o.user_id;
            ROLLBACK;""")
        self.assertEqual(rows, [[f"first-{tag}@example.com"]])
        self.assertIn(self.op_email, operators())


class OperatorCliTest(unittest.TestCase):
    def test_add_list_remove(self):
        email = pb.unique_email("op-cli")
        made = pb.make_user(email, PASSWORD)
        out = cli("add", email.upper())
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("is now an operator", out.stdout)
        self.assertIn(email, operators())
        self.assertIn(email, cli("list").stdout)
        self.assertIn("already", cli("add", email).stdout)
        out = cli("remove", email)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertNotIn(email, operators())
        rows = pb.psql("SELECT action, diff->>'via' FROM core.audit_log WHERE resource_id = "
                       ":'v1' AND action LIKE 'operator.%' ORDER BY id", made["user_id"])
        self.assertEqual(rows, [["operator.grant", "command line"],
                                ["operator.revoke", "command line"]])

    def test_errors_are_clear(self):
        out = cli("add", "nobody-at-all@example.com")
        self.assertEqual(out.returncode, 1)
        self.assertIn("no account has the address", out.stderr)
        out = cli("promote")
        self.assertEqual(out.returncode, 2)
        self.assertIn("usage: plugboard operator", out.stderr)


if __name__ == "__main__":
    unittest.main()
