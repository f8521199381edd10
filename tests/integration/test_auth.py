"""Sign-up of the first user, sign-in, sign-out (modules/auth)."""

import json
import os
import re
import subprocess
import time
import unittest
import urllib.parse

import pb

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PASSWORD = "correct horse battery"
EMAIL = "Admin@Example.com"


def cookie_of(headers):
    m = re.search(r"pb_session=([^;]*)", headers.get("set-cookie", ""))
    return m.group(1) if m else None


def form_token(path, cookie=None):
    """GETs a form page; returns (cookie, csrf token)."""
    status, headers, body = pb.request("GET", path, headers={"Cookie": f"pb_session={cookie}"}
                                       if cookie else None)
    assert status == 200, (path, status)
    token = re.search(r'name="_csrf" value="([^"]+)"', body.decode()).group(1)
    return cookie_of(headers) or cookie, token


def post(path, cookie, fields):
    return pb.request("POST", path, headers={**FORM, "Cookie": f"pb_session={cookie}"},
                      body=urllib.parse.urlencode(fields).encode())


def sign_in(email=EMAIL, password=PASSWORD, next_path=None):
    cookie, token = form_token("/login")
    fields = {"_csrf": token, "email": email, "password": password}
    if next_path:
        fields["next"] = next_path
    return post("/login", cookie, fields)


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cookie, token = form_token("/signup")
        status, headers, body = post("/signup", cookie, {
            "_csrf": token, "name": "Ada Admin", "email": EMAIL, "team": "Ops",
            "password": PASSWORD})
        assert status == 303, (status, body[:500])
        cls.first_cookie = cookie
        cls.cookie = cookie_of(headers)
        cls.location = headers["location"]

    def test_signup_signs_the_admin_in_with_a_new_session(self):
        self.assertEqual(self.location, "/")
        self.assertNotEqual(self.cookie, self.first_cookie)
        page = pb.request("GET", "/", headers={"Cookie": f"pb_session={self.cookie}"})[2].decode()
        self.assertIn('<span class="who">Ada Admin</span>', page)
        self.assertIn("You administer your new team", page)

    def test_password_is_stored_as_argon2id(self):
        out = subprocess.run(["psql", "-h", os.path.join(pb.VAR, "run", "pg"), "-U", "plugboard_owner",
                              "-d", "plugboard", "-Atc",
                              "SELECT password_hash FROM core.users WHERE email = 'admin@example.com'"],
                             capture_output=True, text=True, check=True)
        self.assertTrue(out.stdout.startswith("$argon2id$"), out.stdout)

    def test_second_signup_is_by_invitation(self):
        page = pb.request("GET", "/signup")[2].decode()
        self.assertIn("Sign-up is by invitation", page)
        self.assertNotIn('action="/signup"', page)  # no form to fill in
        cookie, token = form_token("/login")
        status, _, body = post("/signup", cookie, {"_csrf": token, "name": "Eve", "team": "X",
                                                   "email": "eve@example.com", "password": PASSWORD})
        self.assertEqual(status, 403)
        self.assertIn("by invitation", body.decode())

    def test_admin_holds_every_registered_permission(self):
        doc = pb.get_json("/test/private", headers={"Cookie": f"pb_session={self.cookie}"})
        self.assertIsNotNone(doc["user"])

    def test_sign_in_with_the_right_password(self):
        status, headers, _ = sign_in(next_path="/status")
        self.assertEqual((status, headers["location"]), (303, "/status"))
        self.assertIsNotNone(cookie_of(headers))

    def test_email_is_case_insensitive(self):
        self.assertEqual(sign_in(email="admin@EXAMPLE.com")[0], 303)

    def test_wrong_password_and_unknown_email_say_the_same(self):
        s1, _, b1 = sign_in(password="wrong password!")
        s2, _, b2 = sign_in(email="nobody@example.com")
        self.assertEqual((s1, s2), (400, 400))
        msg = "The e-mail address or the password is not right."
        self.assertIn(msg, b1.decode())
        self.assertIn(msg, b2.decode())
        self.assertIn('aria-invalid="true"', b1.decode())

    def test_offsite_next_goes_home(self):
        self.assertEqual(sign_in(next_path="//evil.example")[1]["location"], "/")

    def test_api_clients_get_field_errors(self):
        status, _, body = pb.request("POST", "/api/v1/login", headers=FORM,
                                     body=b"email=x@example.com&password=nope")
        self.assertEqual(status, 400)
        self.assertIn("password", json.loads(body)["errors"])

    def test_sign_out_ends_the_session(self):
        _, headers, _ = sign_in()
        cookie = cookie_of(headers)
        csrf = re.search(r'name="_csrf" value="([^"]+)"',
                         pb.request("GET", "/", headers={"Cookie": f"pb_session={cookie}"})[2].decode()).group(1)
        status, headers, _ = post("/logout", cookie, {"_csrf": csrf})
        self.assertEqual((status, headers["location"]), (303, "/login"))
        page = pb.request("GET", "/", headers={"Cookie": f"pb_session={cookie}"})[2].decode()
        self.assertNotIn('class="who"', page)

    def test_short_password_is_refused_at_signup(self):
        cookie, token = form_token("/login")
        status, _, body = pb.request(
            "POST", "/api/v1/signup", headers={**FORM, "Cookie": f"pb_session={cookie}",
                                               "X-CSRF-Token": token},
            body=b"name=A&team=T&email=a%40example.com&password=short")
        self.assertEqual(status, 400)
        self.assertIn("password", json.loads(body)["errors"])


if __name__ == "__main__":
    unittest.main()


class ThrottleTest(unittest.TestCase):
    """The test stack's window is PB_LOGIN_WINDOW (5 s), limit 10."""

    def test_ten_failures_lock_out_even_the_right_password_until_the_window_ends(self):
        time.sleep(5.5)  # a fresh window: earlier tests failed a few sign-ins too
        for i in range(10):
            self.assertEqual(sign_in(password=f"wrong {i}")[0], 400, f"attempt {i + 1}")
        status, headers, body = sign_in()
        self.assertEqual(status, 429)
        wait = int(headers["retry-after"])
        self.assertTrue(1 <= wait <= 5, wait)
        self.assertIn("Too many failed sign-ins", body.decode())
        time.sleep(wait + 0.5)
        self.assertEqual(sign_in()[0], 303)
