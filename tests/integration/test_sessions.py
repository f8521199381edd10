"""Sessions in Redis: cookies, rotation at sign-in, CSRF on unsafe
methods, flash messages, and the identity/permission guard."""

import json
import os
import re
import subprocess
import unittest
import uuid

import pb

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REDIS = os.path.join(pb.VAR, "run", "redis.sock")


def redis(*args):
    out = subprocess.run(["redis-cli", "-s", REDIS, *args], capture_output=True, text=True,
                         timeout=10, check=True)
    return out.stdout.strip()


def session_cookie(headers):
    m = re.search(r"pb_session=([^;]*)", headers.get("set-cookie", ""))
    return m.group(1) if m else None


def whoami(cookie):
    return pb.get_json("/test/session/whoami", headers={"Cookie": f"pb_session={cookie}"})


def login(user, team="", cookie=None, csrf=None):
    headers = dict(FORM)
    body = f"user={user}&team={team}&level=10"
    if cookie:
        headers["Cookie"] = f"pb_session={cookie}"
        body += f"&_csrf={csrf}"
    status, h, _ = pb.request("POST", "/api/v1/test/session/login", headers=headers,
                              body=body.encode())
    assert status == 200, status
    return session_cookie(h)


class SessionTest(unittest.TestCase):
    def setUp(self):
        self.user, self.team = str(uuid.uuid4()), str(uuid.uuid4())

    def test_login_sets_a_strict_cookie(self):
        headers = {}
        status, headers, _ = pb.request("POST", "/api/v1/test/session/login", headers=FORM,
                                        body=f"user={self.user}".encode())
        self.assertEqual(status, 200)
        cookie = headers["set-cookie"]
        self.assertRegex(cookie, r"^pb_session=[A-Za-z0-9_-]{43}; Path=/; Max-Age=\d+; HttpOnly; SameSite=Lax$")

    def test_session_identifies_the_user(self):
        cookie = login(self.user, self.team)
        doc = whoami(cookie)
        self.assertEqual((doc["user"], doc["team"]), (self.user, self.team))

    def test_redis_holds_only_a_hash_of_the_id(self):
        cookie = login(self.user)
        keys = redis("--scan", "--pattern", "pb:s:*").split()
        self.assertTrue(keys)
        self.assertFalse(any(cookie in k for k in keys))
        self.assertTrue(all(re.fullmatch(r"pb:s:[0-9a-f]{64}", k) for k in keys))

    def test_login_replaces_an_existing_session(self):
        anon = whoami("x" * 43)  # no such session: an anonymous one starts
        status, headers, body = pb.request("GET", "/test/session/whoami")
        first = session_cookie(headers)
        csrf = json.loads(body)["csrf"]
        second = login(self.user, cookie=first, csrf=csrf)
        self.assertNotEqual(first, second)
        self.assertIsNone(whoami(first)["user"])  # the old id is worthless
        self.assertEqual(whoami(second)["user"], self.user)
        self.assertIsNone(anon["user"])

    def test_logout_ends_the_session(self):
        cookie = login(self.user)
        csrf = whoami(cookie)["csrf"]
        status, headers, _ = pb.request("POST", "/api/v1/test/session/logout",
                                        headers={**FORM, "Cookie": f"pb_session={cookie}"},
                                        body=f"_csrf={csrf}".encode())
        self.assertEqual(status, 200)
        self.assertIn("Max-Age=0", headers["set-cookie"])
        self.assertIsNone(whoami(cookie)["user"])

    def test_public_page_queries_carry_the_signed_in_user(self):
        cookie = login(self.user, self.team)
        doc = pb.get_json("/test/tx-context", headers={"Cookie": f"pb_session={cookie}"})
        self.assertEqual((doc["user_id"], doc["team_id"]), (self.user, self.team))
        self.assertTrue(doc["same_transaction"])

    def test_malformed_cookie_is_ignored(self):
        status, headers, body = pb.request("GET", "/test/session/whoami",
                                           headers={"Cookie": "pb_session=../../etc"})
        self.assertEqual(status, 200)
        self.assertIsNone(json.loads(body)["user"])


