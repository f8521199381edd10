"""Redis, then PostgreSQL, killed during a wrk run against a signed-in page:
no worker crashes, requests answer 503 while a dependency is down and 200
again within 2 s of its return, and no write that was acknowledged is lost.
"""

import os
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import pb

PGHOST = os.path.join(pb.VAR, "run", "pg")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PAGE = "/api/v1/test/team-notes"


def stack(*functions):
    script = f'source "{pb.ROOT}/script/lib.sh"; pb_env test; ' + "; ".join(functions)
    subprocess.run(["bash", "-c", script], check=True, timeout=60, capture_output=True)


class OutagesUnderLoadTest(unittest.TestCase):
    def test_redis_then_postgres_killed_during_wrk(self):
        user = pb.make_user(pb.unique_email("chaos"), "chaos password 1")
        status, headers, _ = pb.request(
            "POST", "/api/v1/test/session/login", headers=FORM,
            body=urllib.parse.urlencode({"user": user["user_id"], "team": user["team_id"],
                                         "level": "100"}).encode())
        self.assertEqual(status, 200)
        cookie = headers["set-cookie"].split(";")[0]
        auth = {"Cookie": cookie}
        self.assertEqual(pb.request("GET", PAGE, headers=auth)[0], 200)
        crashes = pb.get_json("/status")["crashes"]

        stop = threading.Event()
        seen = []        # (time, status) of the probe's signed-in requests
        acked = []       # bodies of writes answered 201
        run = f"chaos-{os.getpid()}-{time.monotonic_ns()}"

        def probe():
            while not stop.is_set():
                try:
                    seen.append((time.monotonic(), pb.request("GET", PAGE, headers=auth,
                                                              timeout=5)[0]))
                except OSError:
                    seen.append((time.monotonic(), "error"))
                time.sleep(0.02)

        def writer():
            i = 0
            while not stop.is_set():
                body = f"{run}-{i}"
                i += 1
                try:
                    st = pb.request("POST", "/test/tx/ok", headers=FORM,
                                    body=f"body={body}".encode(), timeout=5)[0]
                except OSError:
                    st = "error"
                if st == 201:
                    acked.append(body)
                time.sleep(0.01)

        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(f'wrk.headers["Cookie"] = "{cookie.split("=", 1)[0]}={cookie.split("=", 1)[1]}"\n')
        load = {}
        wrk = threading.Thread(target=lambda: load.update(
            pb.run_wrk(PAGE, 16, 16, script=lua.name, timeout=5)))
        threads = [threading.Thread(target=probe), threading.Thread(target=writer), wrk]
        for t in threads:
            t.start()
        recover = {}
        try:
            time.sleep(2)
            for name, down, up in (
                    ("redis", 'kill -9 "$(cat "$PB_RUN/redis.pid")"', "pb_redis_start"),
                    ("postgres", 'pb_as_pg "$PB_PG_BIN/pg_ctl" -D "$PB_PG_DATA" -m immediate -w stop',
                     "pb_pg_start")):
                stack(down)
                t_down = time.monotonic()  # the kill has happened by now
                time.sleep(2.5)
                t_starting = time.monotonic()
                stack(up)  # returns once the service answers: its return
                t_up = time.monotonic()
                pb.wait_until(lambda: [s for t, s in seen if t > t_up and s == 200],
                              timeout=2.5, message=f"200 again within 2 s of {name}'s return")
                recover[name] = (t_down, t_starting,
                                 min(t for t, s in seen if t > t_up and s == 200) - t_up)
                time.sleep(1.5)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
            os.unlink(lua.name)

        for name, (t_down, t_starting, took) in recover.items():
            during = [s for t, s in seen if t_down + 0.1 < t < t_starting]
            self.assertTrue(during, f"no probe while {name} was down")
            self.assertEqual(set(during), {503}, f"while {name} was down: {set(during)}")
            self.assertLess(took, 2.0, f"{name}: first 200 {took:.2f} s after its return")
        self.assertEqual({s for _, s in seen} - {200, 503}, set(), "only 200 and 503 answers")
        self.assertGreater(load.get("requests", 0), 0, load.get("output"))
        self.assertEqual(load["socket_errors"], 0, load["output"])
        self.assertEqual(pb.get_json("/status")["crashes"], crashes, "no worker crashed")
        # Every write that was answered 201 is in the database.
        self.assertGreater(len(acked), 10)
        out = subprocess.run(
            ["psql", "-h", PGHOST, "-U", "plugboard_owner", "-d", "plugboard", "-X", "-At", "-c",
             f"SELECT body FROM testkit.notes WHERE body LIKE '{run}-%'"],
            check=True, capture_output=True, text=True, timeout=30)
        stored = set(out.stdout.split())
        self.assertEqual(sorted(set(acked) - stored), [], "acknowledged writes lost")
        print(f"\n  outages under load: {load['requests']} wrk requests, {len(seen)} probes, "
              f"{len(acked)} acknowledged writes kept; back to 200 after "
              + ", ".join(f"{n} {r[2]:.2f} s" for n, r in recover.items()))


if __name__ == "__main__":
    unittest.main()
