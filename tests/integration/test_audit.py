"""The audit trail (modules/audit) and `plugboard audit-archive`.

Rows are written as the owner with chosen times, actors and teams, so every
filter and page can be checked against the same rows selected in SQL.
"""

import datetime
import json
import re
import subprocess
import tempfile
import unittest
import urllib.parse
import uuid

import pb
from test_isolation import psql

UTC = datetime.timezone.utc
BULK = 120  # rows of one kind: three pages of 50, 50 and 20


def ts(value):
    return value.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def sql_text(value):
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def forget(teams, users):
    """Deletes what a test class made: test_auth, which runs later, needs a
    database without users to sign its first user up."""
    t = ", ".join(f"'{x}'" for x in teams)
    u = ", ".join(f"'{x}'" for x in users) or "NULL"
    psql("plugboard_owner", f"""
        DELETE FROM core.audit_log WHERE team_id IN ({t});
        DELETE FROM core.audit_archive WHERE team_id IN ({t});
        DELETE FROM core.teams WHERE id IN ({t});
        DELETE FROM core.users WHERE id IN ({u});""")


def login(user, team, level):
    status, headers, _ = pb.request(
        "POST", "/api/v1/test/session/login",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=f"user={user}&team={team}&level={level}".encode())
    assert status == 200, status
    return {"Cookie": re.search(r"pb_session=[^;]+", headers["set-cookie"]).group(0)}


def insert_rows(rows):
    """rows: dicts with team, at, actor, real, action, type, rid, diff, ip."""
    values = ",\n".join(
        f"({sql_text(r['team'])}, {sql_text(ts(r['at']))}, {sql_text(r.get('actor'))}, "
        f"{sql_text(r.get('real'))}, {sql_text(r['action'])}, {sql_text(r.get('type', ''))}, "
        f"{sql_text(r.get('rid', ''))}, {sql_text(json.dumps(r.get('diff', {})))}, "
        f"{sql_text(r.get('ip'))}, {sql_text(r.get('ua', ''))})" for r in rows)
    psql("plugboard_owner", f"""
        INSERT INTO core.audit_log (team_id, at, actor_id, real_actor_id, action, resource_type,
                                    resource_id, diff, ip, user_agent) VALUES {values}""")