class CsrfTest(unittest.TestCase):
    def setUp(self):
        self.cookie = login(str(uuid.uuid4()))
        self.csrf = whoami(self.cookie)["csrf"]

    def post(self, body=b"f=1", headers=None):
        h = {**FORM, "Cookie": f"pb_session={self.cookie}", **(headers or {})}
        return pb.request("POST", "/api/v1/test/echo", headers=h, body=body)[0]

    def test_missing_token_is_refused(self):
        self.assertEqual(self.post(), 403)

    def test_wrong_token_is_refused(self):
        self.assertEqual(self.post(b"f=1&_csrf=" + b"A" * 43), 403)

    def test_form_token_is_accepted(self):
        self.assertEqual(self.post(f"f=1&_csrf={self.csrf}".encode()), 200)

    def test_header_token_is_accepted(self):
        self.assertEqual(self.post(headers={"X-CSRF-Token": self.csrf}), 200)

    def test_refusal_page_says_what_to_do(self):
        status, _, body = pb.request("POST", "/test/typed",
                                     headers={**FORM, "Cookie": f"pb_session={self.cookie}"},
                                     body=b"title=x")
        self.assertEqual(status, 403)
        self.assertIn("Reload the page", body.decode())

    def test_no_cookie_means_no_ambient_authority(self):
        status, _, _ = pb.request("POST", "/api/v1/test/echo", headers=FORM, body=b"f=1")
        self.assertEqual(status, 200)


class FlashTest(unittest.TestCase):
    def test_message_shows_once_on_the_next_page(self):
        cookie = login(str(uuid.uuid4()))
        csrf = whoami(cookie)["csrf"]
        jar = {"Cookie": f"pb_session={cookie}"}
        status, headers, _ = pb.request("POST", "/test/session/flash", headers={**FORM, **jar},
                                        body=f"text=Saved+the+plan&_csrf={csrf}".encode())
        self.assertEqual((status, headers["location"]), (303, "/test/escape"))
        page = pb.request("GET", "/test/escape", headers=jar)[2].decode()
        self.assertIn('class="flash flash-success" role="status">Saved the plan<', page)
        again = pb.request("GET", "/test/escape", headers=jar)[2].decode()
        self.assertNotIn("Saved the plan", again)


class GuardTest(unittest.TestCase):
    def setUp(self):
        self.user, self.team = str(uuid.uuid4()), str(uuid.uuid4())

    def test_anonymous_is_asked_to_sign_in(self):
        status, _, body = pb.request("GET", "/api/v1/test/private")
        self.assertEqual(status, 401)
        self.assertIn("Sign in", json.loads(body)["error"]["message"])

    def test_user_without_the_permission_is_refused(self):
        cookie = login(self.user, self.team)
        status, _, _ = pb.request("GET", "/api/v1/test/private",
                                  headers={"Cookie": f"pb_session={cookie}"})
        self.assertEqual(status, 403)

    def test_user_with_the_permission_is_served(self):
        cookie = login(self.user, self.team)
        redis("SADD", f"pb:perm:{self.user}:{self.team}", "test:read")
        try:
            doc = pb.get_json("/test/private", headers={"Cookie": f"pb_session={cookie}"})
            self.assertEqual(doc["user"], self.user)
        finally:
            redis("DEL", f"pb:perm:{self.user}:{self.team}")

    def test_a_built_permission_set_always_expires(self):
        cookie = login(self.user, self.team)
        key = f"pb:perm:{self.user}:{self.team}"
        status, _, _ = pb.request("GET", "/api/v1/test/private",
                                  headers={"Cookie": f"pb_session={cookie}"})
        self.assertEqual(status, 403)  # the set was built: the marker, no permission
        try:
            self.assertEqual(redis("SMEMBERS", key), "-")
            self.assertTrue(0 < int(redis("TTL", key)) <= 3600)  # set and expiry together
        finally:
            redis("DEL", key)

    def test_permission_in_another_team_does_not_count(self):
        cookie = login(self.user, self.team)
        other = str(uuid.uuid4())
        redis("SADD", f"pb:perm:{self.user}:{other}", "test:read")
        try:
            status, _, _ = pb.request("GET", "/api/v1/test/private",
                                      headers={"Cookie": f"pb_session={cookie}"})
            self.assertEqual(status, 403)
        finally:
            redis("DEL", f"pb:perm:{self.user}:{other}")


if __name__ == "__main__":
    unittest.main()


class RoleLevelTest(unittest.TestCase):
    def test_a_session_takes_the_level_its_roles_give_when_its_permissions_are_rebuilt(self):
        user = pb.make_user(pb.unique_email("level"), "level password 1")
        # Signed in at a level its roles no longer give (as if demoted or
        # promoted since): the permission set is built on the first
        # protected request, and the session takes the level from there on.
        status, headers, _ = pb.request(
            "POST", "/api/v1/test/session/login",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=f"user={user['user_id']}&team={user['team_id']}&level=10".encode())
        self.assertEqual(status, 200)
        cookie = {"Cookie": headers["set-cookie"].split(";")[0]}
        self.assertEqual(pb.get_json("/test/session/whoami", headers=cookie)["level"], 10)
        self.assertEqual(pb.request("GET", "/api/v1/test/private", headers=cookie)[0], 200)
        self.assertEqual(pb.get_json("/test/session/whoami", headers=cookie)["level"], 100)
