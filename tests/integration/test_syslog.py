"""The system log: the host's JSON lines file ([log] file, written by every
process) and its search page and API (modules/syslog, host->log_search).

Records are made through the test module (/test/log writes a chosen text
with host->log; /test/fail is a handler that fails), each test with a token
of its own so that what else the suite logs never matches."""

import json
import os
import re
import time
import unittest
import urllib.parse
import uuid

import pb
from test_rbac import Client

PASSWORD = "read the logs carefully"
JSONL = os.path.join(pb.VAR, "log", "plugboard.jsonl")
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def token():
    return "tok" + uuid.uuid4().hex[:12]


def log(text, level="warn"):
    query = urllib.parse.urlencode({"text": text, "level": level})
    pb.get_json(f"/test/log?{query}")


class SyslogTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        admin = pb.make_user(pb.unique_email("syslog-admin"), PASSWORD, name="Log Admin",
                             operator=True)
        team = admin["team_id"]
        member = pb.make_user(pb.unique_email("syslog-member"), PASSWORD, name="Log Member",
                              team=team, level=10)
        cls.admin = Client(admin["user_id"], team, 100)
        cls.member = Client(member["user_id"], team, 10)

    def search(self, expect=200, **filter):
        status, doc = self.admin.api("GET", "/admin/log?" + urllib.parse.urlencode(filter))
        self.assertEqual(status, expect, doc)
        return doc

    def test_a_failed_request_is_found_with_its_module_and_route(self):
        status, _, _ = pb.request("GET", "/test/fail")
        self.assertEqual(status, 500)
        doc = self.search(level="error", module="testkit", text="handler GET /test/fail")
        self.assertTrue(doc["configured"])
        rec = doc["records"][0]
        self.assertEqual((rec["level"], rec["role"], rec["module"], rec["route"]),
                         ("error", "worker", "testkit", "/test/fail"))
        self.assertEqual(rec["method"], "GET")
        self.assertRegex(rec["ts"], TS)
        self.assertIsInstance(rec["pid"], int)
        tok = token()
        log(tok)
        rec = self.search(text=tok)["records"][0]
        self.assertEqual((rec["module"], rec["route"], rec["msg"]),
                         ("testkit", "/test/log", f"testkit says: {tok}"))

    def test_filters(self):
        tok = token()
        # A few milliseconds apart: a warm stack answers in well under one,
        # and the time range below needs first < last.
        log(f"{tok} first", "warn")
        time.sleep(0.005)
        log(f"{tok} second", "error")
        time.sleep(0.005)
        log(f"{tok} third", "warn")
        every = self.search(text=tok)["records"]
        self.assertEqual([r["msg"] for r in every],
                         [f"testkit says: {tok} {n}" for n in ("third", "second", "first")])
        errors = self.search(text=tok, level="error")["records"]
        self.assertEqual([r["msg"] for r in errors], [f"testkit says: {tok} second"])
        self.assertEqual(len(self.search(text=tok, level="warn")["records"]), 3)
        self.assertEqual(len(self.search(text=tok.upper())["records"]), 3)  # any case
        self.assertEqual(len(self.search(text=tok, role="worker")["records"]), 3)
        self.assertEqual(self.search(text=tok, role="master")["records"], [])
        self.assertEqual(self.search(text=tok, module="auth")["records"], [])
        # Time range: since inclusive, until exclusive, as the records' times.
        first, last = every[2]["ts"], every[0]["ts"]
        ranged = self.search(text=tok, since=first, until=last)["records"]
        self.assertTrue(all(first <= r["ts"] < last for r in ranged))
        self.assertNotIn(f"testkit says: {tok} third", [r["msg"] for r in ranged])
        self.assertIn(f"testkit says: {tok} first", [r["msg"] for r in ranged])
        self.assertEqual(self.search(text=tok, since="2000-01-01 00:00",
                                     until="2000-01-02 00:00")["records"], [])

    def test_show_older(self):
        tok = token()
        for n in range(5):
            log(f"{tok} n{n}")
        page = self.search(text=tok, limit=2)
        self.assertEqual([r["msg"][-2:] for r in page["records"]], ["n4", "n3"])
        self.assertTrue(page["more"])
        self.assertEqual(page["older"]["until"], page["records"][-1]["ts"])
        same = sum(1 for r in page["records"] if r["ts"] == page["older"]["until"])
        self.assertEqual(page["older"]["skip"], str(same))
        older = self.search(**page["older"], limit=10)
        self.assertFalse(older["more"])
        self.assertTrue(all(r["ts"] <= page["older"]["until"] for r in older["records"]))
        self.assertEqual([r["msg"][-2:] for r in older["records"]], ["n2", "n1", "n0"])
        # The page offers the same as a form carrying the filter.
        status, html = self.admin.page("/admin/log?" + urllib.parse.urlencode(
            {"text": tok, "limit": 2}))
        self.assertEqual(status, 200)
        self.assertIn(f'<input type="hidden" name="until" value="{page["older"]["until"]}">',
                      html)
        self.assertIn(f'<input type="hidden" name="text" value="{tok}">', html)
        self.assertIn("Show older", html)

    def test_invalid_filters_are_refused_per_field(self):
        doc = self.search(expect=400, level="loud", role="king", since="yesterday",
                          until="2026-13-01 00:00", limit=0)
        self.assertEqual(set(doc["errors"]), {"level", "role", "since", "until", "limit"})
        doc = self.search(expect=400, since="2026-02-01 10:00", until="2026-02-01 09:00")
        self.assertEqual(set(doc["errors"]), {"until"})
        status, html = self.admin.page("/admin/log?since=soon")
        self.assertEqual(status, 400)
        self.assertIn('id="since-error"', html)
        self.assertIn('aria-invalid="true"', html)

    def test_members_without_the_permission_are_refused(self):
        status, _ = self.member.page("/admin/log")
        self.assertEqual(status, 403)
        status, _ = self.member.api("GET", "/admin/log")
        self.assertEqual(status, 403)
        status, html = self.member.page("/")
        self.assertNotIn('href="/admin/log"', html)
        status, html = self.admin.page("/")
        self.assertIn('href="/admin/log"', html)

    def test_the_page_escapes_what_was_logged(self):
        tok = token()
        log(f'{tok} <script>alert("x")</script> & done', "error")
        status, html = self.admin.page("/admin/log?" + urllib.parse.urlencode({"text": tok}))
        self.assertEqual(status, 200)
        self.assertNotIn("<script>alert", html)
        self.assertIn("&lt;script&gt;alert(", html)
        self.assertIn('class="syslog-level syslog-level-error">error</span>', html)
        self.assertIn("<code>testkit</code>", html)

    def test_the_file_is_one_json_object_per_line(self):
        log(f"{token()} line\nbreak \"quoted\" \x01", "warn")
        with open(JSONL, "rb") as f:
            data = f.read()
        self.assertTrue(data.endswith(b"\n"))
        lines = data.split(b"\n")[:-1]
        self.assertGreater(len(lines), 0)
        for n, line in enumerate(lines, 1):
            rec = json.loads(line.decode("utf-8"))
            self.assertIsInstance(rec, dict, n)
            self.assertRegex(rec["ts"], TS)
            self.assertIn(rec["level"], ("error", "warn", "info", "debug"))
            self.assertIsInstance(rec["role"], str)
            self.assertIsInstance(rec["pid"], int)
            self.assertIsInstance(rec["msg"], str)
        self.assertTrue(any(b"line\\nbreak \\\"quoted\\\" \\u0001" in line for line in lines))

