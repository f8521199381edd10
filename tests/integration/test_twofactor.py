"""Two-factor sign-in (modules/auth/twofactor.c): enrolment with a QR code,
the code step of signing in, replay protection, recovery codes, turning it
off, and the API token endpoint's "otp". Real stack: the TOTP codes are
computed here (RFC 6238, standard library only) from the Base32 secret the
setup page shows.

Every test makes its own users (pb.make_user); the file sorts after
test_auth, so nothing needs removing.
"""

import base64
import hashlib
import hmac
import json
import re
import struct
import time
import unittest
import urllib.parse
import uuid

import pb
from test_account import cookie_of, field_error, form_token, post, psql, redis

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PASSWORD = "second factor pass"
DOMAIN = "twofactor.test"
STEP = 30


# --- RFC 6238 in Python ----------------------------------------------------

def secret_bytes(secret):
    """The key of a Base32 secret as the setup page shows it (unpadded)."""
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def totp(secret, step):
    """The 6-digit SHA-1 code of a Base32 secret for time step `step`."""
    key = secret_bytes(secret)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1000000:06d}"


def fresh_step():
    """The current step, after waiting out its last seconds so a test's
    codes for this step and its neighbours stay valid while it runs."""
    while time.time() % STEP > STEP - 12:
        time.sleep(0.5)
    return int(time.time()) // STEP


def test_vectors_match_rfc_6238():
    # Appendix B, SHA-1, T = 59 s (the 8-digit value ends in these 6).
    assert totp(base64.b32encode(b"12345678901234567890").decode(), 1) == "287082"


test_vectors_match_rfc_6238()


# --- HTTP helpers -----------------------------------------------------------

def get(path, cookie=None, headers=None):
    h = dict(headers or {})
    if cookie:
        h["Cookie"] = f"pb_session={cookie}"
    return pb.request("GET", path, headers=h)


def csrf_of(cookie):
    return form_token("/account/2fa", cookie)[1]


def act(cookie, path, fields=None):
    """Posts fields to path with the session's CSRF token."""
    return post(path, cookie, {"_csrf": csrf_of(cookie), **(fields or {})})


def password_step(email, password=PASSWORD):
    """Signs in with the password. Returns (status, location, cookie)."""
    cookie, token = form_token("/login")
    status, headers, _ = post("/login", cookie, {"_csrf": token, "email": email,
                                                 "password": password})
    return status, headers.get("location"), cookie_of(headers) or cookie


def code_step(cookie, code):
    """Posts a code to /login/2fa. Returns (status, headers, body)."""
    _, token = form_token("/login/2fa", cookie)
    return post("/login/2fa", cookie, {"_csrf": token, "code": code})


def signed_in_as(cookie):
    """The user id the cookie's session acts as, or None."""
    status, _, body = get("/api/v1/account", cookie)
    return None if status != 200 else body


def audit(action, uid):
    return psql(f"SELECT actor_id, diff::text FROM core.audit_log "
                f"WHERE action = '{action}' AND resource_id = '{uid}' ORDER BY id")


def token_grant(email, password=PASSWORD, otp=None):
    fields = {"grant_type": "password", "email": email, "password": password}
    if otp is not None:
        fields["otp"] = otp
    status, headers, body = pb.request("POST", "/api/v1/auth/token", body=fields)
    return status, headers, json.loads(body)


