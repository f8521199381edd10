"""Backups: pg_dump archives made by jobs (host->backup_*, src/backup.c)
and the backups module's API: backup -> verify -> restore into a new
database with equal row counts for every table, download, delete,
retention, permissions, one dump at a time."""

import json
import os
import re
import subprocess
import unittest
import urllib.parse

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
FOLDER = os.path.join(pb.VAR, "backups")


def psql(sql, *args, db="plugboard"):
    cmd = ["psql", "-h", PGHOST, "-U", "plugboard_owner", "-d", db, "-X", "-q", "-At",
           "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for i, a in enumerate(args, 1):
        cmd += ["-v", f"v{i}={a}"]
    out = subprocess.run(cmd, input=sql, check=True, capture_output=True, text=True, timeout=60)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


COUNT_SQL = """
SELECT n.nspname || '.' || c.relname,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I',
        n.nspname, c.relname), false, true, '')))[1]::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)' ORDER BY 1"""


def counts_of(db):
    return {t: int(n) for t, n in psql(COUNT_SQL, db=db)}


class Admin:
    def __init__(self, level=100, team=None, operator=False):
        made = pb.make_user(pb.unique_email("bk"), "correct horse battery", name="Backup Tester",
                            team=team, level=level, operator=operator)
        self.user, self.team = made["user_id"], made["team_id"]
        fields = {"user": self.user, "team": self.team, "level": str(level)}
        status, _, body = pb.request("POST", "/api/v1/test/session/token", headers=FORM,
                                     body=urllib.parse.urlencode(fields).encode())
        assert status == 200, body
        self.headers = {"Authorization": "Bearer " + json.loads(body)["access_token"],
                        "Accept": "application/json"}

    def call(self, method, path, fields=None):
        body = urllib.parse.urlencode(fields or {}).encode() if method != "GET" else None
        status, h, raw = pb.request(method, path, headers={**FORM, **self.headers}, body=body,
                                    timeout=60)
        try:
            data = json.loads(raw) if raw and "json" in h.get("content-type", "") else raw
        except ValueError:
            data = raw
        return status, h, data


def wait_job(job_id, timeout=60):
    def done():
        rows = psql("SELECT status, coalesce(error, ''), message FROM core.jobs WHERE id = :'v1'",
                    job_id)
        return rows[0] if rows and rows[0][0] in ("done", "dead") else None
    row = pb.wait_until(done, timeout=timeout, interval=0.3, message=f"job {job_id}")
    return row


class TestBackups(unittest.TestCase):
    restored = []

    @classmethod
    def setUpClass(cls):
        cls.admin = Admin(operator=True)
        # Another administrator of the same team, who operates nothing.
        cls.team_admin = Admin(team=cls.admin.team)
        # Fill tables across modules: users, teams, memberships, roles (make_user),
        # a member, mail in the outbox, audit rows and schedules.
        cls.member = Admin(level=10, team=cls.admin.team)
        for _ in range(3):
            Admin()
        pb.request("POST", "/api/v1/test/mail", headers=FORM,
                   body=urllib.parse.urlencode({"to": "someone@example.com", "subject": "fill",
                                                "text": "a row in core.outbox"}).encode())
        status, _, _ = cls.admin.call("POST", "/api/v1/backups/schedule",
                                      {"cron": "0 3 * * *", "timezone": "Europe/Berlin"})
        assert status == 201, status

    @classmethod
    def tearDownClass(cls):
        for db in cls.restored:
            subprocess.run(["dropdb", "-h", PGHOST, "-U", "plugboard_owner", "--if-exists", db],
                           capture_output=True, timeout=60)

    def backup(self):
        status, _, data = self.admin.call("POST", "/api/v1/backups")
        self.assertEqual(status, 202, data)
        row = wait_job(data["job_id"])
        self.assertEqual(row[0], "done", row)
        return int(re.search(r"backup #(\d+)", row[2]).group(1))

    def test_round_trip(self):
        bid = self.backup()
        status, _, data = self.admin.call("GET", "/api/v1/backups")
        self.assertEqual(status, 200)
        mine = [b for b in data["backups"] if b["id"] == bid][0]
        self.assertEqual(mine["status"], "done")
        path = os.path.join(FOLDER, mine["file"])
        self.assertEqual(os.path.getsize(path), mine["size"])
        recorded = json.loads(psql("SELECT counts FROM backups.backups WHERE id = :'v1'",
                                   bid)[0][0])
        # Every module's tables are there, with rows.
        for t in ("core.users", "core.teams", "core.memberships", "core.audit_log",
                  "core.job_schedules", "core.outbox", "backups.backups"):
            self.assertIn(t, recorded)
            self.assertGreater(recorded[t], 0, t)
        self.assertEqual(set(recorded), set(counts_of("plugboard")))

        # Verify: POST starts it, GET reports it.
        status, _, data = self.admin.call("GET", f"/api/v1/backups/{bid}/verify")
        self.assertEqual(status, 200, data)
        self.assertIsNone(data["backup"]["verify_status"])
        status, _, data = self.admin.call("POST", f"/api/v1/backups/{bid}/verify")
        self.assertEqual(status, 202, data)
        self.assertEqual(wait_job(data["job_id"])[0], "done")
        status, _, data = self.admin.call("GET", f"/api/v1/backups/{bid}/verify")
        self.assertEqual(status, 200, data)
        self.assertEqual(data["backup"]["verify_status"], "passed", data)
        self.assertEqual(data["backup"]["verify_result"]["mismatches"], [])
        self.assertEqual(data["backup"]["verify_result"]["tables"], len(recorded))

        # Restore into a new database, then count there ourselves.
        name = f"pb_restored_{os.getpid()}"
        self.restored.append(name)
        status, _, data = self.admin.call("POST", f"/api/v1/backups/{bid}/restore",
                                          {"target": "new", "name": name})
        self.assertEqual(status, 202, data)
        row = wait_job(data["job_id"])
        self.assertEqual(row[0], "done", row)
        self.assertIn("row counts equal", row[2])
        self.assertEqual(counts_of(name), recorded)
        # The name is now taken; in place is refused; bad names refused.
        status, _, data = self.admin.call("POST", f"/api/v1/backups/{bid}/restore",
                                          {"target": "new", "name": name})
        self.assertEqual(status, 422, data)
        self.assertIn("name", data["errors"])
        status, _, data = self.admin.call("POST", f"/api/v1/backups/{bid}/restore",
                                          {"target": "in_place"})
        self.assertEqual(status, 400)
        self.assertIn("in-place restore is not available", json.dumps(data))
        status, _, data = self.admin.call("POST", f"/api/v1/backups/{bid}/restore",
                                          {"name": "Bad-Name"})
        self.assertEqual(status, 422)

        # Download: the file's bytes.
        status, h, raw = self.admin.call("GET", f"/api/v1/backups/{bid}/download")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "application/octet-stream")
        self.assertIn("attachment", h["content-disposition"])
        with open(path, "rb") as f:
            self.assertEqual(raw, f.read())

        # Audit rows for each step.
        actions = {r[0] for r in psql("SELECT action FROM core.audit_log WHERE "
                                      "resource_type = 'backup' AND resource_id = :'v1'", bid)}
        self.assertTrue({"backup.create", "backup.verify", "backup.restore"} <= actions, actions)

        # Delete: file and row gone.
        status, _, data = self.admin.call("DELETE", f"/api/v1/backups/{bid}")
        self.assertEqual(status, 200, data)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(psql("SELECT count(*) FROM backups.backups WHERE id = :'v1'", bid),
                         [["0"]])
        self.assertEqual(self.admin.call("DELETE", f"/api/v1/backups/{bid}")[0], 404)

    def test_member_refused(self):
        for method, path in (("GET", "/api/v1/backups"), ("POST", "/api/v1/backups"),
                             ("GET", "/api/v1/backups/1/download"),
                             ("DELETE", "/api/v1/backups/1")):
            self.assertEqual(self.member.call(method, path)[0], 403, (method, path))
            self.assertEqual(self.team_admin.call(method, path)[0], 403, (method, path))

    def test_one_at_a_time_and_retention(self):
        status, _, a = self.admin.call("POST", "/api/v1/backups")
        status2, _, b = self.admin.call("POST", "/api/v1/backups")
        self.assertEqual((status, status2), (202, 202))
        self.assertEqual(a["job_id"], b["job_id"])
        wait_job(a["job_id"])
        keep = int(re.search(r"^keep\s*=\s*(\d+)", open(pb.CONFIG).read(), re.M).group(1))
        for _ in range(keep + 1 - int(psql("SELECT count(*) FROM backups.backups "
                                           "WHERE status = 'done'")[0][0])):
            self.backup()
        self.backup()
        before = {r[0] for r in psql("SELECT file FROM backups.backups WHERE status = 'done'")}
        self.backup()
        rows = {r[0] for r in psql("SELECT file FROM backups.backups WHERE status = 'done'")}
        self.assertEqual(len(rows), keep)
        on_disk = set(os.listdir(FOLDER))
        self.assertTrue(rows <= on_disk)
        self.assertTrue(before - rows)
        self.assertFalse((before - rows) & on_disk)
        self.assertTrue(psql("SELECT count(*) FROM core.audit_log WHERE action = 'backup.expire'")
                        [0][0] != "0")

    def test_page(self):
        status, _, body = pb.request("GET", "/backups", headers={
            "Authorization": self.admin.headers["Authorization"]})
        self.assertIn(status, (200,))


if __name__ == "__main__":
    unittest.main()
