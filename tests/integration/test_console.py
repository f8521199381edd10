"""The modules console (modules/console, src/console.c): the report of every
module with its identity, state and figures, and reload, enable and disable
through the master, as a page, as JSON and with `plugboard ctl`.

Other tests rely on crashy and cache being loaded: every test that disables
one enables it again in a finally."""

import hashlib
import json
import os
import subprocess
import unittest

import pb
from test_rbac import Client, owner

PASSWORD = "console password"
STATE_FILE = os.path.join(pb.VAR, "modules.disabled")


def ctl(*args):
    return subprocess.run([pb.BIN, "-c", pb.CONFIG, "ctl", *args], capture_output=True,
                          text=True, timeout=120)


def ctl_modules():
    out = ctl("modules", "--json")
    assert out.returncode == 0, out.stderr
    return {m["name"]: m for m in json.loads(out.stdout)["modules"]}


def settle():
    """Waits until one generation serves: every worker of the current
    generation, none starting or draining (a change right after another
    would otherwise find the previous one still rolling)."""
    def settled():
        st = json.loads(ctl("status", "--json").stdout)
        ws = st["workers"]["list"]
        return all(w["generation"] == st["generation"] and w["state"] in ("idle", "busy")
                   for w in ws) and st["workers"]["starting"] == 0 and \
            st["workers"]["draining"] == 0
    pb.wait_until(settled, timeout=20, message="the stack did not settle")


