"""One's own account (modules/auth/account.c): profile, password change,
password reset by e-mail, and the audit trail of sign-ins. Real stack, real
SMTP: reset links are read from the mails the loopback server received.

The users live in a team of their own and are removed at the end: the first
sign-up (test_auth, which runs later) needs a database without users.
"""

import hashlib
import json
import os
import re
import subprocess
import unittest
import urllib.parse
import uuid

import pb

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PGHOST = os.path.join(pb.VAR, "run", "pg")
REDIS = os.path.join(pb.VAR, "run", "redis.sock")
DOMAIN = "account.test"
PASSWORD = "first password 1"
SENT = "If an account uses that address, we sent a link. It works once, for 30 minutes."
GONE = "This link has expired or was already used."


def psql(sql):
    """Runs sql as the owner; returns rows as lists of strings."""
    out = subprocess.run(["psql", "-h", PGHOST, "-U", "plugboard_owner", "-d", "plugboard", "-X",
                          "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def redis(*args):
    return subprocess.run(["redis-cli", "-s", REDIS, *args], capture_output=True, text=True,
                          timeout=10, check=True).stdout.strip()


def forget_rate_limits():
    """Reset counters are per hour; each test starts with none of its own."""
    for key in redis("--scan", "--pattern", "pb:rl:reset:*").split():
        redis("DEL", key)


def cookie_of(headers):
    m = re.search(r"pb_session=([^;]*)", headers.get("set-cookie", ""))
    return m.group(1) if m else None


def get(path, cookie=None):
    return pb.request("GET", path, headers={"Cookie": f"pb_session={cookie}"} if cookie else None)


def form_token(path, cookie=None):
    """GETs a page with a form; returns (cookie, csrf token)."""
    status, headers, body = get(path, cookie)
    assert status == 200, (path, status, body[:300])
    token = re.search(r'name="_csrf" value="([^"]+)"', body.decode()).group(1)
    return cookie_of(headers) or cookie, token


def post(path, cookie, fields):
    return pb.request("POST", path, headers={**FORM, "Cookie": f"pb_session={cookie}"},
                      body=urllib.parse.urlencode(fields).encode())


def submit(path, cookie, fields):
    """Fetches the form at path for its token, then posts fields to it."""
    cookie, token = form_token(path, cookie)
    return post(path, cookie, {"_csrf": token, **fields})


def sign_in(email, password):
    """Returns the new session cookie, or None when sign-in failed."""
    status, headers, _ = submit("/login", None, {"email": email, "password": password})
    return cookie_of(headers) if status == 303 else None


def field_error(body, name):
    m = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', body.decode())
    return m.group(1) if m else None


def mails_to(address):
    """What the SMTP sink received for address, oldest first."""
    return [m for m in pb.mailbox() if address in m.get("To", "")]


def reset_link(address, count=1):
    """Waits for the count-th mail to address; returns its reset link's path."""
    mails = pb.wait_until(lambda: len(mails_to(address)) >= count and mails_to(address),
                          timeout=15, message=f"mail {count} to {address}")
    mail = mails[count - 1]
    assert mail["Subject"] == "Reset your Plugboard password", mail["Subject"]
    body = pb.mail_body(mail)
    m = re.search(r"(\S+)/password/reset/([A-Za-z0-9_-]{43})\b", body)
    assert m, body
    assert m.group(1) == pb.URL, (m.group(1), pb.URL)
    return f"/password/reset/{m.group(2)}"


def audit(action, resource_id):
    return psql(f"SELECT resource_type, diff::text, actor_id FROM core.audit_log "
                f"WHERE action = '{action}' AND resource_id = '{resource_id}' ORDER BY id")


class AccountTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cleanup()
        # A new team whose roles were made after the migration: the trigger
        # gives them account:self. Everyone here is a member (level 10).
        cls.team = pb.make_user(f"owner@{DOMAIN}", PASSWORD, level=10)["team_id"]

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    @staticmethod
    def cleanup():
        psql(f"DELETE FROM core.teams WHERE id IN (SELECT m.team_id FROM core.memberships m "
             f"JOIN core.users u ON u.id = m.user_id WHERE u.email LIKE '%@{DOMAIN}');"
             f"DELETE FROM core.users WHERE email LIKE '%@{DOMAIN}'")
        forget_rate_limits()

    def setUp(self):
        forget_rate_limits()

    def make_user(self, name="Uma User"):
        """A member of the test team, with password PASSWORD. Returns (email, id)."""
        email = f"u{uuid.uuid4().hex[:10]}@{DOMAIN}"
        return email, pb.make_user(email, PASSWORD, name=name, team=self.team, level=10)["user_id"]

    def ask_reset(self, email):
        status, _, body = pb.request("POST", "/api/v1/password/forgot", headers=FORM,
                                     body=urllib.parse.urlencode({"email": email}).encode())
        return status, json.loads(body)

    # --- account:self ------------------------------------------------------

    def test_every_role_may_manage_its_own_account(self):
        rows = psql("SELECT count(*) FROM core.roles r WHERE NOT EXISTS (SELECT 1 FROM "
                    "core.role_permissions p WHERE p.role_id = r.id AND p.permission = 'account:self')")
        self.assertEqual(rows, [["0"]])
        # A role made and given every permission in one transaction, as
        # core.signup_first does, gets account:self once, without a clash.
        role = str(uuid.uuid4())
        psql(f"INSERT INTO core.roles (id, team_id, name, level) "
             f"VALUES ('{role}', '{self.team}', 'everything', 50);"
             f"INSERT INTO core.role_permissions SELECT '{role}', name FROM core.permissions")
        self.assertEqual(psql(f"SELECT count(*) FROM core.role_permissions "
                              f"WHERE role_id = '{role}' AND permission = 'account:self'"), [["1"]])
        email, _ = self.make_user()
        cookie = sign_in(email, PASSWORD)
        doc = pb.get_json("/api/v1/account", headers={"Cookie": f"pb_session={cookie}"})
        self.assertEqual(doc["values"], {"name": "Uma User", "email": email})

    def test_anonymous_visitors_are_asked_to_sign_in(self):
        self.assertEqual(get("/account")[0], 401)
        self.assertEqual(get("/account/password")[0], 401)

    # --- Profile ---------------------------------------------------------------

    def test_profile_name_change_shows_in_the_top_bar(self):
        email, uid = self.make_user()
        cookie = sign_in(email, PASSWORD)
        status, headers, _ = submit("/account", cookie, {"name": "Uma Renamed", "email": email})
        self.assertEqual((status, headers.get("location")), (303, "/account"))
        page = get("/account", cookie)[2].decode()
        self.assertIn("Your profile is saved.", page)
        self.assertIn('<span class="who">Uma Renamed</span>', page)
        self.assertEqual(psql(f"SELECT display_name FROM core.users WHERE id = '{uid}'"),
                         [["Uma Renamed"]])
        diff = json.loads(audit("account.update", uid)[0][1])
        self.assertEqual(diff["before"]["display_name"], "Uma User")
        self.assertEqual(diff["after"]["display_name"], "Uma Renamed")

    def test_profile_errors_are_shown_per_field(self):
        email, _ = self.make_user()
        other, _ = self.make_user()
        cookie = sign_in(email, PASSWORD)
        for name in ("", "   ", "x" * 121):
            status, _, body = submit("/account", cookie, {"name": name, "email": email})
            self.assertEqual(status, 422, repr(name))
            self.assertIsNotNone(field_error(body, "name"), repr(name))
        status, _, body = submit("/account", cookie, {"name": "Uma", "email": other})
        self.assertEqual(status, 422)
        self.assertIn("current password", field_error(body, "current_password"))
        status, _, body = submit("/account", cookie, {"name": "Uma", "email": other,
                                                      "current_password": "not my password"})
        self.assertEqual(status, 422)
        self.assertEqual(field_error(body, "current_password"),
                         "This is not your current password.")
        status, _, body = submit("/account", cookie, {"name": "Uma", "email": other.upper(),
                                                      "current_password": PASSWORD})
        self.assertEqual(status, 422)
        self.assertEqual(field_error(body, "email"), "This e-mail address is already in use.")

    def test_email_change_needs_the_password_and_tells_the_old_address(self):
        email, uid = self.make_user()
        new = f"n{uid[:8]}@{DOMAIN}"
        cookie = sign_in(email, PASSWORD)
        status, _, _ = submit("/account", cookie, {"name": "Uma User", "email": new,
                                                   "current_password": PASSWORD})
        self.assertEqual(status, 303)
        self.assertIsNone(sign_in(email, PASSWORD))
        self.assertIsNotNone(sign_in(new, PASSWORD))
        mail = pb.wait_until(lambda: mails_to(email), timeout=15, message="notice to old address")
        self.assertIn(new, pb.mail_body(mail[0]))

    # --- Password change -------------------------------------------------------

    def test_password_change_signs_out_other_sessions_but_not_this_one(self):
        email, uid = self.make_user()
        here, elsewhere = sign_in(email, PASSWORD), sign_in(email, PASSWORD)
        new = "second password 2"
        status, headers, _ = submit("/account/password", here, {
            "current_password": PASSWORD, "password": new, "password_confirm": new})
        self.assertEqual((status, headers.get("location")), (303, "/account/password"))
        status, _, body = get("/account/password", here)
        self.assertEqual(status, 200)
        self.assertIn("Password changed. You were signed out everywhere else.", body.decode())
        self.assertEqual(get("/account", elsewhere)[0], 401)
        self.assertIsNone(sign_in(email, PASSWORD))
        self.assertIsNotNone(sign_in(email, new))
        rows = audit("auth.password_change", uid)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][2], uid)  # the signed-in user is the actor

    def test_password_change_refusals_name_their_field(self):
        email, uid = self.make_user()
        cookie = sign_in(email, PASSWORD)
        cases = [
            ({"current_password": "wrong password", "password": "another one 3",
              "password_confirm": "another one 3"}, "current_password"),
            ({"current_password": PASSWORD, "password": "short",
              "password_confirm": "short"}, "password"),
            ({"current_password": PASSWORD, "password": "x" * 129,
              "password_confirm": "x" * 129}, "password"),
            ({"current_password": PASSWORD, "password": PASSWORD,
              "password_confirm": PASSWORD}, "password"),
            ({"current_password": PASSWORD, "password": "another one 3",
              "password_confirm": "another one 4"}, "password_confirm"),
        ]
        for fields, name in cases:
            status, _, body = submit("/account/password", cookie, fields)
            self.assertEqual(status, 422, fields)
            self.assertIsNotNone(field_error(body, name), (fields, body[-2000:]))
        self.assertEqual(audit("auth.password_change", uid), [])
        self.assertIsNotNone(sign_in(email, PASSWORD))  # unchanged

    # --- Password reset ----------------------------------------------------

    def test_reset_link_works_once(self):
        email, uid = self.make_user()
        session = sign_in(email, PASSWORD)
        status, doc = self.ask_reset(email)
        self.assertEqual((status, doc["sent"], doc["message"]), (200, True, SENT))
        link = reset_link(email)
        token = link.rsplit("/", 1)[1]
        # Only the token's SHA-256 is stored.
        digest = hashlib.sha256(token.encode()).hexdigest()
        self.assertEqual(psql(f"SELECT user_id FROM auth.password_resets "
                              f"WHERE token_hash = decode('{digest}', 'hex')"), [[uid]])
        cookie, _ = form_token(link)
        new = "reset password 5"
        status, headers, _ = submit(link, cookie, {"password": new, "password_confirm": new})
        self.assertEqual((status, headers.get("location")), (303, "/login"))
        self.assertEqual(get("/account", session)[0], 401)  # signed out everywhere
        self.assertIsNone(sign_in(email, PASSWORD))
        self.assertIsNotNone(sign_in(email, new))
        status, _, body = get(link)
        self.assertEqual(status, 410)
        self.assertIn(GONE, body.decode())
        self.assertIn('href="/password/forgot"', body.decode())
        status, _, body = pb.request("POST", "/api/v1" + link, headers=FORM,
                                     body=b"password=third+password+6&password_confirm="
                                          b"third+password+6")
        self.assertEqual(status, 410)
        self.assertIn("token", json.loads(body)["errors"])
        self.assertIsNotNone(sign_in(email, new))
        rows = audit("auth.password_reset", uid)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], "user")

    def test_expired_link_is_refused(self):
        email, uid = self.make_user()
        self.ask_reset(email)
        link = reset_link(email)
        psql(f"UPDATE auth.password_resets SET expires_at = now() - interval '1 second' "
             f"WHERE user_id = '{uid}'")
        status, _, body = get(link)
        self.assertEqual(status, 410)
        self.assertIn(GONE, body.decode())
        status, _, _ = pb.request("POST", "/api/v1" + link, headers=FORM,
                                  body=b"password=late+password+7&password_confirm=late+password+7")
        self.assertEqual(status, 410)
        self.assertIsNotNone(sign_in(email, PASSWORD))

    def test_using_a_link_voids_the_older_ones(self):
        email, _ = self.make_user()
        self.ask_reset(email)
        first = reset_link(email)
        self.ask_reset(email)
        second = reset_link(email, 2)
        self.assertNotEqual(first, second)
        status, _, _ = pb.request("POST", "/api/v1" + second, headers=FORM,
                                  body=b"password=fresh+password+8&password_confirm=fresh+password+8")
        self.assertEqual(status, 303)
        self.assertEqual(get(first)[0], 410)

    def test_unknown_address_gets_the_same_answer_and_no_mail(self):
        known, _ = self.make_user()
        unknown = f"nobody-{uuid.uuid4().hex[:8]}@{DOMAIN}"
        s1, d1 = self.ask_reset(known)
        s2, d2 = self.ask_reset(unknown)
        self.assertEqual((s1, d1["sent"], d1["message"]), (s2, d2["sent"], d2["message"]))
        reset_link(known)  # the known one's mail went out, so the other had time to
        self.assertEqual(mails_to(unknown), [])
        self.assertEqual(psql(f"SELECT count(*) FROM core.outbox WHERE recipient = '{unknown}'"),
                         [["0"]])
        page = submit("/password/forgot", None, {"email": unknown})[2].decode()
        self.assertIn(SENT, page)

    def test_reset_requests_are_limited_per_address_and_per_client(self):
        a, _ = self.make_user()
        b, _ = self.make_user()
        for i in range(5):
            self.assertEqual(self.ask_reset(a)[0], 200, i)
        status, headers, body = pb.request("POST", "/password/forgot", headers=FORM,
                                           body=urllib.parse.urlencode({"email": a}).encode())
        self.assertEqual(status, 429)
        self.assertGreater(int(headers["retry-after"]), 0)
        self.assertIn("Too many requests for a reset link.", body.decode())
        self.assertEqual(self.ask_reset(b)[0], 429)  # same client
        redis("DEL", "pb:rl:reset:127.0.0.1")
        self.assertEqual(self.ask_reset(a)[0], 429)  # same address
        self.assertEqual(self.ask_reset(b)[0], 200)
        self.assertEqual(len(pb.wait_until(lambda: len(mails_to(a)) >= 5 and mails_to(a),
                                           timeout=15)), 5)

    # --- The audit trail of signing in ----------------------------------------

    def test_sign_ins_and_outs_are_audited(self):
        email, uid = self.make_user()
        cookie = sign_in(email, PASSWORD)
        self.assertEqual(len(audit("auth.login", uid)), 1)
        self.assertIsNone(sign_in(email, "a wrong password"))
        rows = audit("auth.login_failed", email)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], "email")
        self.assertNotIn("wrong password", rows[0][1])
        _, token = form_token("/account", cookie)
        self.assertEqual(post("/logout", cookie, {"_csrf": token})[0], 303)
        rows = audit("auth.logout", uid)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][2], uid)


if __name__ == "__main__":
    unittest.main()
