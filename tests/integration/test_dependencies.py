"""PostgreSQL and Redis going away and coming back: requests that need the
missing service answer 503 with Retry-After, nothing else is affected, no
worker crashes, and service resumes by itself within 2 s of the return."""

import os
import subprocess
import time
import unittest
import uuid

import pb

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def stack(*functions):
    """Runs script/lib.sh functions against the test stack."""
    script = f'source "{pb.ROOT}/script/lib.sh"; pb_env test; ' + "; ".join(functions)
    subprocess.run(["bash", "-c", script], check=True, timeout=60, capture_output=True)


def crashes():
    return pb.get_json("/status")["crashes"]


def status_of(path, headers=None):
    return pb.request("GET", path, headers=headers)


class RedisOutageTest(unittest.TestCase):
    def test_sessions_answer_503_and_recover(self):
        user = str(uuid.uuid4())
        status, headers, _ = pb.request("POST", "/api/v1/test/session/login", headers=FORM,
                                        body=f"user={user}".encode())
        cookie = {"Cookie": headers["set-cookie"].split(";")[0]}
        before = crashes()
        stack("pb_redis_stop")
        try:
            st, h, _ = status_of("/api/v1/test/private", cookie)
            self.assertEqual((st, h.get("retry-after")), (503, "2"))
            self.assertEqual(status_of("/")[0], 200)           # public pages still serve
            doc = pb.get_json("/healthz", expect=503)
            self.assertEqual(doc["down"], "redis")
        finally:
            stack("pb_redis_start")
        back = time.monotonic()
        pb.wait_until(lambda: status_of("/healthz")[0] == 200, timeout=2,
                      message="not healthy within 2 s of Redis's return")
        self.assertLess(time.monotonic() - back, 2.5)
        self.assertEqual(crashes(), before)


class PostgresOutageTest(unittest.TestCase):
    def test_data_pages_answer_503_and_recover(self):
        self.assertEqual(status_of("/status")[0], 200)  # a page that reads the database
        before = crashes()
        stack("pb_pg_stop")
        try:
            st, h, body = status_of("/api/v1/test/tx-count?body=x")
            self.assertEqual((st, h.get("retry-after")), (503, "2"), body)
            self.assertIn(b"database is unavailable", body)
            self.assertEqual(status_of("/")[0], 200)
            self.assertEqual(pb.get_json("/healthz", expect=503)["down"], "postgres")
        finally:
            stack("pb_pg_start")
        pb.wait_until(lambda: status_of("/api/v1/test/tx-count?body=x")[0] == 200, timeout=2,
                      message="not serving within 2 s of PostgreSQL's return")
        self.assertEqual(crashes(), before)


if __name__ == "__main__":
    unittest.main()