def people():
    admin = pb.make_user(pb.unique_email("console-admin"), PASSWORD, operator=True)
    member = pb.make_user(pb.unique_email("console-member"), PASSWORD, team=admin["team_id"],
                          level=10)
    return (Client(admin["user_id"], admin["team_id"], 100),
            Client(member["user_id"], admin["team_id"], 10))


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin, cls.member = people()

    def setUp(self):
        settle()

    def report(self):
        status, doc = self.admin.api("GET", "/admin/modules")
        self.assertEqual(status, 200, doc)
        return doc

    def modules(self):
        return {m["name"]: m for m in self.report()["modules"]}

    def ensure_enabled(self, name):
        settle()
        if ctl_modules().get(name, {}).get("state") == "disabled":
            ctl("enable", name)
        settle()

    def test_report_lists_every_loaded_module_with_its_identity(self):
        doc = self.report()
        self.assertTrue(doc["master"]["reachable"])
        self.assertRegex(doc["loaded_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        mods = {m["name"]: m for m in doc["modules"]}
        master = ctl_modules()
        for name in ("auth", "system", "rbac", "console", "testkit", "crashy", "cache"):
            m = mods[name]
            self.assertEqual(m["state"], "active", m)
            self.assertEqual(m["generation"], doc["generation"])
            self.assertEqual(m["generation"], json.loads(ctl("status", "--json").stdout)
                             ["generation"])
            self.assertTrue(m["version"], m)
            self.assertRegex(m["sha256"], r"^[0-9a-f]{64}$")
            with open(m["file"], "rb") as f:
                self.assertEqual(m["sha256"], hashlib.sha256(f.read()).hexdigest(), name)
            self.assertRegex(m["build_id"], r"^[0-9a-f]{16,128}$")
            self.assertEqual(m["state"], master[name]["state"])
            for key in ("requests", "errors"):
                self.assertIsInstance(m[key], int)
        # Refused modules of the test stack are listed as failed, with the reason.
        failed = [m for m in doc["modules"] if m["state"] == "failed"]
        for m in failed:
            self.assertTrue(m["reason"], m)
            self.assertNotIn("sha256", m)
        self.assertEqual(sorted(m["name"] for m in failed),
                         sorted(n for n, m in master.items() if m["state"] == "failed"))

    def test_figures_count_exactly_the_requests_made(self):
        def crashy():
            return self.modules()["crashy"]
        before = crashy()
        for _ in range(7):
            self.assertEqual(pb.request("GET", "/test/crashy-ok")[0], 200)
        after = pb.wait_until(lambda: (lambda m: m if m["requests"] >= before["requests"] + 7
                                       else None)(crashy()), timeout=5)
        self.assertEqual(after["requests"], before["requests"] + 7)
        self.assertEqual(after["errors"], before["errors"])
        # Histogram upper bounds, never invented precision.
        self.assertRegex(after["p50_text"], r"^(\u2264 [0-9.]+ ms|> [0-9.]+ ms)$")
        self.assertIn(after["p50_le_ms"], [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000,
                                           2500, 10000, None])
        self.assertLessEqual(after["p50_le_ms"] or 1e9, after["p99_le_ms"] or 1e9)

    def test_page_shows_the_table_and_the_controls(self):
        status, html = self.admin.page("/admin/modules")
        self.assertEqual(status, 200)
        self.assertIn('action="/admin/modules/reload"', html)
        self.assertIn('action="/admin/modules/crashy/disable"', html)
        self.assertNotIn('action="/admin/modules/auth/disable"', html)
        self.assertNotIn('action="/admin/modules/console/disable"', html)
        self.assertIn('href="/admin/modules"', html)  # the nav entry
        sha = self.modules()["console"]["sha256"]
        self.assertIn(sha, html)
        # A member may not see it.
        self.assertEqual(self.member.page("/admin/modules")[0], 403)

    def test_disable_and_enable_take_effect_through_a_generation(self):
        gen = self.report()["generation"]
        self.assertIn('href="/cache"', self.admin.page("/admin/modules")[1])
        try:
            status, doc = self.admin.api("POST", "/admin/modules/crashy/disable")
            self.assertEqual(status, 200, doc)
            self.assertTrue(doc["result"]["ok"])
            self.assertEqual(doc["result"]["generation"], gen + 1)
            with open(STATE_FILE) as f:
                self.assertIn("crashy", f.read().split())
            pb.wait_until(lambda: pb.request("GET", "/test/crashy-ok")[0] == 404, timeout=10)
            self.assertEqual(ctl_modules()["crashy"]["state"], "disabled")
            self.assertEqual(self.modules()["crashy"]["state"], "disabled")
            # The page offers to enable it again.
            html = self.admin.page("/admin/modules")[1]
            self.assertIn('action="/admin/modules/crashy/enable"', html)
            # Its navigation vanishes too: cache has a nav entry.
            settle()
            status, headers, _ = self.admin.form("/admin/modules/cache/disable", {})
            self.assertEqual((status, headers.get("location")), (303, "/admin/modules"), headers)
            html = pb.wait_until(lambda: (lambda h: h if 'href="/cache"' not in h else None)(
                self.admin.page("/admin/modules")[1]), timeout=10)
            self.assertIn("Module cache is disabled: generation", html)
            self.assertEqual(self.admin.page("/cache")[0], 404)
        finally:
            self.ensure_enabled("crashy")
            self.ensure_enabled("cache")
        pb.wait_until(lambda: pb.request("GET", "/test/crashy-ok")[0] == 200, timeout=10)
        self.assertEqual(self.modules()["crashy"]["state"], "active")
        self.assertEqual(self.admin.page("/cache")[0], 200)
        with open(STATE_FILE) as f:
            self.assertNotIn("crashy", f.read().split())
        rows = self.audit_actions()
        self.assertIn(("modules.disable", "crashy"), rows)
        self.assertIn(("modules.disable", "cache"), rows)

    def test_enable_through_the_console(self):
        try:
            self.assertEqual(ctl("disable", "crashy").returncode, 0)
            settle()
            status, doc = self.admin.api("POST", "/admin/modules/crashy/enable")
            self.assertEqual(status, 200, doc)
            self.assertTrue(doc["result"]["ok"])
            self.assertEqual(pb.request("GET", "/test/crashy-ok")[0], 200)
        finally:
            self.ensure_enabled("crashy")
        self.assertIn(("modules.enable", "crashy"), self.audit_actions())

    def test_reload_rolls_a_generation(self):
        gen = self.report()["generation"]
        status, headers, _ = self.admin.form("/admin/modules/reload", {})
        self.assertEqual((status, headers.get("location")), (303, "/admin/modules"))
        settle()
        html = self.admin.page("/admin/modules")[1]
        self.assertRegex(html, rf"Generation {gen + 1} is serving \(\d+ ms\)")
        self.assertEqual(self.report()["generation"], gen + 1)
        settle()
        status, doc = self.admin.api("POST", "/admin/modules/reload")
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["result"]["generation"], gen + 2)
        self.assertIsInstance(doc["result"]["took_ms"], (int, float))
        self.assertIn(("modules.reload", None), self.audit_actions())

    def test_protected_modules_are_refused(self):
        gen = self.report()["generation"]
        for name in ("console", "auth", "system"):
            status, doc = self.admin.api("POST", f"/admin/modules/{name}/disable")
            self.assertEqual(status, 409, doc)
            self.assertIn("cannot be disabled", doc["message"])
            status, headers, _ = self.admin.form(f"/admin/modules/{name}/disable", {})
            self.assertEqual(status, 303)
        html = self.admin.page("/admin/modules")[1]
        self.assertIn("Module system cannot be disabled here", html)
        self.assertEqual(self.report()["generation"], gen)
        if os.path.exists(STATE_FILE):
            with open(STATE_FILE) as f:
                self.assertFalse({"console", "auth", "system"} & set(f.read().split()))
        # Refusals are audited too.
        self.assertIn(("modules.disable", "auth"), self.audit_actions())

    def test_unknown_module_and_bad_names(self):
        status, _ = self.admin.api("POST", "/admin/modules/nosuchmodule/disable")
        self.assertEqual(status, 404)
        status, _ = self.admin.api("POST", "/admin/modules/Bad-Name/disable")
        self.assertIn(status, (400, 404))
        self.assertNotIn("nosuchmodule", ctl_modules())

    def test_member_without_manage_is_refused(self):
        status, _ = self.member.api("POST", "/admin/modules/reload")
        self.assertEqual(status, 403)
        status, _ = self.member.api("POST", "/admin/modules/crashy/disable")
        self.assertEqual(status, 403)
        self.assertEqual(self.member.api("GET", "/admin/modules")[0], 403)
        self.assertEqual(ctl_modules()["crashy"]["state"], "active")

    def audit_actions(self):
        rows = owner("SELECT action, coalesce(resource_id, '') FROM core.audit_log "
                     f"WHERE team_id = '{self.admin.team}' AND action LIKE 'modules.%'")
        return [(a, r or None) for a, r in rows]

if __name__ == "__main__":
    unittest.main()
