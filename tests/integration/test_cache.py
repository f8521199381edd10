"""The host's cache (src/cache.c, host->cache_*) through the test module's
get-or-compute routes, and its operator page and API (modules/cache).

Every test works in namespaces of its own, so counters are exact whatever
else ran before; Redis is read directly (redis-cli) to check what a clear
leaves behind."""

import json
import os
import subprocess
import time
import unittest
import urllib.parse
import uuid

import pb
from test_dependencies import stack
from test_rbac import Client, owner

PASSWORD = "cache me if you can"
REDIS_SOCK = os.path.join(pb.VAR, "run", "redis.sock")


def redis(*args):
    out = subprocess.run(["redis-cli", "-s", REDIS_SOCK, *args], capture_output=True, text=True,
                         timeout=10, check=True)
    return out.stdout.strip()


def redis_count(pattern):
    return len([k for k in redis("--scan", "--pattern", pattern).splitlines() if k])


def ns():
    return "tc" + uuid.uuid4().hex[:10]


def enc(text):
    return urllib.parse.quote(text, safe="")


def fill(namespace, key, value="computed", tags=None, ttl=None, expect=200):
    """The test module's get-or-compute: returns its JSON answer."""
    query = {"value": value}
    if tags:
        query["tags"] = ",".join(tags)
    if ttl is not None:
        query["ttl"] = str(ttl)
    path = f"/test/cache/{enc(namespace)}/{enc(key)}?{urllib.parse.urlencode(query)}"
    return pb.get_json(path, expect=expect)


def source(namespace, key, **kw):
    return fill(namespace, key, **kw)["source"]


def stats_of(client, namespace):
    status, doc = client.api("GET", "/cache/stats")
    assert status == 200, (status, doc)
    found = [n for n in doc["namespaces"] if n["namespace"] == namespace]
    return found[0] if found else None


def post(path, fields):
    return pb.request("POST", path, headers={"Content-Type": "application/x-www-form-urlencoded"},
                      body=urllib.parse.urlencode(fields).encode())


class CacheApiTest(unittest.TestCase):
    """host->cache_get/set/del/invalidate_tag, driven by the test module."""

    @classmethod
    def setUpClass(cls):
        admin = pb.make_user(pb.unique_email("cache-api"), PASSWORD, name="Cache Api",
                             operator=True)
        cls.admin = Client(admin["user_id"], admin["team_id"], 100)

    def test_hits_and_misses_are_counted_exactly(self):
        n = ns()
        self.assertEqual(source(n, "a", value="one"), "computed")
        for _ in range(3):
            doc = fill(n, "a", value="ignored")
            self.assertEqual((doc["source"], doc["value"]), ("cache", "one"))
        self.assertEqual(source(n, "b"), "computed")
        s = stats_of(self.admin, n)
        self.assertEqual((s["hits"], s["misses"], s["sets"], s["keys"]), (3, 2, 2, 2))
        self.assertAlmostEqual(s["hit_ratio"], 0.6)
        self.assertEqual(s["hit_percent"], "60.0%")

    def test_entries_expire_after_their_ttl(self):
        n = ns()
        self.assertEqual(source(n, "short", ttl=1), "computed")
        self.assertEqual(source(n, "short", ttl=1), "cache")
        time.sleep(2.2)
        self.assertEqual(source(n, "short", ttl=1), "computed")
        self.assertIn(int(redis("TTL", f"pb:c:{n}:short")), (0, 1))

    def test_a_tag_drops_exactly_its_entries_in_every_namespace(self):
        n1, n2 = ns(), ns()
        t1, t2 = "team:" + uuid.uuid4().hex, "team:" + uuid.uuid4().hex
        fill(n1, "a", tags=[t1])
        fill(n2, "b", tags=[t1, t2])
        fill(n1, "c", tags=[t2])
        fill(n2, "d")
        status, _, body = post("/api/v1/test/cache/invalidate", {"tag": t1})
        self.assertEqual(status, 200, body)
        self.assertEqual(source(n1, "a"), "computed")
        self.assertEqual(source(n2, "b"), "computed")
        self.assertEqual(source(n1, "c"), "cache")
        self.assertEqual(source(n2, "d"), "cache")
        self.assertEqual(redis("EXISTS", f"pb:ct:{t1}"), "0")  # the tag set went too
        post("/api/v1/test/cache/invalidate", {"tag": t2})
        self.assertEqual(source(n1, "c"), "computed")

    def test_a_tag_set_lives_as_long_as_its_longest_entry(self):
        n, t = ns(), "t" + uuid.uuid4().hex
        fill(n, "long", tags=[t], ttl=500)
        fill(n, "short", tags=[t], ttl=5)
        self.assertGreaterEqual(int(redis("TTL", f"pb:ct:{t}")), 495)

    def test_an_entry_stored_by_a_request_that_rolls_back_is_dropped(self):
        n = ns()
        status, _, body = post(f"/api/v1/test/cache/rollback/{n}/k", {})
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["set"], 0)  # stored (PB_OK)...
        self.assertEqual(redis("EXISTS", f"pb:c:{n}:k"), "0")  # ...and dropped

    def test_delete_reports_whether_the_entry_was_there(self):
        n = ns()
        fill(n, "k")
        status, _, body = post(f"/api/v1/test/cache/del/{n}/k", {})
        self.assertEqual((status, json.loads(body)["result"]), (200, 0))
        status, _, body = post(f"/api/v1/test/cache/del/{n}/k", {})
        self.assertEqual((status, json.loads(body)["result"]), (200, 1))  # PB_ABSENT

    def test_bad_names_are_refused(self):
        for bad_ns in ("Upper", "9digit", "a" * 33, "with-dash"):
            fill(bad_ns, "k", expect=400)
        fill("a" * 32, "k")                       # the longest namespace
        fill(ns(), "x" * 201, expect=400)          # key too long
        fill(ns(), "bell\x07", expect=400)         # control character
        fill(ns(), "x" * 200)                      # the longest key
        fill(ns(), "k", tags=["ok", "bad\x01"], expect=400)
        fill(ns(), "k", ttl=0, expect=400)
        status, _, _ = post("/api/v1/test/cache/invalidate", {"tag": ""})
        self.assertEqual(status, 400)


