"""SIGTERM to the stack's master while wrk loads it through nginx: no
request that plugboard accepted fails. Runs last among the stack tests
and starts a new master afterwards."""

import os
import signal
import subprocess
import threading
import time
import unittest

import pb

NGINX_LOG = os.path.join(pb.VAR, "nginx", "error.log")
# nginx's words for a request that reached a worker and was then lost.
LOST = ("prematurely closed", "reset by peer", "recv() failed", "upstream timed out")
# ...and for one that never reached a worker (refused before accept).
REFUSED = ("connect() to unix:", "no live upstreams")


class ShutdownUnderLoadTest(unittest.TestCase):
    def test_sigterm_during_wrk_loses_no_accepted_request(self):
        with open(pb.os.path.join(pb.VAR, "run", "plugboard.pid")) as f:
            master = int(f.read().strip())
        log_start = os.path.getsize(NGINX_LOG)
        result = {}
        load = threading.Thread(target=lambda: result.update(pb.run_wrk("/", 6, 64)))
        load.start()
        time.sleep(2)
        os.kill(master, signal.SIGTERM)
        load.join(60)
        try:
            with open(NGINX_LOG, "rb") as f:
                f.seek(log_start)
                lines = f.read().decode("utf-8", "replace").splitlines()
            lost = [l for l in lines if any(w in l for w in LOST)]
            refused = [l for l in lines if any(w in l for w in REFUSED)]
            self.assertEqual(lost, [])
            self.assertEqual(result["socket_errors"], 0, result["output"])
            self.assertGreater(result["requests"] - result["non_2xx"], 1000, result["output"])
            self.assertLessEqual(result["non_2xx"], len(refused), result["output"])
        finally:
            restart()


def restart():
    """Starts a new master for the rest of the run (script/test stops it by
    its pidfile)."""
    log = open(os.path.join(pb.VAR, "log", "plugboard.log"), "ab")
    subprocess.Popen([pb.BIN, "-c", pb.CONFIG], stdout=log, stderr=subprocess.STDOUT,
                     stdin=subprocess.DEVNULL, start_new_session=True)

    def healthy():
        try:
            return pb.request("GET", "/healthz", timeout=2)[0] == 200
        except OSError:
            return False
    pb.wait_until(healthy, timeout=20, message="master did not come back")


if __name__ == "__main__":
    unittest.main()
