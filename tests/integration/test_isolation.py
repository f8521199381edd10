"""Row isolation between teams, proven in SQL as the application role and
over HTTP through a handler that forgets its team filter on purpose."""

import json
import os
import subprocess
import unittest
import uuid

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")


def psql(role, sql):
    """Runs sql as role on the test database; returns rows as lists."""
    out = subprocess.run(["psql", "-h", PGHOST, "-U", role, "-d", "plugboard", "-X", "-q", "-A",
                          "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def as_app(team, user, sql):
    ctx = (f"SET LOCAL plugboard.user_id = '{user}'; SET LOCAL plugboard.team_id = '{team}'; "
           "SET LOCAL plugboard.role_level = '10';")
    return psql("plugboard_app", f"BEGIN; {ctx} {sql}; COMMIT;")


class TwoTeams(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.a, cls.b = str(uuid.uuid4()), str(uuid.uuid4())
        cls.ua, cls.ub = str(uuid.uuid4()), str(uuid.uuid4())
        cls.role_a = str(uuid.uuid4())
        tag = uuid.uuid4().hex[:8]
        psql("plugboard_owner", f"""
            INSERT INTO core.teams (id, name) VALUES ('{cls.a}', 'A {tag}'), ('{cls.b}', 'B {tag}');
            INSERT INTO core.users (id, email, display_name, password_hash) VALUES
              ('{cls.ua}', 'a-{tag}@example.com', 'Ann', 'x'),
              ('{cls.ub}', 'b-{tag}@example.com', 'Bob', 'x');
            INSERT INTO core.memberships (team_id, user_id) VALUES ('{cls.a}', '{cls.ua}'),
              ('{cls.b}', '{cls.ub}');
            INSERT INTO core.permissions (name, module) VALUES ('test:read', 'testkit')
              ON CONFLICT DO NOTHING;
            INSERT INTO core.roles (id, team_id, name, level) VALUES ('{cls.role_a}', '{cls.a}', 'reader', 10),
              (gen_random_uuid(), '{cls.b}', 'reader', 10);
            INSERT INTO core.role_permissions VALUES ('{cls.role_a}', 'test:read');
            INSERT INTO core.user_roles VALUES ('{cls.a}', '{cls.ua}', '{cls.role_a}');
            INSERT INTO testkit.team_notes (team_id, body) VALUES
              ('{cls.a}', 'plan for A'), ('{cls.b}', 'secret of B');
        """)


class SqlIsolationTest(TwoTeams):
    def test_every_team_table_shows_only_the_context_team(self):
        tables = psql("plugboard_owner", """
            SELECT table_schema || '.' || table_name FROM information_schema.columns
             WHERE column_name = 'team_id' AND table_schema NOT IN ('pg_catalog', 'information_schema')
               AND has_table_privilege('plugboard_app', table_schema || '.' || table_name, 'SELECT')
             ORDER BY 1""")  # a table the application role cannot read cannot leak
        self.assertIn(["testkit.team_notes"], tables)
        self.assertIn(["core.memberships"], tables)
        for (table,) in tables:
            for team, user, other in ((self.a, self.ua, self.b), (self.b, self.ub, self.a)):
                rows = as_app(team, user, f"SELECT count(*) FROM {table} WHERE team_id = '{other}'")
                self.assertEqual(rows, [["0"]], f"{table} leaks team {other} to team {team}")

    def test_team_sees_its_own_rows(self):
        rows = as_app(self.a, self.ua, "SELECT body FROM testkit.team_notes")
        self.assertIn(["plan for A"], rows)
        self.assertNotIn(["secret of B"], rows)

    def test_users_of_other_teams_are_invisible(self):
        rows = as_app(self.a, self.ua, f"SELECT count(*) FROM core.users WHERE id = '{self.ub}'")
        self.assertEqual(rows, [["0"]])

    def test_anonymous_context_sees_no_team_rows(self):
        rows = psql("plugboard_app", "SELECT count(*) FROM testkit.team_notes")
        self.assertEqual(rows, [["0"]])

    def test_writing_into_another_team_is_refused(self):
        with self.assertRaises(AssertionError) as e:
            as_app(self.a, self.ua,
                   f"INSERT INTO testkit.team_notes (team_id, body) VALUES ('{self.b}', 'x')")
        self.assertIn("row-level security", str(e.exception))

    def test_application_role_owns_nothing(self):
        rows = psql("plugboard_owner", """
            SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
             WHERE r.rolname = 'plugboard_app'""")
        self.assertEqual(rows, [["0"]])


class InstallationTablesTest(TwoTeams):
    """Rows that belong to the whole installation (backups of every team's
    data, system events, jobs and schedules of no team, who operates it)
    are visible to operators only: a level-100 administrator of a team sees
    none of them."""

    TABLES = {
        "backups.backups": "TRUE",
        "core.system_events": "TRUE",
        "core.jobs": "team_id IS NULL",
        "core.job_schedules": "team_id IS NULL",
        "core.operators": "user_id <> core.uid()",
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.op, op2 = str(uuid.uuid4()), str(uuid.uuid4())
        tag = uuid.uuid4().hex[:8]
        psql("plugboard_owner", f"""
            INSERT INTO core.users (id, email, display_name, password_hash) VALUES
              ('{cls.op}', 'op-{tag}@example.com', 'Op', 'x'),
              ('{op2}', 'op2-{tag}@example.com', 'Op Two', 'x');
            INSERT INTO core.memberships (team_id, user_id) VALUES ('{cls.b}', '{cls.op}');
            INSERT INTO core.operators (user_id) VALUES ('{cls.op}'), ('{op2}')
              ON CONFLICT DO NOTHING;
            -- Run alone on an empty database, Ann would be its first account.
            DELETE FROM core.operators WHERE user_id IN ('{cls.ua}', '{cls.ub}');
            INSERT INTO backups.backups (file, status) VALUES ('isolation-{tag}.dump', 'failed');
            INSERT INTO core.system_events (kind, module) VALUES ('test.isolation', 'testkit');
            INSERT INTO core.jobs (name, status) VALUES ('testkit.nothing', 'done');
        """)

    def count(self, team, user, level, table):
        where = self.TABLES[table]
        ctx = (f"SET LOCAL plugboard.user_id = '{user}'; SET LOCAL plugboard.team_id = '{team}'; "
               f"SET LOCAL plugboard.role_level = '{level}';")
        rows = psql("plugboard_app", f"BEGIN; {ctx} SELECT count(*) FROM {table} "
                                     f"WHERE {where}; COMMIT;")
        return int(rows[0][0])

    def test_team_administrators_see_none_of_them(self):
        for table in self.TABLES:
            for team, user in ((self.a, self.ua), (self.b, self.ub)):
                self.assertEqual(self.count(team, user, 100, table), 0,
                                 f"{table} shows installation rows to a team administrator")

    def test_operators_see_them_whatever_their_team_role(self):
        for table in self.TABLES:
            self.assertGreater(self.count(self.b, self.op, 0, table), 0, table)

    def test_only_functions_change_who_operates(self):
        with self.assertRaises(AssertionError) as e:
            as_app(self.a, self.ua, f"INSERT INTO core.operators (user_id) VALUES ('{self.ua}')")
        self.assertIn("permission denied", str(e.exception))
        with self.assertRaises(AssertionError) as e:
            as_app(self.a, self.ua, "SELECT core.operator_grant('x@example.com')")
        self.assertIn("only an operator", str(e.exception))


class PermissionRegistryTest(unittest.TestCase):
    def test_route_permissions_are_registered_at_load(self):
        rows = psql("plugboard_owner",
                    "SELECT module FROM core.permissions WHERE name = 'test:read'")
        self.assertEqual(rows, [["testkit"]])


class AdminRoleTest(unittest.TestCase):
    def test_a_restart_grants_admins_permissions_registered_since(self):
        team, role = str(uuid.uuid4()), str(uuid.uuid4())
        psql("plugboard_owner", f"""
            INSERT INTO core.teams (id, name) VALUES ('{team}', 'late');
            INSERT INTO core.roles (id, team_id, name, level) VALUES ('{role}', '{team}', 'admin', 100);""")
        out = subprocess.run([pb.BIN, "-c", pb.CONFIG, "routes"], capture_output=True, text=True,
                             timeout=60)  # runs the probe, which registers permissions
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = psql("plugboard_owner", f"SELECT permission FROM core.role_permissions "
                                       f"WHERE role_id = '{role}' AND permission = 'test:read'")
        self.assertEqual(rows, [["test:read"]])


class HttpIsolationTest(TwoTeams):
    def login(self, user, team):
        status, headers, _ = pb.request(
            "POST", "/api/v1/test/session/login",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=f"user={user}&team={team}&level=10".encode())
        self.assertEqual(status, 200)
        return {"Cookie": headers["set-cookie"].split(";")[0]}

    def test_forgetful_handler_returns_only_the_team_rows(self):
        doc = pb.get_json("/test/team-notes", headers=self.login(self.ua, self.a))
        bodies = [n["body"] for n in doc["notes"]]
        self.assertIn("plan for A", bodies)
        self.assertNotIn("secret of B", bodies)
        self.assertEqual({n["team"] for n in doc["notes"]}, {self.a})

    def test_permission_comes_from_the_role_in_the_database(self):
        # Bob's team has a reader role too, but Bob was never given it.
        status, _, _ = pb.request("GET", "/api/v1/test/team-notes", headers=self.login(self.ub, self.b))
        self.assertEqual(status, 403)


if __name__ == "__main__":
    unittest.main()