class CacheAdminTest(unittest.TestCase):
    """modules/cache: the page, the API, permissions, CSRF and the audit."""

    @classmethod
    def setUpClass(cls):
        admin = pb.make_user(pb.unique_email("cache-admin"), PASSWORD, name="Cache <Admin>",
                             operator=True)
        team = admin["team_id"]
        # The team's other administrator, who operates nothing: the cache
        # is the installation's.
        viewer = pb.make_user(pb.unique_email("cache-viewer"), PASSWORD, name="Cache Viewer",
                              team=team, level=100)
        member = pb.make_user(pb.unique_email("cache-member"), PASSWORD, name="Cache Member",
                              team=team, level=10)
        cls.team = team
        cls.admin = Client(admin["user_id"], team, 100)
        cls.viewer = Client(viewer["user_id"], team, 100)
        cls.member = Client(member["user_id"], team, 10)

    def audit(self, action):
        rows = owner(f"SELECT resource_id, diff::text FROM core.audit_log WHERE team_id = "
                     f"'{self.team}' AND action = '{action}' ORDER BY id")
        return [(r, json.loads(d)) for r, d in rows]

    def test_stats_and_status_shapes(self):
        n = ns()
        fill(n, "a")
        fill(n, "a")
        status, doc = self.admin.api("GET", "/cache/stats")
        self.assertEqual(status, 200)
        self.assertEqual(set(doc), {"namespaces", "totals", "tag_sets", "keys_exact"})
        self.assertTrue(doc["keys_exact"])
        names = [x["namespace"] for x in doc["namespaces"]]
        self.assertEqual(names, sorted(names))
        mine = stats_of(self.admin, n)
        self.assertEqual(mine, {"namespace": n, "keys": 1, "hits": 1, "misses": 1, "sets": 1,
                                "hit_ratio": 0.5, "hit_percent": "50.0%"})
        for field in ("keys", "hits", "misses", "sets"):
            self.assertEqual(doc["totals"][field], sum(x[field] for x in doc["namespaces"]))
        status, doc = self.admin.api("GET", "/cache/status")
        self.assertEqual(status, 200)
        self.assertTrue(doc["reachable"])
        self.assertEqual(doc["version"], redis("INFO", "server").split("redis_version:")[1]
                         .split()[0])
        for field in ("uptime_seconds", "connected_clients", "keyspace_hits", "keyspace_misses"):
            self.assertIsInstance(doc[field], int)
        self.assertTrue(doc["used_memory_human"])

    def test_the_page_shows_the_figures_and_the_forms(self):
        n = ns()
        fill(n, "a")
        fill(n, "a")
        status, page = self.admin.page("/cache")
        self.assertEqual(status, 200, page)
        self.assertIn(f"<code>{n}</code>", page)
        self.assertIn("50.0%", page)
        self.assertIn('action="/cache/clear"', page)
        self.assertIn(f'name="_csrf" value="{self.admin.csrf}"', page)
        self.assertIn('href="/cache"', page)  # the navigation entry
        self.assertEqual(self.viewer.page("/cache")[0], 403)  # a team admin, no operator
        self.assertEqual(self.viewer.api("GET", "/cache/stats")[0], 403)
        self.assertEqual(self.member.page("/cache")[0], 403)
        self.assertEqual(self.member.api("GET", "/cache/stats")[0], 403)

    def test_looking_up_an_entry_with_an_awkward_key(self):
        n, key = ns(), "a/b c?d#e:<f>"
        fill(n, key, ttl=300)
        status, doc = self.admin.api("GET", f"/cache?key={enc(n + ':' + key)}")
        self.assertEqual(status, 200)
        lookup = doc["lookup"]
        self.assertEqual((lookup["namespace"], lookup["name"], lookup["bytes"]),
                         (n, key, len("computed")))
        self.assertTrue(295 <= lookup["ttl"] <= 300)
        self.assertEqual(lookup["path"], enc(f"{n}:{key}").replace("%7E", "~"))
        status, page = self.admin.page(f"/cache?key={enc(n + ':' + key)}")
        self.assertIn(f'action="/cache/ttl/{lookup["path"]}"', page)
        self.assertIn("&lt;f&gt;", page)
        self.assertNotIn("<f>", page)
        status, doc = self.admin.api("GET", f"/cache?key={enc(n + ':nothing')}")
        self.assertTrue(doc["lookup"]["missing"])

    def test_ttl_changes_an_entry_and_is_audited(self):
        n = ns()
        fill(n, "k", ttl=60)
        path = f"/cache/ttl/{enc(n + ':k')}"
        status, doc = self.admin.api("POST", path, {"ttl": 5000})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["entry"]["ttl"], 5000)
        self.assertTrue(55 <= doc["entry"]["previous_ttl"] <= 60)
        self.assertTrue(4990 <= int(redis("TTL", f"pb:c:{n}:k")) <= 5000)
        rid, diff = self.audit("cache.entry.ttl")[-1]
        self.assertEqual((rid, diff["after"]), (f"{n}:k", {"ttl": 5000}))
        for bad in (0, -1, 31536001, "soon"):
            status, doc = self.admin.api("POST", path, {"ttl": bad})
            self.assertEqual(status, 400, bad)
            self.assertIn("ttl", doc["errors"])
        status, doc = self.admin.api("POST", f"/cache/ttl/{enc(n + ':gone')}", {"ttl": 10})
        self.assertEqual(status, 404)
        self.assertEqual(self.viewer.api("POST", path, {"ttl": 10})[0], 403)

    def test_delete_an_entry_through_the_api_and_the_form(self):
        n = ns()
        fill(n, "k1")
        fill(n, "k/2")
        status, doc = self.admin.api("DELETE", f"/cache/key/{enc(n + ':k1')}")
        self.assertEqual((status, doc["deleted"]), (200, f"{n}:k1"))
        self.assertEqual(redis("EXISTS", f"pb:c:{n}:k1"), "0")
        self.assertEqual(self.admin.api("DELETE", f"/cache/key/{enc(n + ':k1')}")[0], 404)
        self.assertEqual(self.viewer.api("DELETE", f"/cache/key/{enc(n + ':k/2')}")[0], 403)
        # The form twin: CSRF first, then a redirect with a message.
        status, _, _ = pb.request("POST", f"/cache/key/{enc(n + ':k/2')}/delete",
                                  headers=self.admin.headers({"Content-Type":
                                                              "application/x-www-form-urlencoded"}),
                                  body=b"")
        self.assertEqual(status, 403)
        self.assertEqual(redis("EXISTS", f"pb:c:{n}:k/2"), "1")
        status, headers, _ = self.admin.form(f"/cache/key/{enc(n + ':k/2')}/delete", {})
        self.assertEqual((status, headers["location"]), (303, "/cache"))
        self.assertEqual(redis("EXISTS", f"pb:c:{n}:k/2"), "0")
        self.assertIn(f"Deleted the cache entry {n}:k/2.", self.admin.page("/cache")[1])
        ids = [rid for rid, _ in self.audit("cache.entry.delete")]
        self.assertIn(f"{n}:k1", ids)
        self.assertIn(f"{n}:k/2", ids)

    def test_bad_entry_names_get_clear_400s(self):
        for name in ("nocolon", "Upper:k", ":k", "ns:", "ns:bell\x07", "a" * 33 + ":k"):
            status, doc = self.admin.api("DELETE", f"/cache/key/{enc(name)}")
            self.assertEqual(status, 400, name)
            self.assertIn("namespace", doc["errors"]["key"])
        status, page = self.admin.page(f"/cache?key={enc('Bad:k')}")
        self.assertEqual(status, 400)
        self.assertIn('id="key-error"', page)
        n = ns()
        fill(n, "k")
        status, _, page = self.admin.form(f"/cache/ttl/{enc(n + ':k')}", {"ttl": "soon"})
        self.assertEqual(status, 400)
        self.assertIn('id="ttl-error"', page)
        status, doc = self.admin.api("POST", "/cache/clear", {"namespace": "Not-One"})
        self.assertEqual(status, 400)
        self.assertIn("namespace", doc["errors"])

    def test_clear_one_namespace_keeps_the_others(self):
        n1, n2 = ns(), ns()
        fill(n1, "a")
        fill(n1, "b")
        fill(n2, "c")
        status, doc = self.admin.api("POST", "/cache/clear",
                                     {"namespace": n1, "reset_counters": True})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["cleared"], {"namespace": n1, "entries_deleted": 2,
                                          "counters_reset": True})
        self.assertEqual(redis_count(f"pb:c:{n1}:*"), 0)
        self.assertIsNone(stats_of(self.admin, n1))
        self.assertEqual(stats_of(self.admin, n2)["keys"], 1)
        self.assertEqual(source(n2, "c"), "cache")
        # Without reset_counters the counters stay.
        self.admin.api("POST", "/cache/clear", {"namespace": n2})
        self.assertEqual(stats_of(self.admin, n2)["hits"], 1)
        self.assertEqual(stats_of(self.admin, n2)["keys"], 0)
        self.assertEqual(self.viewer.api("POST", "/cache/clear", {"namespace": n2})[0], 403)
        _, diff = self.audit("cache.clear")[-1]
        self.assertEqual(diff["after"], {"namespace": n2, "reset_counters": False})

    def test_clear_everything_through_the_form_keeps_sessions(self):
        n = ns()
        fill(n, "a", tags=["t" + n])
        sessions, perms = redis_count("pb:s:*"), redis_count("pb:perm:*")
        self.assertGreater(sessions, 0)
        bare = self.admin.headers({"Content-Type": "application/x-www-form-urlencoded"})
        status, _, _ = pb.request("POST", "/cache/clear", headers=bare, body=b"namespace=")
        self.assertEqual(status, 403)  # no CSRF token
        status, headers, _ = self.admin.form("/cache/clear", {"namespace": ""})
        self.assertEqual((status, headers["location"]), (303, "/cache"))
        self.assertEqual(redis_count("pb:c:*"), 0)
        self.assertEqual(redis_count("pb:ct:*"), 0)
        self.assertEqual(redis_count("pb:s:*"), sessions)
        self.assertGreaterEqual(redis_count("pb:perm:*"), perms)
        self.assertEqual(self.admin.whoami()["user"], self.admin.user)  # still signed in
        self.assertEqual(stats_of(self.admin, n)["misses"], 1)  # counters kept
        self.assertIn("Cleared", self.admin.page("/cache")[1])


class CacheRedisDownTest(unittest.TestCase):
    def test_callers_fall_back_and_status_answers_503(self):
        admin = pb.make_user(pb.unique_email("cache-down"), PASSWORD, name="Cache Down",
                             operator=True)
        client = Client(admin["user_id"], admin["team_id"], 100)
        n = ns()
        self.assertEqual(source(n, "k"), "computed")
        stack("pb_redis_stop")
        try:
            doc = fill(n, "k", value="fresh")
            self.assertEqual((doc["source"], doc["value"], doc["get"]), ("fallback", "fresh", -2))
            status, doc = client.api("GET", "/cache/status")
            self.assertEqual(status, 503)
            self.assertIn("unavailable", doc["message"])
            self.assertEqual(client.api("GET", "/cache/stats")[0], 503)
            status, _, _ = post("/api/v1/test/cache/invalidate", {"tag": "x"})
            self.assertEqual(status, 503)
        finally:
            stack("pb_redis_start")
        pb.wait_until(lambda: fill(n, "k")["source"] in ("cache", "computed"), timeout=5)


if __name__ == "__main__":
    unittest.main()