class AuditData(unittest.TestCase):
    """Team A (Ann the admin, Max a member without audit:read) and team B
    (Bob, its admin), each with their own rows."""

    @classmethod
    def setUpClass(cls):
        cls.a, cls.b = str(uuid.uuid4()), str(uuid.uuid4())
        cls.ann, cls.max, cls.bob = (str(uuid.uuid4()) for _ in range(3))
        admin_a, member_a, admin_b = (str(uuid.uuid4()) for _ in range(3))
        tag = uuid.uuid4().hex[:8]
        psql("plugboard_owner", f"""
            INSERT INTO core.teams (id, name) VALUES ('{cls.a}', 'A {tag}'), ('{cls.b}', 'B {tag}');
            INSERT INTO core.users (id, email, display_name, password_hash) VALUES
              ('{cls.ann}', 'ann-{tag}@example.com', 'Ann Admin', 'x'),
              ('{cls.max}', 'max-{tag}@example.com', 'Max Member', 'x'),
              ('{cls.bob}', 'bob-{tag}@example.com', 'Bob Other', 'x');
            INSERT INTO core.memberships (team_id, user_id) VALUES ('{cls.a}', '{cls.ann}'),
              ('{cls.a}', '{cls.max}'), ('{cls.b}', '{cls.bob}');
            INSERT INTO core.roles (id, team_id, name, level) VALUES
              ('{admin_a}', '{cls.a}', 'admin', 100), ('{member_a}', '{cls.a}', 'member', 10),
              ('{admin_b}', '{cls.b}', 'admin', 100);
            INSERT INTO core.role_permissions VALUES ('{admin_a}', 'audit:read'),
              ('{admin_b}', 'audit:read');
            INSERT INTO core.user_roles VALUES ('{cls.a}', '{cls.ann}', '{admin_a}'),
              ('{cls.a}', '{cls.max}', '{member_a}'), ('{cls.b}', '{cls.bob}', '{admin_b}');""")
        today = datetime.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        cls.day = today - datetime.timedelta(days=20)  # the day of the named rows
        day, one = cls.day, datetime.timedelta(days=1)
        bulk_start = day - 5 * one
        rows = [{"team": cls.a, "at": bulk_start + datetime.timedelta(minutes=n // 3),
                 "actor": cls.ann if n % 2 == 0 else cls.max, "action": "item.touch",
                 "type": "item", "rid": f"i{n}", "diff": {"before": {"n": n}, "after": {"n": n + 1}},
                 "ip": "192.0.2.7"} for n in range(BULK)]  # three rows share each time
        rows += [
            {"team": cls.a, "at": day + one - datetime.timedelta(microseconds=1),
             "actor": cls.ann, "action": "role.update", "type": "role", "rid": "R1",
             "diff": {"before": {"name": "member", "level": 10},
                      "after": {"name": "editor", "level": 10}},
             "ip": "10.1.2.3", "ua": "Mozilla/5.0 (audit test)"},
            {"team": cls.a, "at": day + one, "actor": cls.max, "action": "role.create",
             "type": "role", "rid": "R2", "diff": {"before": None, "after": {"name": "x"}}},
            {"team": cls.a, "at": day - one / 2, "actor": cls.ann, "action": "roles.purge"},
            {"team": cls.a, "at": day + 2 * one + datetime.timedelta(hours=8), "actor": cls.max,
             "real": cls.ann, "action": "lead.update", "type": "lead", "rid": "<b>L1</b>",
             "ip": "2001:db8::1", "diff": {"before": {"stage": "new"}, "after": {"stage": "won"}}},
            {"team": cls.a, "at": day + 2 * one + datetime.timedelta(hours=9), "actor": None,
             "action": "system.cleanup", "diff": {"before": 3, "after": 0}},
            {"team": cls.b, "at": day, "actor": cls.bob, "action": "secret.b", "type": "role",
             "rid": "R1"},
            # A row of team B naming Ann: her filter in team A must not reach it.
            {"team": cls.b, "at": day, "actor": cls.ann, "action": "role.update", "type": "role",
             "rid": "R1"},
        ]
        insert_rows(rows)
        cls.ann_h = login(cls.ann, cls.a, 100)
        cls.max_h = login(cls.max, cls.a, 10)
        cls.bob_h = login(cls.bob, cls.b, 100)

    @classmethod
    def tearDownClass(cls):
        forget([cls.a, cls.b], [cls.ann, cls.max, cls.bob])

    def expected(self, where="true", team=None):
        """Ids of the team's rows matching where, newest first."""
        rows = psql("plugboard_owner", f"""
            SELECT id FROM core.audit_log WHERE team_id = '{team or self.a}' AND ({where})
             ORDER BY at DESC, id DESC""")
        return [int(r[0]) for r in rows]

    def fetch(self, path, headers=None, expect=200, **query):
        query = {k: v for k, v in query.items() if v is not None}
        url = path + ("?" + urllib.parse.urlencode(query) if query else "")
        return pb.get_json(url, headers=headers or self.ann_h, expect=expect)

    def all_pages(self, path="/api/v1/audit-logs", headers=None, **query):
        """Follows "next" to the end; returns every page's ids."""
        pages, cursor = [], {}
        while True:
            doc = self.fetch(path, headers, **query, **cursor)
            pages.append([e["id"] for e in doc["entries"]])
            if doc["next"] is None:
                return pages
            cursor = doc["next"]
            self.assertLess(len(pages), 10, "pagination does not end")


class AuditListTest(AuditData):
    def test_the_trail_is_the_teams_newest_first_in_pages_of_50(self):
        pages = self.all_pages()
        self.assertEqual([len(p) for p in pages], [50, 50, BULK + 5 - 100])
        ids = [i for p in pages for i in p]
        self.assertEqual(ids, self.expected())  # each row once, in order, ties by id

    def test_pages_of_a_filtered_listing(self):
        pages = self.all_pages(user=self.ann)
        ids = [i for p in pages for i in p]
        self.assertEqual(ids, self.expected(f"actor_id = '{self.ann}'"))
        self.assertEqual(len(pages), 2)

    def test_filter_by_user(self):
        doc = self.fetch("/api/v1/audit-logs", user=self.max)
        self.assertEqual([e["id"] for e in doc["entries"]],
                         self.expected(f"actor_id = '{self.max}'")[:50])
        self.assertEqual({e["actor"]["id"] for e in doc["entries"]}, {self.max})

    def test_one_users_page(self):
        ids = [i for p in self.all_pages(f"/api/v1/audit-logs/user/{self.max}") for i in p]
        self.assertEqual(ids, self.expected(f"actor_id = '{self.max}'"))
        doc = self.fetch(f"/api/v1/audit-logs/user/{self.max}", action="lead.update")
        self.assertEqual([e["action"] for e in doc["entries"]], ["lead.update"])

    def test_filter_by_exact_action(self):
        doc = self.fetch("/api/v1/audit-logs", action="role.update")
        self.assertEqual([e["id"] for e in doc["entries"]], self.expected("action = 'role.update'"))
        self.assertEqual(len(doc["entries"]), 1)  # team B's role.update stays out
        self.assertEqual(doc["filters"]["action_match"], "exact")
        self.assertEqual(self.fetch("/api/v1/audit-logs", action="role")["entries"], [])

    def test_filter_by_action_prefix(self):
        doc = self.fetch("/api/v1/audit-logs", action="role.")
        self.assertEqual([e["action"] for e in doc["entries"]], ["role.create", "role.update"])
        self.assertEqual(doc["filters"]["action_match"], "prefix")  # roles.purge is not in it

    def test_filter_by_resource(self):
        doc = self.fetch("/api/v1/audit-logs", resource_type="item", resource_id="i7")
        self.assertEqual([e["id"] for e in doc["entries"]], self.expected("resource_id = 'i7'"))
        doc = self.fetch("/api/v1/audit-logs", resource_type="role")
        self.assertEqual([e["id"] for e in doc["entries"]],
                         self.expected("resource_type = 'role'"))
        doc = self.fetch("/api/v1/audit-logs", resource_id="<b>L1</b>")
        self.assertEqual([e["action"] for e in doc["entries"]], ["lead.update"])

    def test_filter_by_date_range_inclusive_in_utc(self):
        one = datetime.timedelta(days=1)
        d = self.day.strftime("%Y-%m-%d")
        doc = self.fetch("/api/v1/audit-logs", **{"from": d, "to": d})
        self.assertEqual([e["action"] for e in doc["entries"]], ["role.update"])  # 23:59:59.999999
        nxt, last = (self.day + one).strftime("%Y-%m-%d"), (self.day + 2 * one).strftime("%Y-%m-%d")
        doc = self.fetch("/api/v1/audit-logs", **{"from": nxt, "to": last})
        self.assertEqual([e["action"] for e in doc["entries"]],
                         ["system.cleanup", "lead.update", "role.create"])
        doc = self.fetch("/api/v1/audit-logs", **{"from": nxt})
        self.assertEqual(len(doc["entries"]), 3)
        doc = self.fetch("/api/v1/audit-logs", to=(self.day - one).strftime("%Y-%m-%d"))
        self.assertEqual(len(doc["entries"]), 50)
        self.assertEqual(doc["entries"][0]["action"], "roles.purge")

    def test_combined_filters(self):
        doc = self.fetch("/api/v1/audit-logs", user=self.ann, action="item.", resource_id="i8",
                         to=self.day.strftime("%Y-%m-%d"))
        self.assertEqual([e["resource_id"] for e in doc["entries"]], ["i8"])
        doc = self.fetch("/api/v1/audit-logs", user=self.max, resource_id="i8")
        self.assertEqual(doc["entries"], [])

    def test_invalid_filters_answer_400_per_field(self):
        doc = self.fetch("/api/v1/audit-logs", expect=400, user="not-a-uuid", action="Role!",
                         **{"from": "2026-02-30"}, resource_type="x" * 81, cursor_at="12")
        self.assertEqual(set(doc["errors"]),
                         {"user", "action", "from", "resource_type", "cursor_id"})
        doc = self.fetch("/api/v1/audit-logs", expect=400, **{"from": "2026-03-02"},
                         to="2026-03-01")
        self.assertEqual(set(doc["errors"]), {"to"})
        doc = self.fetch("/api/v1/audit-logs", expect=400, cursor_at="-1", cursor_id="x")
        self.assertEqual(set(doc["errors"]), {"cursor_at", "cursor_id"})

    def test_invalid_filters_show_the_form_with_errors(self):
        status, _, body = pb.request("GET", "/audit-logs?action=Role%21&from=2026-13-01",
                                     headers=self.ann_h)
        page = body.decode()
        self.assertEqual(status, 400)
        self.assertIn('id="action-error"', page)
        self.assertIn('id="from-error"', page)
        self.assertIn('<option value="%s">Max Member</option>' % self.max, page)
        self.assertNotIn("No audit entries match", page)

    def test_malformed_user_id_is_400(self):
        doc = self.fetch("/api/v1/audit-logs/user/nope", expect=400)
        self.assertEqual(set(doc["errors"]), {"id"})
        status, _, _ = pb.request("GET", "/audit-logs/user/12345", headers=self.ann_h)
        self.assertEqual(status, 400)


class AuditAccessTest(AuditData):
    def test_a_member_without_audit_read_gets_403(self):
        for path in ("/audit-logs", f"/audit-logs/user/{self.max}", "/api/v1/audit-logs"):
            status, _, _ = pb.request("GET", path, headers=self.max_h)
            self.assertEqual(status, 403, path)

    def test_a_refusal_is_in_the_trail(self):
        status, _, _ = pb.request("GET", "/api/v1/audit-logs?action=role.",
                                  headers={**self.max_h, "User-Agent": "audit-refusal-test"})
        self.assertEqual(status, 403)
        doc = self.fetch("/api/v1/audit-logs", user=self.max, action="access.denied")
        mine = [e for e in doc["entries"] if e["user_agent"] == "audit-refusal-test"]
        self.assertEqual(len(mine), 1, doc["entries"])
        e = mine[0]  # written by the host's guard, kept although the request failed
        self.assertEqual(e["actor"], {"id": self.max, "name": "Max Member"})
        self.assertEqual((e["resource_type"], e["resource_id"]), ("route", "GET /audit-logs"))
        self.assertEqual(e["diff"], {"after": {"permission": "audit:read"}})
        self.assertEqual(e["ip"], "127.0.0.1")

    def test_anonymous_gets_401(self):
        self.assertEqual(pb.request("GET", "/api/v1/audit-logs")[0], 401)

    def test_another_teams_rows_never_appear(self):
        ids = {i for p in self.all_pages() for i in p}
        self.assertFalse(ids & set(self.expected(team=self.b)))
        self.assertEqual(self.fetch("/api/v1/audit-logs", action="secret.b")["entries"], [])
        self.assertEqual(self.fetch("/api/v1/audit-logs", user=self.bob)["entries"], [])
        doc = self.fetch("/api/v1/audit-logs", self.bob_h)
        self.assertEqual([e["id"] for e in doc["entries"]], self.expected(team=self.b))
        self.assertEqual([m["name"] for m in doc["members"]], ["Bob Other"])
        # Bob asking for Ann's actions sees only those in his team.
        doc = self.fetch(f"/api/v1/audit-logs/user/{self.ann}", self.bob_h)
        self.assertEqual([e["action"] for e in doc["entries"]], ["role.update"])

    def app_sql(self, sql):
        ctx = (f"SET LOCAL plugboard.user_id = '{self.ann}'; "
               f"SET LOCAL plugboard.team_id = '{self.a}'; SET LOCAL plugboard.role_level = '100';")
        return psql("plugboard_app", f"BEGIN; {ctx} {sql}; COMMIT;")

    def test_the_application_role_cannot_change_the_trail(self):
        for sql in ("UPDATE core.audit_log SET action = 'forged' WHERE team_id = core.tid()",
                    "DELETE FROM core.audit_log WHERE team_id = core.tid()",
                    "INSERT INTO core.audit_log (team_id, action) VALUES (core.tid(), 'forged')",
                    "TRUNCATE core.audit_log",
                    "DELETE FROM core.audit_archive"):
            with self.assertRaises(AssertionError, msg=sql) as e:
                self.app_sql(sql)
            self.assertIn("permission denied", str(e.exception))
        seen = [int(r[0]) for r in self.app_sql(
            "SELECT id FROM core.audit_log ORDER BY at DESC, id DESC")]
        self.assertEqual(seen, self.expected())  # nothing changed, and only team A is visible


class AuditViewTest(AuditData):
    def test_json_shape(self):
        doc = self.fetch("/api/v1/audit-logs")
        self.assertEqual(set(doc), {"entries", "next", "filters", "members"})
        self.assertEqual(set(doc["next"]), {"cursor_at", "cursor_id"})
        self.assertEqual(doc["filters"], {"user": None, "action": None, "action_match": None,
                                          "resource_type": None, "resource_id": None,
                                          "from": None, "to": None, "cursor": None})
        self.assertEqual([m["name"] for m in doc["members"]], ["Ann Admin", "Max Member"])
        keys = {"id", "at", "actor", "real_actor", "action", "resource_type", "resource_id",
                "diff", "ip", "user_agent", "changes"}
        for e in doc["entries"]:
            self.assertEqual(set(e), keys)
            self.assertRegex(e["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        by_action = {e["action"]: e for e in doc["entries"]}
        lead = by_action["lead.update"]
        self.assertEqual(lead["actor"], {"id": self.max, "name": "Max Member"})
        self.assertEqual(lead["real_actor"], {"id": self.ann, "name": "Ann Admin"})
        self.assertEqual(lead["ip"], "2001:db8::1")
        self.assertEqual(lead["diff"], {"before": {"stage": "new"}, "after": {"stage": "won"}})
        role = by_action["role.update"]
        self.assertIsNone(role["real_actor"])
        self.assertEqual(role["ip"], "10.1.2.3")
        self.assertEqual(role["user_agent"], "Mozilla/5.0 (audit test)")
        self.assertEqual((role["resource_type"], role["resource_id"]), ("role", "R1"))
        self.assertEqual(role["changes"], [{"key": "name", "before": "member", "after": "editor"}])
        self.assertEqual(by_action["role.create"]["changes"], [{"key": "name", "after": "x"}])
        system = by_action["system.cleanup"]
        self.assertIsNone(system["actor"])
        self.assertEqual(system["changes"], [{"key": "", "before": "3", "after": "0"}])
        self.assertIsNone(by_action["roles.purge"]["resource_type"])
        page2 = self.fetch("/api/v1/audit-logs", **doc["next"])
        self.assertEqual(page2["filters"]["cursor"], doc["next"])

    def test_accept_json_on_the_page_address(self):
        doc = self.fetch("/audit-logs", action="role.update")
        self.assertEqual(len(doc["entries"]), 1)

    def test_the_page(self):
        status, _, body = pb.request("GET", "/audit-logs", headers=self.ann_h)
        page = body.decode()
        self.assertEqual(status, 200)
        self.assertIn("<h1>Audit log</h1>", page)
        self.assertIn('<a href="/audit-logs" aria-current="page">Audit log</a>', page)
        self.assertIn(f'<a href="/audit-logs/user/{self.max}">Max Member</a>', page)
        self.assertIn("done by Ann Admin while viewing as this user", page)
        self.assertIn("&lt;b&gt;L1&lt;/b&gt;", page)
        self.assertNotIn("<b>L1</b>", page)
        self.assertIn("<tr><td>name</td><td>member</td><td>editor</td></tr>", page)
        self.assertIn("<tr><td>stage</td><td>new</td><td>won</td></tr>", page)
        self.assertIn('name="cursor_id"', page)  # the older page
        self.assertIn("Older entries", page)

    def test_the_older_link_keeps_the_filters(self):
        status, _, body = pb.request("GET", f"/audit-logs?user={self.ann}&action=item.",
                                     headers=self.ann_h)
        page = body.decode()
        self.assertEqual(status, 200)
        form = page[page.index('name="cursor_at"') - 800:page.index("Older entries")]
        self.assertIn(f'<input type="hidden" name="user" value="{self.ann}">', form)
        self.assertIn('<input type="hidden" name="action" value="item.">', form)
        self.assertIn(f'<option value="{self.ann}" selected>Ann Admin</option>', page)

    def test_one_users_page_names_them(self):
        status, _, body = pb.request("GET", f"/audit-logs/user/{self.max}", headers=self.ann_h)
        self.assertEqual(status, 200)
        self.assertIn("<h1>Audit log — Max Member</h1>", body.decode())


class AuditBearerTest(unittest.TestCase):
    def test_the_api_answers_a_bearer_token(self):
        email = pb.unique_email("audit")
        who = pb.make_user(email, "a long enough password", name="Tia Token")
        self.addCleanup(forget, [who["team_id"]], [who["user_id"]])
        status, _, body = pb.request(
            "POST", "/api/v1/auth/token", headers={"User-Agent": "audit-token-test"},
            body={"grant_type": "password", "email": email, "password": "a long enough password"})
        self.assertEqual(status, 200, body)
        token = json.loads(body)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        doc = pb.get_json("/api/v1/audit-logs", headers=auth)
        self.assertEqual([m["name"] for m in doc["members"]], ["Tia Token"])
        status, _, _ = pb.request("GET", "/api/v1/audit-logs?user=nope", headers=auth)
        self.assertEqual(status, 400)


class AuditArchiveTest(unittest.TestCase):
    def archive(self, *args):
        return subprocess.run([pb.BIN, "-c", pb.CONFIG, "audit-archive", *args],
                              capture_output=True, text=True, timeout=60)

    def count(self, table, where):
        return int(psql("plugboard_owner", f"SELECT count(*) FROM {table} WHERE {where}")[0][0])

    def test_old_rows_move_to_the_archive(self):
        team = str(uuid.uuid4())
        psql("plugboard_owner", f"INSERT INTO core.teams (id, name) VALUES ('{team}', 'archive')")
        self.addCleanup(forget, [team], [])
        now = datetime.datetime.now(UTC)
        insert_rows([{"team": team, "at": now - datetime.timedelta(days=d), "action": "old.row",
                      "diff": {"after": {"d": d}}, "ip": "192.0.2.9"}
                     for d in (400, 400, 366, 300, 10)])
        mine = f"team_id = '{team}'"
        older = self.count("core.audit_log", "at < now() - interval '365 days'")
        result = self.archive()  # the default: 365 days
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, f"archived {older} audit rows older than 365 days\n")
        self.assertEqual(self.count("core.audit_log", mine), 2)
        self.assertEqual(self.count("core.audit_archive", mine), 3)
        moved = psql("plugboard_owner", f"SELECT diff->'after'->>'d', host(ip), action FROM "
                                        f"core.audit_archive WHERE {mine} ORDER BY id")
        self.assertEqual(moved, [["400", "192.0.2.9", "old.row"], ["400", "192.0.2.9", "old.row"],
                                 ["366", "192.0.2.9", "old.row"]])
        result = self.archive("--older-than", "200")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout, r"^archived \d+ audit rows older than 200 days\n$")
        self.assertEqual(self.count("core.audit_log", mine), 1)
        self.assertEqual(self.count("core.audit_archive", mine), 4)
        result = self.archive("--older-than=200")
        self.assertEqual(result.stdout, "archived 0 audit rows older than 200 days\n")

    def test_bad_arguments_exit_1_with_the_reason(self):
        for args in (["--older-than", "soon"], ["--older-than", "-3"], ["--newer"],
                     ["--older-than"]):
            result = self.archive(*args)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn("plugboard audit-archive:", result.stderr)
            self.assertEqual(result.stdout, "")

    def test_an_unreachable_database_exits_1(self):
        text = open(pb.CONFIG).read()
        text = re.sub(r"(?m)^owner_conninfo\s*=.*$",
                      "owner_conninfo = host=/nonexistent dbname=plugboard", text)
        with tempfile.NamedTemporaryFile("w", suffix=".ini") as config:
            config.write(text)
            config.flush()
            result = subprocess.run([pb.BIN, "-c", config.name, "audit-archive"],
                                    capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1)
        self.assertIn("cannot connect as the owner role", result.stderr)

    def test_help_names_the_command(self):
        out = subprocess.run([pb.BIN, "--help"], capture_output=True, text=True, timeout=10)
        self.assertIn("audit-archive [--older-than DAYS]", out.stdout)


if __name__ == "__main__":
    unittest.main()
