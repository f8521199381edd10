"""The process model under misbehaviour: crashing and hanging handlers,
refused modules, a second master, recycling, and SIGTERM while serving."""

import os
import re
import signal
import subprocess
import threading
import time
import unittest

import pb

LOG = os.path.join(pb.VAR, "log", "plugboard.log")


def log_size():
    return os.path.getsize(LOG)


def log_since(offset):
    with open(LOG, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


class CrashTest(unittest.TestCase):
    def test_crashing_route_fails_alone_and_is_logged_once(self):
        # Let the master log any crash an earlier test caused (it does so
        # within milliseconds): only this test's crash may follow.
        pb.wait_until(lambda: (lambda d: len(d["workers"]["list"]) == d["workers"]["configured"])(
            pb.get_json("/status")), timeout=5, message="workers not all up")
        time.sleep(0.3)
        before = log_size()
        status, _, _ = pb.request("GET", "/test/crash")
        self.assertEqual(status, 502)
        for path in ("/", "/healthz", "/test/crashy-ok"):
            self.assertEqual(pb.request("GET", path)[0], 200, path)
        pb.wait_until(lambda: "crashed" in log_since(before), message="no crash line")
        lines = [l for l in log_since(before).splitlines() if "crashed" in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("signal 11", lines[0])
        self.assertIn("GET /test/crash (module crashy)", lines[0])

    def test_crashed_worker_is_replaced(self):
        # Other tests crash workers too: wait for this crash to be counted,
        # logged and replaced, so no line of it lands in another test.
        before = pb.get_json("/status")
        lines_before = log_since(0).count("crashed")
        pb.request("GET", "/test/crash")

        def replaced():
            doc = pb.get_json("/status")
            return doc["crashes"] > before["crashes"] and doc["respawns"] > before["respawns"] \
                and len(doc["workers"]["list"]) == doc["workers"]["configured"] \
                and log_since(0).count("crashed") > lines_before
        pb.wait_until(replaced, timeout=5, message="worker not respawned")

    def test_hanging_request_is_killed_at_the_timeout(self):
        before = log_size()
        results = {}
        t = threading.Thread(target=lambda: results.update(hang=pb.request("GET", "/test/hang", timeout=30)[0]))
        t.start()
        time.sleep(0.5)
        self.assertEqual(pb.request("GET", "/healthz")[0], 200)  # others still served
        t.join(30)
        self.assertEqual(results.get("hang"), 502)
        pb.wait_until(lambda: "request timeout" in log_since(before), message="no timeout line")
        line = next(l for l in log_since(before).splitlines() if "request timeout" in l)
        self.assertIn("GET /test/hang (module crashy)", line)


class RefusedModulesTest(unittest.TestCase):
    """Each bad module is refused with one log line; everything else serves."""

    @classmethod
    def setUpClass(cls):
        cls.master = pb.Master().start()
        cls.log = cls.master.log_text()

    @classmethod
    def tearDownClass(cls):
        cls.master.stop()

    def refused(self, name):
        lines = [l for l in self.log.splitlines() if f"module {name} refused" in l]
        self.assertEqual(len(lines), 1, lines)
        return lines[0]

    def test_wrong_abi(self):
        self.assertIn("built for module ABI 99, this host speaks ABI 1", self.refused("badabi"))

    def test_failing_init(self):
        self.assertIn("init failed: the test asked this init to fail", self.refused("failinit"))

    def test_crashing_init(self):
        self.assertIn("crashed while loading", self.refused("initcrash"))

    def test_no_descriptor(self):
        self.assertIn("no pb_module_descriptor symbol", self.refused("nodesc"))

    def test_route_clash(self):
        self.assertIn("clashes with", self.refused("clash"))

    def test_route_without_permission(self):
        self.assertIn("deny by default", self.refused("noperm"))

    def test_refused_routes_are_404_and_the_rest_serves(self):
        sock = self.master.socket
        self.assertEqual(pb.fcgi_request(sock, "/test/badabi")[0], 404)
        self.assertEqual(pb.fcgi_request(sock, "/test/failinit")[0], 404)
        self.assertEqual(pb.fcgi_request(sock, "/")[0], 200)
        self.assertEqual(pb.fcgi_request(sock, "/test/crashy-ok")[0], 200)


class MasterTest(unittest.TestCase):
    def test_second_master_on_the_same_pidfile_refuses_to_start(self):
        m = pb.Master().start()
        try:
            other = subprocess.run([pb.BIN, "-c", m.config], capture_output=True, text=True,
                                   timeout=20)
            self.assertNotEqual(other.returncode, 0)
            self.assertIn("another plugboard", other.stderr)
            self.assertEqual(pb.fcgi_request(m.socket, "/healthz")[0], 200)
        finally:
            m.stop()

    def test_workers_recycle_after_max_requests(self):
        m = pb.Master(workers=1, max_requests=5).start()
        try:
            for _ in range(17):
                self.assertEqual(pb.fcgi_request(m.socket, "/healthz")[0], 200)
            pb.wait_until(lambda: m.ctl_status()["recycled"] >= 3, timeout=5,
                          message="workers did not recycle")
        finally:
            m.stop()

    def test_ctl_status_reports_workers_and_routes(self):
        m = pb.Master(workers=2).start()
        try:
            pb.fcgi_request(m.socket, "/")
            st = m.ctl_status()
            self.assertEqual(st["workers"]["configured"], 2)
            self.assertEqual(len(st["workers"]["list"]), 2)
            self.assertIn("GET /", [r["route"] for r in st["routes"]])
            text = subprocess.run([pb.BIN, "-c", m.config, "ctl", "status"], capture_output=True,
                                  text=True, timeout=10).stdout
            self.assertRegex(text, r"workers 2 configured")
        finally:
            m.stop()

    def test_sigterm_fails_no_accepted_request(self):
        """Clients hammer the socket; SIGTERM comes mid-way. A connection the
        socket took must get a whole response; after the stop, connections
        are refused outright."""
        m = pb.Master(workers=2).start()
        counts = {"ok": 0, "refused": 0, "broken": 0}
        lock = threading.Lock()
        stop_at = time.monotonic() + 3

        def client():
            while time.monotonic() < stop_at:
                try:
                    st = pb.fcgi_request(m.socket, "/healthz", timeout=15)[0]
                    kind = "ok" if st == 200 else "broken"
                except (FileNotFoundError, ConnectionRefusedError):
                    kind = "refused"
                    time.sleep(0.01)
                except OSError:
                    kind = "broken"
                with lock:
                    counts[kind] += 1
        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        time.sleep(1)
        m.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(30)
        self.assertEqual(m.proc.wait(20), 0)
        self.assertEqual(counts["broken"], 0, counts)
        self.assertGreater(counts["ok"], 50, counts)
        self.assertGreater(counts["refused"], 0, counts)  # the stop did happen mid-run
        m.stop()


if __name__ == "__main__":
    unittest.main()