class TwoFactorTest(unittest.TestCase):
    def make_user(self):
        """A new user in a team of their own, signed in (password only).
        Returns (email, user id, cookie)."""
        email = f"u{uuid.uuid4().hex[:12]}@{DOMAIN}"
        uid = pb.make_user(email, PASSWORD, name="Tess Two")["user_id"]
        status, location, cookie = password_step(email)
        self.assertEqual((status, location), (303, "/"))
        return email, uid, cookie

    def start_setup(self, cookie):
        """POST /account/2fa/setup; returns the page and the secret shown."""
        status, _, body = act(cookie, "/account/2fa/setup")
        self.assertEqual(status, 200, body[:300])
        page = body.decode()
        m = re.search(r'<code class="twofactor-secret">([A-Z2-7 ]+)</code>', page)
        self.assertTrue(m, page)
        return page, m.group(1).replace(" ", "")

    def enrol(self):
        """A signed-in user with two-factor sign-in on. Returns (email, uid,
        cookie, secret, recovery codes, the step the enrolment used)."""
        email, uid, cookie = self.make_user()
        _, secret = self.start_setup(cookie)
        step = fresh_step() - 1  # the window accepts the step before now
        status, _, body = act(cookie, "/account/2fa/enable", {"code": totp(secret, step)})
        self.assertEqual(status, 200, body[:500])
        codes = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", body.decode())
        return email, uid, cookie, secret, codes, step

    def tearDown(self):
        # Failures here count against these users and this client's
        # address; later tests start without them.
        for key in redis("--scan", "--pattern", f"pb:rl:login:*@{DOMAIN}").split():
            redis("DEL", key)
        redis("DEL", "pb:rl:login:127.0.0.1")

    # --- Enrolment ------------------------------------------------------------

    def test_account_page_links_to_two_factor_and_shows_it_off(self):
        _, _, cookie = self.make_user()
        self.assertIn('href="/account/2fa"', get("/account", cookie)[2].decode())
        state = json.loads(get("/api/v1/account/2fa", cookie)[2])
        self.assertEqual((state["enabled"], state["recovery_left"]), (False, 0))
        self.assertIn("is <strong>off</strong>", get("/account/2fa", cookie)[2].decode())

    def test_setup_keeps_the_secret_out_of_the_database_until_a_code_confirms_it(self):
        email, uid, cookie = self.make_user()
        page, secret = self.start_setup(cookie)
        self.assertEqual(len(secret_bytes(secret)), 20)  # 160 bits
        self.assertIn('<img src="/account/2fa/qr.svg"', page)
        self.assertNotIn("<svg", page)
        self.assertEqual(psql(f"SELECT totp_enabled, totp_secret IS NULL FROM core.users "
                              f"WHERE id = '{uid}'"), [["f", "t"]])
        # The API answers the same setup with the enrolment URI.
        status, _, body = post("/api/v1/account/2fa/setup", cookie, {"_csrf": csrf_of(cookie)})
        setup = json.loads(body)["setup"]
        self.assertEqual(status, 200)
        self.assertEqual(setup["uri"], f"otpauth://totp/Plugboard:{urllib.parse.quote(email)}"
                         f"?secret={setup['secret']}&issuer=Plugboard&algorithm=SHA1&digits=6"
                         f"&period=30")
        # A wrong code keeps it off, and says so next to the field.
        step = fresh_step()
        wrong = totp(setup["secret"], step + 5)
        status, _, body = act(cookie, "/account/2fa/enable", {"code": wrong})
        self.assertEqual(status, 422)
        self.assertIn("not right", field_error(body, "code"))
        self.assertIn(setup["secret_grouped"], body.decode())  # the same setup again
        self.assertEqual(psql(f"SELECT totp_enabled FROM core.users WHERE id = '{uid}'"), [["f"]])
        # The latest setup's secret is the one that counts.
        status, _, body = act(cookie, "/account/2fa/enable", {"code": totp(setup["secret"], step)})
        self.assertEqual(status, 200, body[:300])
        row = psql(f"SELECT totp_enabled, encode(totp_secret, 'hex'), totp_last_step "
                   f"FROM core.users WHERE id = '{uid}'")
        self.assertEqual(row, [["t", secret_bytes(setup["secret"]).hex(), str(step)]])

    def test_enabling_shows_ten_recovery_codes_once_and_stores_only_hashes(self):
        _, uid, cookie, _, codes, _ = self.enrol()
        self.assertEqual(len(codes), 10)
        self.assertEqual(len(set(codes)), 10)
        stored = psql(f"SELECT encode(code_hash, 'hex') FROM auth.recovery_codes "
                      f"WHERE user_id = '{uid}'")
        self.assertEqual(len(stored), 10)
        dump = " ".join(r[0] for r in stored)
        for code in codes:
            self.assertNotIn(code.replace("-", ""), dump)
        page = get("/account/2fa", cookie)[2].decode()
        self.assertIn("is <strong>on</strong>", page)
        self.assertIn("Recovery codes left: <strong>10</strong> of 10", page)
        for code in codes:
            self.assertNotIn(code, page)
        rows = audit("auth.2fa_enable", uid)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], uid)
        self.assertEqual(json.loads(rows[0][1])["after"]["totp_enabled"], True)
        self.assertEqual(act(cookie, "/account/2fa/setup")[0], 409)  # already on

    def test_recovery_codes_are_only_the_users_own(self):
        _, uid, _, _, _, _ = self.enrol()
        # Row-level security is forced, and its policy is "own rows".
        self.assertEqual(psql("SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                              "WHERE oid = 'auth.recovery_codes'::regclass"), [["t", "t"]])
        _, _, other = self.make_user()
        state = json.loads(get("/api/v1/account/2fa", other)[2])
        self.assertEqual(state["recovery_left"], 0)

    # --- The QR code ------------------------------------------------------------

    def test_qr_route_serves_svg_for_the_pending_setup_only(self):
        _, _, cookie = self.make_user()
        status, headers, _ = get("/account/2fa/qr.svg")
        self.assertEqual(status, 401)  # not signed in
        status, _, _ = get("/account/2fa/qr.svg", cookie)
        self.assertEqual(status, 404)  # no setup in progress
        self.start_setup(cookie)
        status, headers, body = get("/account/2fa/qr.svg", cookie)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "image/svg+xml")
        self.assertTrue(body.startswith(b"<svg"), body[:100])
        self.assertIn(b'role="img"', body)
        self.assertNotIn(b"style=", body)
        # Someone else, signed in, has no setup of their own to see.
        _, _, other = self.make_user()
        self.assertEqual(get("/account/2fa/qr.svg", other)[0], 404)
        self.assertEqual(get("/api/v1/account/2fa/qr.svg", cookie)[0], 404)  # no API mirror

    # --- Signing in ---------------------------------------------------------------

    def test_sign_in_asks_for_the_code_and_refuses_a_wrong_or_replayed_one(self):
        email, uid, _, secret, _, step = self.enrol()
        logins = len(audit("auth.login", uid))
        status, location, cookie = password_step(email)
        self.assertEqual((status, location), (303, "/login/2fa"))
        self.assertIsNone(signed_in_as(cookie))  # not signed in yet
        page = get("/login/2fa", cookie)[2].decode()
        self.assertIn('name="code"', page)
        self.assertEqual(len(audit("auth.login", uid)), logins)

        # A wrong code: refused, audited, counted.
        status, _, body = code_step(cookie, totp(secret, step + 6))
        self.assertEqual(status, 422)
        self.assertIn("not right", field_error(body, "code"))
        self.assertEqual(len(audit("auth.2fa_failed", uid)), 1)
        self.assertEqual(redis("GET", f"pb:rl:login:{email}"), "1")
        # The code used to turn it on is spent already.
        self.assertEqual(code_step(cookie, totp(secret, step))[0], 422)

        # The current code signs in, with a new session.
        status, headers, _ = code_step(cookie, totp(secret, step + 1))
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], "/")
        session = cookie_of(headers)
        self.assertNotEqual(session, cookie)
        self.assertIsNotNone(signed_in_as(session))
        self.assertEqual(len(audit("auth.login", uid)), logins + 1)
        self.assertEqual(psql(f"SELECT totp_last_step FROM core.users WHERE id = '{uid}'"),
                         [[str(step + 1)]])

        # The same code again, in a new sign-in: a replay, refused.
        _, location, cookie = password_step(email)
        self.assertEqual(location, "/login/2fa")
        self.assertEqual(code_step(cookie, totp(secret, step + 1))[0], 422)
        self.assertEqual(len(audit("auth.2fa_failed", uid)), 3)
        # The next step's code works (the window reaches one step ahead).
        self.assertEqual(code_step(cookie, totp(secret, step + 2))[0], 303)

    def test_sign_in_keeps_the_next_page(self):
        email, _, _, secret, _, step = self.enrol()
        cookie, token = form_token("/login")
        post("/login", cookie, {"_csrf": token, "email": email, "password": PASSWORD,
                                "next": "/account"})
        status, headers, _ = code_step(cookie, totp(secret, step + 1))
        self.assertEqual((status, headers["location"]), (303, "/account"))

    def test_code_page_without_a_password_first_sends_back_to_sign_in(self):
        self.assertEqual(get("/login/2fa")[0], 303)
        cookie, token = form_token("/login")
        status, headers, _ = post("/login/2fa", cookie, {"_csrf": token, "code": "123456"})
        self.assertEqual((status, headers["location"]), (303, "/login"))

    def test_the_code_must_follow_the_password_within_five_minutes(self):
        email, _, _, secret, _, step = self.enrol()
        _, _, cookie = password_step(email)
        key = "pb:s:" + hashlib.sha256(cookie.encode()).hexdigest()
        data = json.loads(redis("GET", key))
        data["kv"]["2fa_since"] = str(int(time.time()) - 301)
        redis("SET", key, json.dumps(data), "KEEPTTL")
        status, headers, _ = code_step_raw(cookie, totp(secret, step + 1))
        self.assertEqual((status, headers["location"]), (303, "/login"))
        self.assertIn("within 5 minutes", get("/login", cookie)[2].decode())

    def test_a_recovery_code_signs_in_once(self):
        email, uid, _, _, codes, _ = self.enrol()
        _, _, cookie = password_step(email)
        status, headers, _ = code_step(cookie, codes[3].upper().replace("-", " "))
        self.assertEqual(status, 303)
        session = cookie_of(headers)
        self.assertEqual(len(audit("auth.2fa_recovery_used", uid)), 1)
        state = json.loads(get("/api/v1/account/2fa", session)[2])
        self.assertEqual((state["recovery_left"], state["recovery_total"]), (9, 10))
        _, _, cookie = password_step(email)
        self.assertEqual(code_step(cookie, codes[3])[0], 422)

    def test_wrong_codes_count_against_the_sign_in_limit(self):
        email, uid, _, secret, _, step = self.enrol()
        _, _, cookie = password_step(email)
        for i in range(10):  # codes of steps far from now: well-formed, wrong
            self.assertEqual(code_step(cookie, totp(secret, step + 10 + i))[0], 422)
        status, _, body = code_step(cookie, totp(secret, step + 1))
        self.assertEqual(status, 429, body[:300])
        self.assertIn("Too many failed sign-ins", body.decode())
        self.assertEqual(len(audit("auth.2fa_failed", uid)), 10)

    # --- Recovery codes and turning it off ------------------------------------------

    def test_new_recovery_codes_need_a_code_and_void_the_old_ones(self):
        email, uid, cookie, secret, codes, step = self.enrol()
        status, _, body = act(cookie, "/account/2fa/recovery", {"code": "000000x"})
        self.assertEqual(status, 422)
        self.assertIn("not right", field_error(body, "renew-code"))
        status, _, body = act(cookie, "/account/2fa/recovery", {"code": totp(secret, step + 1)})
        self.assertEqual(status, 200)
        fresh = re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", body.decode())
        self.assertEqual(len(fresh), 10)
        self.assertFalse(set(fresh) & set(codes))
        self.assertEqual(len(audit("auth.2fa_recovery_renew", uid)), 1)
        _, _, login = password_step(email)
        self.assertEqual(code_step(login, codes[0])[0], 422)
        self.assertEqual(code_step(login, fresh[0])[0], 303)

    def test_turning_off_needs_the_password_and_a_code(self):
        email, uid, cookie, secret, codes, step = self.enrol()
        status, _, body = act(cookie, "/account/2fa/disable",
                              {"current_password": "not the password", "code": codes[0]})
        self.assertEqual(status, 422)
        self.assertIn("not your current password", field_error(body, "current_password"))
        status, _, body = act(cookie, "/account/2fa/disable",
                              {"current_password": PASSWORD, "code": totp(secret, step)})
        self.assertEqual(status, 422)  # the enrolment's code, spent
        self.assertIn("not right", field_error(body, "disable-code"))
        self.assertEqual(psql(f"SELECT totp_enabled FROM core.users WHERE id = '{uid}'"), [["t"]])
        # The recovery code the wrong password came with was not used up.
        status, headers, _ = act(cookie, "/account/2fa/disable",
                                 {"current_password": PASSWORD, "code": codes[0]})
        self.assertEqual((status, headers["location"]), (303, "/account/2fa"))
        self.assertEqual(psql(f"SELECT totp_enabled, totp_secret IS NULL FROM core.users "
                              f"WHERE id = '{uid}'"), [["f", "t"]])
        self.assertEqual(psql(f"SELECT count(*) FROM auth.recovery_codes "
                              f"WHERE user_id = '{uid}'"), [["0"]])
        rows = audit("auth.2fa_disable", uid)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], uid)
        status, location, _ = password_step(email)  # the password alone again
        self.assertEqual((status, location), (303, "/"))

    # --- The API --------------------------------------------------------------------

    def test_token_endpoint_requires_otp(self):
        email, uid, _, secret, codes, step = self.enrol()
        status, headers, body = token_grant(email)
        self.assertEqual(status, 401)
        self.assertIs(body["mfa_required"], True)
        self.assertIn("otp", body["error"]["message"])
        self.assertEqual(headers.get("www-authenticate"), "Bearer")
        self.assertNotIn("access_token", body)
        status, _, body = token_grant(email, otp=totp(secret, step + 5))
        self.assertEqual(status, 401)
        self.assertIs(body["mfa_required"], True)
        self.assertIn("otp", body["errors"])
        # A wrong password says nothing about a second factor.
        status, _, body = token_grant(email, password="not the password")
        self.assertEqual(status, 401)
        self.assertNotIn("mfa_required", body)
        status, _, body = token_grant(email, otp=totp(secret, step + 1))
        self.assertEqual(status, 200, body)
        self.assertIn("access_token", body)
        status, _, body = token_grant(email, otp=totp(secret, step + 1))
        self.assertEqual(status, 401)  # replay
        status, _, body = token_grant(email, otp=codes[1])
        self.assertEqual(status, 200, body)
        self.assertEqual(len(audit("auth.2fa_failed", uid)), 2)
        self.assertEqual(len(audit("auth.token", uid)), 2)


def code_step_raw(cookie, code):
    """Posts a code to /login/2fa with the session's token, without loading
    the form first."""
    key = "pb:s:" + hashlib.sha256(cookie.encode()).hexdigest()
    token = json.loads(redis("GET", key))["csrf"]
    return post("/login/2fa", cookie, {"_csrf": token, "code": code})


if __name__ == "__main__":
    unittest.main()
