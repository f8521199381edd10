"""Jobs: the scheduler process (src/scheduler.c), host->job_* (src/jobs.c),
cron schedules in their time zones, and the jobs module's pages.

Runs are enqueued through testkit's POST /test/jobs; its job testkit.record
writes one row into testkit.job_results inside the run's transaction, then
sleeps in steps reporting progress, and fails when told to. The stack runs
with [scheduler] job_timeout = 6 (script/lib.sh, test mode)."""

import datetime
import json
import os
import re
import signal
import subprocess
import time
import unittest
import urllib.parse
from zoneinfo import ZoneInfo

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
UTC = datetime.timezone.utc


def psql(sql, *args):
    """Runs sql as the owner with psql variables :'v1', :'v2'...; returns
    the rows as lists of strings."""
    cmd = ["psql", "-h", PGHOST, "-U", "plugboard_owner", "-d", "plugboard", "-X", "-q", "-At",
           "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for i, a in enumerate(args, 1):
        cmd += ["-v", f"v{i}={a}"]
    out = subprocess.run(cmd, input=sql, check=True, capture_output=True, text=True, timeout=30)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def job_row(job_id):
    rows = psql("SELECT status, attempts, coalesce(error, ''), progress, message, "
                "extract(epoch FROM run_at - now())::int FROM core.jobs WHERE id = :'v1'",
                job_id)
    s, attempts, error, progress, message, due_in = rows[0]
    return {"status": s, "attempts": int(attempts), "error": error, "progress": int(progress),
            "message": message, "due_in": int(due_in)}


def results(tag):
    return psql("SELECT job_id, coalesce(user_id::text, ''), coalesce(team_id::text, ''), level, "
                "coalesce(ip, ''), coalesce(agent, '<null>') FROM testkit.job_results "
                "WHERE tag = :'v1' ORDER BY id", tag)


def tag():
    return f"t{os.getpid()}-{time.monotonic_ns()}"


def bearer(token):
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


def enqueue(fields, headers=None):
    status, _, body = pb.request("POST", "/api/v1/test/jobs", headers={**FORM, **(headers or {})},
                                 body=urllib.parse.urlencode(fields).encode())
    assert status == 200, (status, body[:300])
    return json.loads(body)


def wait_status(job_id, want, timeout=30, **extra):
    def check():
        row = job_row(job_id)
        ok = row["status"] == want and all(row[k] == v for k, v in extra.items())
        return row if ok else None
    return pb.wait_until(check, timeout=timeout, interval=0.2,
                         message=f"run {job_id} {want} {extra}")


def scheduler_pid():
    """The scheduler: the master's child named pb-scheduler."""
    text = open(pb.CONFIG).read()
    pidfile = re.search(r"^pidfile\s*=\s*(\S+)", text, re.M).group(1)
    master = open(pidfile).read().strip()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = stat[stat.rindex(")") + 2:].split()[1]
        if comm == "pb-scheduler" and ppid == master:
            return int(d)
    return None


class Team:
    """A user in a team of their own (admin), with a bearer token and a
    cookie session."""

    def __init__(self, level=100, team=None):
        made = pb.make_user(pb.unique_email("jobs"), "correct horse battery", name="Job Tester",
                            team=team, level=level)
        self.user, self.team = made["user_id"], made["team_id"]
        fields = {"user": self.user, "team": self.team, "level": str(level)}
        status, _, body = pb.request("POST", "/api/v1/test/session/token", headers=FORM,
                                     body=urllib.parse.urlencode(fields).encode())
        assert status == 200, body
        self.headers = bearer(json.loads(body)["access_token"])
        status, h, _ = pb.request("POST", "/api/v1/test/session/login", headers=FORM,
                                  body=urllib.parse.urlencode(fields).encode())
        assert status == 200
        self.cookie = {"Cookie": "pb_session=" + re.search(r"pb_session=([^;]*)",
                                                             h["set-cookie"]).group(1)}

    def post(self, path, fields):
        return pb.request("POST", path, headers={**FORM, **self.headers},
                          body=urllib.parse.urlencode(fields).encode())


# --- Reference fire times (the DST rules of src/cron.h) ----------------------

def fire_instant(wall, zone):
    """The instant a wall-clock time fires at in zone: its first occurrence,
    or for a time in a gap, the first instant after the gap."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    t = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while t.astimezone(zone).replace(tzinfo=None) <= wall:
        t += datetime.timedelta(minutes=1)
    return t


def nth_sunday(year, month, n):
    d = datetime.date(year, month, 1)
    d += datetime.timedelta(days=(6 - d.weekday()) % 7)
    return d + datetime.timedelta(weeks=n - 1)


def last_sunday(year, month):
    d = datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)
    return d - datetime.timedelta(days=(d.weekday() + 1) % 7)


class JobsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = Team()

    # --- Running ---------------------------------------------------------------

    def test_a_run_writes_one_result_as_its_enqueuer(self):
        t = tag()
        out = enqueue({"tag": t}, self.admin.headers)
        self.assertGreater(out["id"], 0)
        # Outside a run the job functions answer nothing.
        self.assertEqual((out["outside_id"], out["outside_payload"], out["outside_progress"]),
                         (0, False, -2))
        wait_status(out["id"], "done", progress=100)
        # The run acted as the enqueuer, in their team, with no client.
        self.assertEqual(results(t), [[str(out["id"]), self.admin.user, self.admin.team, "100",
                                       "", "<null>"]])
        audit = psql("SELECT actor_id, team_id, coalesce(host(ip), '') FROM core.audit_log "
                     "WHERE action = 'testkit.job' AND resource_id = :'v1'", out["id"])
        self.assertEqual(audit, [[self.admin.user, self.admin.team, ""]])

    def test_progress_is_visible_while_the_run_is_open(self):
        t = tag()
        job_id = enqueue({"tag": t, "steps": "8", "step_ms": "400"}, self.admin.headers)["id"]

        def midway():
            job = pb.get_json(f"/api/v1/jobs/{job_id}", headers=self.admin.headers)["job"]
            return job if job["status"] == "running" and 0 < job["progress"] < 100 else None
        job = pb.wait_until(midway, timeout=20, interval=0.1, message="progress midway")
        self.assertRegex(job["message"], r"^step [2-8] of 8$")
        # The result row is not committed while the run is open.
        self.assertEqual(results(t), [])
        wait_status(job_id, "done", progress=100)
        self.assertEqual(len(results(t)), 1)

    def test_failures_back_off_then_die_with_the_error_and_can_be_retried(self):
        t = tag()
        job_id = enqueue({"tag": t, "fail": "told to fail"}, self.admin.headers)["id"]
        for attempt in range(1, 5):
            row = wait_status(job_id, "queued", attempts=attempt)
            self.assertEqual(row["error"], "told to fail")
            # Back-off: 10 s * 2^attempt.
            self.assertAlmostEqual(row["due_in"], 10 * 2 ** attempt, delta=3)
            psql("UPDATE core.jobs SET run_at = now() WHERE id = :'v1'", job_id)
        row = wait_status(job_id, "dead", attempts=5)
        self.assertEqual(row["error"], "told to fail")
        self.assertEqual(results(t), [])  # every attempt rolled back
        # The page shows the error; a manager can retry.
        page = pb.request("GET", f"/jobs/{job_id}", headers=self.admin.cookie)[2].decode()
        self.assertIn("told to fail", page)
        self.assertIn(f'action="/jobs/{job_id}/retry"', page)
        # Whatever made it fail is fixed; the retried run completes, once.
        psql("UPDATE core.jobs SET payload = payload - 'fail' WHERE id = :'v1'", job_id)
        status, h, _ = self.admin.post(f"/api/v1/jobs/{job_id}/retry", {})
        self.assertEqual(status, 303)
        self.assertEqual(h["location"], f"/jobs/{job_id}")
        row = wait_status(job_id, "done")
        self.assertEqual((row["attempts"], row["error"]), (1, ""))
        self.assertEqual(len(results(t)), 1)
        self.assertEqual(psql("SELECT count(*) FROM core.audit_log WHERE action = 'job.retry' "
                              "AND resource_id = :'v1'", job_id), [["1"]])
        # Only a dead run can be retried.
        self.assertEqual(self.admin.post(f"/api/v1/jobs/{job_id}/retry", {})[0], 409)

    def test_one_queued_or_running_run_per_key_and_team(self):
        key = tag()
        a = enqueue({"tag": key, "key": key, "delay": "3600"}, self.admin.headers)["id"]
        b = enqueue({"tag": key, "key": key, "delay": "3600"}, self.admin.headers)["id"]
        self.assertEqual(a, b)
        other = Team()
        c = enqueue({"tag": key, "key": key, "delay": "3600"}, other.headers)["id"]
        self.assertNotEqual(a, c)
        d = enqueue({"tag": key, "key": key, "delay": "3600"})["id"]  # no team
        self.assertNotIn(d, (a, c))
        self.assertEqual(enqueue({"tag": key, "key": key, "delay": "3600"})["id"], d)
        # Once it is done, the key takes a new run.
        psql("UPDATE core.jobs SET status = 'done' WHERE id = :'v1'", a)
        self.assertNotEqual(enqueue({"tag": key, "key": key}, self.admin.headers)["id"], a)
        psql("UPDATE core.jobs SET status = 'dead' WHERE id IN (:'v1', :'v2')", c, d)

    def test_unknown_job_names_are_refused(self):
        status, _, _ = pb.request("POST", "/api/v1/test/jobs", headers=FORM,
                                  body=b"name=testkit.nothing")
        self.assertEqual(status, 500)

    def test_a_run_past_the_timeout_is_killed_and_retried(self):
        t = tag()
        job_id = enqueue({"tag": t, "steps": "1", "step_ms": "60000"}, self.admin.headers)["id"]
        wait_status(job_id, "running", timeout=15)
        started = time.monotonic()
        row = wait_status(job_id, "queued", timeout=20, attempts=1)
        self.assertGreater(time.monotonic() - started, 4)
        self.assertEqual(row["error"], "timed out after 6 s: killed")
        self.assertEqual(results(t), [])
        psql("UPDATE core.jobs SET status = 'dead' WHERE id = :'v1'", job_id)

    def test_a_run_killed_with_the_scheduler_completes_after_restart_once(self):
        t = tag()
        job_id = enqueue({"tag": t, "steps": "10", "step_ms": "400"}, self.admin.headers)["id"]
        wait_status(job_id, "running", timeout=15)
        pb.wait_until(lambda: job_row(job_id)["progress"] >= 20, timeout=10,
                      message="the run is under way")
        old = scheduler_pid()
        self.assertIsNotNone(old)
        os.kill(old, signal.SIGKILL)
        new = pb.wait_until(lambda: (lambda p: p if p and p != old else None)(scheduler_pid()),
                            timeout=10, message="the master restarted the scheduler")
        self.assertNotEqual(new, old)
        row = wait_status(job_id, "done", timeout=60)
        self.assertEqual(row["attempts"], 2)
        self.assertEqual(len(results(t)), 1)
        time.sleep(1)
        self.assertEqual(len(results(t)), 1)

    # --- Schedules ---------------------------------------------------------------

    def test_a_modules_cron_job_is_scheduled_in_the_configured_zone(self):
        rows = psql("SELECT cron, timezone, source, team_id IS NULL, "
                    "extract(epoch FROM next_run_at)::bigint FROM core.job_schedules "
                    "WHERE name = 'testkit.tick'")
        self.assertEqual(rows[0][:4], ["0 3 * * *", "UTC", "module", "t"])
        now = datetime.datetime.now(UTC)
        want = now.replace(hour=3, minute=0, second=0, microsecond=0)
        if want <= now:
            want += datetime.timedelta(days=1)
        self.assertLessEqual(abs(int(rows[0][4]) - int(want.timestamp())), 86400)
        self.assertEqual(int(rows[0][4]) % 86400, 3 * 3600)

    def add_schedule(self, cron, zone):
        status, h, body = self.admin.post("/api/v1/jobs/schedules",
                                          {"name": "testkit.record", "cron": cron,
                                           "timezone": zone})
        self.assertEqual(status, 303, body[:300])
        return psql("SELECT max(id) FROM core.job_schedules WHERE team_id = :'v1' "
                    "AND cron = :'v2'", self.admin.team, cron)[0][0]

    def next_run(self, sid):
        def planned():
            rows = psql("SELECT extract(epoch FROM next_run_at)::bigint, "
                        "coalesce(extract(epoch FROM last_run_at)::bigint, 0) "
                        "FROM core.job_schedules WHERE id = :'v1' AND next_run_at IS NOT NULL",
                        sid)
            return rows[0] if rows else None
        return [int(x) for x in pb.wait_until(planned, timeout=15, message="next run planned")]

    def expect_next(self, walls, zone, after):
        """The first of the yearly wall-clock times (month, day, hour, minute)
        in zone after the instant `after`."""
        after = datetime.datetime.fromtimestamp(after, UTC)
        best = None
        for year in (after.year, after.year + 1, after.year + 2):
            for wall in walls(year):
                t = fire_instant(wall, zone)
                if t > after and (best is None or t < best):
                    best = t
        return int(best.timestamp())

    def test_a_due_schedule_fires_once_and_plans_across_dst_in_its_zone(self):
        ny = ZoneInfo("America/New_York")
        year = datetime.datetime.now(UTC).year + 1
        # The day New York skips 02:00-03:00: 02:30 fires at 03:00 EDT.
        spring = nth_sunday(year, 3, 2)
        cron = f"30 2 {spring.day} 3 *"
        sid = self.add_schedule(cron, "America/New_York")

        def walls(y):
            return [datetime.datetime(y, 3, spring.day, 2, 30)]
        planned, _ = self.next_run(sid)
        self.assertEqual(planned, self.expect_next(walls, ny, time.time() - 60))
        gap_end = datetime.datetime(year, 3, spring.day, 7, 0, tzinfo=UTC)  # 03:00 EDT
        self.assertEqual(planned, int(gap_end.timestamp()))
        # Due in the past (as after an outage): fires once, plans the next.
        psql("UPDATE core.job_schedules SET next_run_at = now() - interval '3 days' "
             "WHERE id = :'v1'", sid)
        pb.wait_until(lambda: self.next_run(sid)[1] > 0, timeout=15, message="fired")
        planned, last = self.next_run(sid)
        self.assertEqual(planned, self.expect_next(walls, ny, last - 5))
        runs = psql("SELECT id FROM core.jobs WHERE key = 'cron:' || :'v1'", sid)
        self.assertEqual(len(runs), 1)
        wait_status(runs[0][0], "done")
        self.assertEqual(psql("SELECT user_id IS NULL, team_id FROM core.jobs WHERE id = :'v1'",
                              runs[0][0]), [["t", self.admin.team]])
        self.assertEqual(psql("SELECT count(*) FROM testkit.job_results WHERE job_id = :'v1'",
                              runs[0][0]), [["1"]])

    def test_a_repeated_wall_time_fires_at_its_first_occurrence(self):
        berlin = ZoneInfo("Europe/Berlin")
        year = datetime.datetime.now(UTC).year + 1
        autumn = last_sunday(year, 10)  # Berlin repeats 02:00-03:00
        sid = self.add_schedule(f"30 2 {autumn.day} 10 *", "Europe/Berlin")
        planned, _ = self.next_run(sid)
        self.assertEqual(planned, self.expect_next(
            lambda y: [datetime.datetime(y, 10, autumn.day, 2, 30)], berlin, time.time() - 60))
        first = datetime.datetime(year, 10, autumn.day, 0, 30, tzinfo=UTC)  # 02:30 CEST
        self.assertEqual(planned, int(first.timestamp()))
        # And a summer time from a winter day: July in New York is EDT.
        sid = self.add_schedule("0 9 1 7 *", "America/New_York")
        planned, _ = self.next_run(sid)
        self.assertEqual(planned, self.expect_next(
            lambda y: [datetime.datetime(y, 7, 1, 9, 0)], ZoneInfo("America/New_York"),
            time.time() - 60))

    def test_schedule_fields_are_checked(self):
        status, _, body = self.admin.post("/api/v1/jobs/schedules", {
            "name": "testkit.nothing", "cron": "61 * * * *", "timezone": "Mars/Olympus"})
        self.assertEqual(status, 422)
        errors = json.loads(body)["errors"]
        self.assertEqual(errors["cron"], "minute: 61 is out of range 0-59")
        self.assertIn("time zone", errors["timezone"])
        status, _, body = self.admin.post("/api/v1/jobs/schedules", {
            "name": "testkit.nothing", "cron": "0 0 * * *", "timezone": "UTC"})
        self.assertEqual(status, 422)
        self.assertIn("name", json.loads(body)["errors"])
        # The HTML form shows the message next to the field.
        page = pb.request("POST", "/jobs/schedules", headers={**FORM, **self.admin.cookie},
                          body=b"name=testkit.record&cron=*+*+*&timezone=UTC")
        self.assertEqual(page[0], 403)  # no CSRF token: refused before the handler

    def test_removing_a_schedule_is_audited_and_limited_to_the_team(self):
        sid = self.add_schedule("15 4 * * *", "UTC")
        other = Team()
        self.assertEqual(other.post(f"/api/v1/jobs/schedules/{sid}/delete", {})[0], 404)
        status, _, _ = self.admin.post(f"/api/v1/jobs/schedules/{sid}/delete", {})
        self.assertEqual(status, 303)
        self.assertEqual(psql("SELECT count(*) FROM core.job_schedules WHERE id = :'v1'", sid),
                         [["0"]])
        self.assertEqual(psql("SELECT action FROM core.audit_log WHERE resource_type = "
                              "'job_schedule' AND resource_id = :'v1' ORDER BY id", sid),
                         [["job_schedule.create"], ["job_schedule.delete"]])

    # --- Pages and permissions ------------------------------------------------------

    def test_the_jobs_page_and_api_show_the_teams_runs(self):
        t = tag()
        job_id = enqueue({"tag": t}, self.admin.headers)["id"]
        wait_status(job_id, "done")
        body = pb.get_json("/api/v1/jobs", headers=self.admin.headers)
        mine = [j for j in body["jobs"] if j["id"] == job_id]
        self.assertEqual(mine[0]["status"], "done")
        self.assertEqual(mine[0]["progress"], 100)
        self.assertEqual(mine[0]["payload"]["tag"], t)
        self.assertIn("testkit.record", [d["name"] for d in body["job_names"]])
        self.assertTrue(body["can_manage"])
        status, _, page = pb.request("GET", "/jobs", headers=self.admin.cookie)
        self.assertEqual(status, 200)
        page = page.decode()
        self.assertIn(f'<a href="/jobs/{job_id}">#{job_id}</a>', page)
        self.assertIn('<progress value="100" max="100">100%</progress>', page)
        self.assertIn('action="/jobs/schedules"', page)
        self.assertNotIn("style=", page)
        status, _, page = pb.request("GET", f"/jobs/{job_id}", headers=self.admin.cookie)
        self.assertEqual(status, 200)
        self.assertIn(f'data-job-poll="/api/v1/jobs/{job_id}"', page.decode())
        # Another team sees none of it.
        other = Team()
        self.assertEqual(pb.request("GET", f"/api/v1/jobs/{job_id}", headers=other.headers)[0],
                         404)
        self.assertNotIn(job_id, [j["id"] for j in
                                  pb.get_json("/api/v1/jobs", headers=other.headers)["jobs"]])
        self.assertEqual(pb.request("GET", "/api/v1/jobs?status=lost",
                                    headers=self.admin.headers)[0], 400)

    def test_members_without_the_permissions_are_refused(self):
        member = Team(level=10, team=self.admin.team)
        self.assertEqual(pb.request("GET", "/api/v1/jobs", headers=member.headers)[0], 403)
        self.assertEqual(member.post("/api/v1/jobs/1/retry", {})[0], 403)
        self.assertEqual(member.post("/api/v1/jobs/schedules", {})[0], 403)
        self.assertEqual(pb.request("GET", "/api/v1/jobs",
                                    headers={"Accept": "application/json"})[0], 401)


if __name__ == "__main__":
    unittest.main()