class SyslogBoundTest(unittest.TestCase):
    """A search that matches nothing stops at its bound (16 MiB or 0.1 s per
    search) instead of reading the whole file, says so, and goes on from
    there when asked."""

    FILLER_MB = 40

    @classmethod
    def setUpClass(cls):
        admin = pb.make_user(pb.unique_email("syslog-bound"), PASSWORD, name="Log Bound",
                             operator=True)
        cls.admin = Client(admin["user_id"], admin["team_id"], 100)

    def search(self, page=False, **filter):
        path = "/admin/log?" + urllib.parse.urlencode(filter)
        started = time.monotonic()
        if page:
            status, html = self.admin.page(path)
            result = html
        else:
            status, result = self.admin.api("GET", path)
        self.assertEqual(status, 200, result)
        return result, time.monotonic() - started

    def test_a_search_matching_nothing_stops_at_its_bound_and_resumes(self):
        tok = token()
        size = os.path.getsize(JSONL)
        # An old record that matches, then FILLER_MB of others, written as
        # whole lines with O_APPEND as the host writes; removed afterwards
        # (with the few lines the host wrote meanwhile: this test's own).
        line = ('{"ts":"2026-01-01T00:00:00.000Z","level":"info","role":"worker","pid":1,'
                '"msg":"filler record %08d for the bound test"}\n')
        block = "".join(line % i for i in range(10000)).encode()
        fd = os.open(JSONL, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, ('{"ts":"2025-12-31T23:59:59.000Z","level":"warn","role":"worker",'
                          f'"pid":1,"msg":"the needle {tok}"}}\n').encode())
            for _ in range(self.FILLER_MB * (1 << 20) // len(block) + 1):
                os.write(fd, block)
        finally:
            os.close(fd)
        try:
            for filter in ({"text": tok}, {"text": tok, "level": "error"},
                           {"level": "error", "module": "no_such_module"}):
                doc, took = self.search(**filter)
                self.assertEqual(doc["records"], [], filter)
                self.assertTrue(doc["bounded"], filter)
                self.assertLess(took, 1.0, filter)  # all 40 MiB took over a second
                bound = doc["bound"]
                self.assertLessEqual(bound["bytes"], 16 << 20)
                self.assertEqual(doc["resume"]["before"], bound["before"])
                self.assertEqual(bound["until"], "2026-01-01T00:00:00.000Z")
            # The page says so and offers to go on.
            html, _ = self.search(page=True, text=tok)
            self.assertIn('id="syslog-bound"', html)
            self.assertIn("Search older", html)
            self.assertIn(f'name="before" value="{bound["before"]}"', html)
            # Going on from there, search after search, finds the old record.
            doc, found = {"resume": {"text": tok}}, []
            for _ in range(40):
                doc, _ = self.search(**doc["resume"])
                found += doc["records"]
                if found or not doc["bounded"]:
                    break
            self.assertEqual([r["msg"] for r in found], [f"the needle {tok}"])
        finally:
            os.truncate(JSONL, size)

    def test_older_pages_start_where_the_last_one_ended(self):
        tok = token()
        for n in range(3):
            log(f"{tok} p{n}")
            time.sleep(0.005)  # records of one millisecond resume by until/skip instead
        doc, _ = self.search(text=tok, limit=2)
        before = int(doc["older"]["before"])
        self.assertLess(before, os.path.getsize(JSONL))
        older, _ = self.search(**doc["older"], limit=10)
        self.assertEqual([r["msg"][-2:] for r in older["records"]], ["p0"])
        self.assertFalse(older["more"])


if __name__ == "__main__":
    unittest.main()
