"""The authorisation matrix, generated from the loaded route table: every
route x {anonymous, outsider, member without the permission, admin,
administrator of another team, operator of the installation} x {cookie
without the CSRF token (unsafe methods), cookie with it, bearer access
token}. A new route is covered the day it is added.

The installation's routes (a system:... permission: backups, modules, the
system log, the cache, operators) admit operators only: no team
administrator of any team passes them, and an operator passes them
whatever their role in their team (here a plain member).
"""

import json
import os
import re
import subprocess
import unittest
import uuid

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")
# The one route that hangs on purpose would cost the request timeout per
# case; test_resilience covers it. Everything else is in the matrix,
# including the route that crashes its worker.
SKIP_PATTERNS = {"/test/hang"}
GUARD = {
    401: "Sign in to see this page.",
    403: ("Your role does not allow this.", "This form has expired",
          "Only operators of the installation may do this."),
}


def psql(sql):
    subprocess.run(["psql", "-h", PGHOST, "-U", "plugboard_owner", "-d", "plugboard", "-X", "-q",
                    "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, timeout=30)


def login(user, team, level):
    status, headers, _ = pb.request(
        "POST", "/api/v1/test/session/login",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=f"user={user}&team={team}&level={level}".encode())
    assert status == 200, status
    cookie = re.search(r"pb_session=([^;]+)", headers["set-cookie"]).group(1)
    csrf = pb.get_json("/test/session/whoami", headers={"Cookie": f"pb_session={cookie}"})["csrf"]
    return cookie, csrf


def token(user, team, level):
    status, _, body = pb.request(
        "POST", "/api/v1/test/session/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=f"user={user}&team={team}&level={level}".encode())
    assert status == 200, (status, body)
    return json.loads(body)["access_token"]


def guard_verdict(status, body):
    """'401', '403', 'csrf' when the host's guard refused, else 'allowed'."""
    try:
        message = json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return "allowed"
    if status == 401 and message == GUARD[401]:
        return "401"
    if status == 403 and message.startswith(GUARD[403][1]):
        return "csrf"
    if status == 403 and message in (GUARD[403][0], GUARD[403][2]):
        return "403"
    return "allowed"


class AuthorisationMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run([pb.BIN, "-c", pb.CONFIG, "routes", "--json"], capture_output=True,
                             text=True, check=True, timeout=60)
        cls.loaded = json.loads(out.stdout)
        cls.routes = [r for r in cls.loaded if r["pattern"] not in SKIP_PATTERNS]
        team, other = str(uuid.uuid4()), str(uuid.uuid4())
        admin, member, outsider, other_admin, operator = (str(uuid.uuid4()) for _ in range(5))
        admin_role, member_role, other_role = (str(uuid.uuid4()) for _ in range(3))
        tag = uuid.uuid4().hex[:8]
        psql(f"""
            INSERT INTO core.teams (id, name) VALUES ('{team}', 'T {tag}'), ('{other}', 'U {tag}');
            INSERT INTO core.users (id, email, display_name, password_hash) VALUES
              ('{admin}', 'admin-{tag}@example.com', 'A', 'x'),
              ('{member}', 'member-{tag}@example.com', 'M', 'x'),
              ('{outsider}', 'out-{tag}@example.com', 'O', 'x'),
              ('{other_admin}', 'other-admin-{tag}@example.com', 'B', 'x'),
              ('{operator}', 'operator-{tag}@example.com', 'P', 'x');
            INSERT INTO core.memberships (team_id, user_id) VALUES ('{team}', '{admin}'),
              ('{team}', '{member}'), ('{other}', '{outsider}'), ('{other}', '{other_admin}'),
              ('{team}', '{operator}');
            INSERT INTO core.roles (id, team_id, name, level) VALUES
              ('{admin_role}', '{team}', 'admin', 100), ('{member_role}', '{team}', 'member', 10),
              ('{other_role}', '{other}', 'admin', 100);
            -- "Every permission": the installation's are skipped (no team role holds one).
            INSERT INTO core.role_permissions SELECT r, name FROM core.permissions,
              (VALUES ('{admin_role}'::uuid), ('{other_role}'::uuid)) AS v(r);
            INSERT INTO core.user_roles VALUES ('{team}', '{admin}', '{admin_role}'),
              ('{team}', '{member}', '{member_role}'), ('{other}', '{other_admin}', '{other_role}'),
              ('{team}', '{operator}', '{member_role}');
            INSERT INTO core.operators (user_id) VALUES ('{operator}') ON CONFLICT DO NOTHING;
            -- Run alone on an empty database, one of them would be its first account.
            DELETE FROM core.operators WHERE user_id IN ('{admin}', '{member}', '{outsider}',
                                                         '{other_admin}');
        """)
        cls.who = {"outsider": (outsider, other, 0), "member": (member, team, 10),
                   "admin": (admin, team, 100), "other_admin": (other_admin, other, 100),
                   "operator": (operator, team, 10)}
        # What each identity's roles hold: some permissions (account:self,
        # teams:self) reach every role.
        out = subprocess.run(["psql", "-h", PGHOST, "-U", "plugboard_owner", "-d", "plugboard",
                              "-X", "-A", "-t", "-c",
                              "SELECT ur.user_id, rp.permission FROM core.user_roles ur "
                              "JOIN core.role_permissions rp ON rp.role_id = ur.role_id "
                              f"WHERE ur.user_id IN ('{admin}', '{member}', '{outsider}', "
                              f"'{other_admin}', '{operator}')"],
                             check=True, capture_output=True, text=True, timeout=30)
        pairs = [line.split("|") for line in out.stdout.splitlines() if line]
        cls.held = {name: {p for u, p in pairs if u == args[0]} for name, args in cls.who.items()}
        cls.identities = {"anonymous": None}
        cls.bearers = {}
        for name, args in cls.who.items():
            cls.identities[name] = login(*args)
            cls.bearers[name] = token(*args)

    def expected(self, route, who, with_token, method, bearer=False):
        # The guard checks identity and permission first, then CSRF.
        unsafe = method != "GET"
        csrf = who != "anonymous" and unsafe and not with_token and not bearer
        if route["permission"] == "public":
            return "csrf" if csrf else "allowed"
        if who == "anonymous":
            return "401"
        if route["permission"].startswith("system:"):
            return ("csrf" if csrf else "allowed") if who == "operator" else "403"
        if route["permission"] not in self.held[who]:
            return "403"
        return "csrf" if csrf else "allowed"

    def test_every_route_for_every_identity(self):
        checked, wrong = 0, []
        for route in self.routes:
            path = re.sub(r":[a-z_][a-z0-9_]*", str(uuid.uuid4()), route["pattern"])
            for method in [m for m in route["methods"].split(", ") if m != "HEAD"]:
                for who, ident in self.identities.items():
                    ways = ["cookie"] if ident is None else ["cookie+token", "bearer"]
                    if ident and method != "GET":
                        ways.insert(0, "cookie")
                    for way in ways:
                        headers = {"Accept": "application/json"}
                        body = None
                        if way == "bearer":
                            headers["Authorization"] = f"Bearer {self.bearers[who]}"
                        elif ident:
                            headers["Cookie"] = f"pb_session={ident[0]}"
                            if way == "cookie+token":
                                headers["X-CSRF-Token"] = ident[1]
                        if method != "GET":
                            headers["Content-Type"] = "application/x-www-form-urlencoded"
                            body = b""
                        status, h, resp = pb.request(method, path, headers=headers, body=body)
                        if ident and way != "bearer" and "pb_session=;" in h.get("set-cookie", ""):
                            # The route signed this identity out: sign it in again.
                            self.identities[who] = ident = login(*self.who[who])
                        got = guard_verdict(status, resp)
                        want = self.expected(route, who, way == "cookie+token", method,
                                             bearer=way == "bearer")
                        checked += 1
                        if got != want:
                            wrong.append(f"{method} {route['pattern']} as {who} by {way}: "
                                         f"guard said {got}, expected {want} ({status})")
        self.assertEqual(wrong, [], f"{len(wrong)} of {checked} cases wrong")
        non_public = [r for r in self.routes if r["permission"] != "public"]
        self.assertTrue(non_public, "the matrix must cover at least one protected route")
        installation = [r for r in self.routes if r["permission"].startswith("system:")]
        self.assertGreaterEqual({r["module"] for r in installation},
                                {"backups", "console", "syslog", "cache", "operators"})
        print(f"\n  authorisation matrix: {checked} cases over {len(self.routes)} of "
              f"{len(self.loaded)} loaded routes ({len(installation)} of the installation's)")

    def test_no_team_role_holds_an_installation_permission(self):
        for who in ("admin", "other_admin", "member", "operator"):
            self.assertEqual({p for p in self.held[who] if p.startswith("system:")}, set(), who)


if __name__ == "__main__":
    unittest.main()
