"""API access: POST /api/v1/auth/token, bearer requests, refresh rotation
and the revocation of a copied refresh token's family (src/account.c)."""

import json
import unittest
import urllib.parse

import pb

PASSWORD = "a long enough password"


def token_request(fields, as_json=True):
    if as_json:
        headers, body = {"Content-Type": "application/json"}, json.dumps(fields).encode()
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        body = urllib.parse.urlencode(fields).encode()
    status, h, resp = pb.request("POST", "/api/v1/auth/token", headers=headers, body=body)
    return status, h, json.loads(resp)


def bearer(token):
    return {"Authorization": f"Bearer {token}", "Accept": "application/json"}


class TokenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.email = pb.unique_email("api")
        cls.user = pb.make_user(cls.email, PASSWORD, name="Api User")

    def issue(self):
        status, _, body = token_request(
            {"grant_type": "password", "email": self.email, "password": PASSWORD})
        self.assertEqual(status, 200, body)
        return body

    def test_password_grant_gives_a_working_access_token(self):
        body = self.issue()
        self.assertEqual(body["token_type"], "Bearer")
        self.assertGreater(body["expires_in"], 0)
        me = pb.get_json("/test/session/whoami", headers=bearer(body["access_token"]))
        self.assertEqual(me["user"], self.user["user_id"])
        self.assertEqual(me["team"], self.user["team_id"])
        self.assertEqual(me["level"], 100)
        self.assertTrue(me["bearer"])

    def test_form_fields_work_as_well_as_json(self):
        status, _, body = token_request(
            {"grant_type": "password", "email": self.email, "password": PASSWORD}, as_json=False)
        self.assertEqual(status, 200, body)

    def test_wrong_password_is_401_and_audited(self):
        status, h, body = token_request(
            {"grant_type": "password", "email": self.email, "password": "not it at all"})
        self.assertEqual(status, 401)
        self.assertEqual(h.get("www-authenticate"), "Bearer")
        self.assertIn("not right", body["error"]["message"])

    def test_unknown_grant_is_a_field_error(self):
        status, _, body = token_request({"grant_type": "client_credentials"})
        self.assertEqual(status, 400)
        self.assertIn("grant_type", body["errors"])

    def test_bad_or_missing_bearer_is_401_json(self):
        for value in ("Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "):
            status, h, body = pb.request("GET", "/test/private",
                                         headers={"Authorization": value})
            self.assertEqual(status, 401, value)
            self.assertIn("invalid_token", h.get("www-authenticate", ""))
            self.assertEqual(h["content-type"], "application/json")
            self.assertIn("message", json.loads(body)["error"])

    def test_tampered_token_is_refused(self):
        access = self.issue()["access_token"]
        head, payload, sig = access.split(".")
        forged = f"{head}.{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
        status, _, _ = pb.request("GET", "/test/session/whoami", headers=bearer(forged))
        self.assertEqual(status, 401)

    def test_bearer_needs_no_csrf_token_for_unsafe_methods(self):
        access = self.issue()["access_token"]
        status, _, body = pb.request(
            "POST", "/test/echo", headers={**bearer(access), "Content-Type": "application/json"},
            body=b'{"a": 1}')
        self.assertEqual(status, 200, body)

    def test_refresh_rotates_and_a_reused_token_revokes_the_family(self):
        first = self.issue()
        status, _, second = token_request(
            {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        self.assertEqual(status, 200, second)
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        me = pb.get_json("/test/session/whoami", headers=bearer(second["access_token"]))
        self.assertEqual(me["user"], self.user["user_id"])
        # The first refresh token was spent: presenting it again means it
        # was copied, so the whole family goes, the second token too.
        status, _, _ = token_request(
            {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
        self.assertEqual(status, 401)
        status, _, body = token_request(
            {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]})
        self.assertEqual(status, 401, body)
        # Another family (another sign-in) is untouched.
        other = self.issue()
        status, _, _ = token_request(
            {"grant_type": "refresh_token", "refresh_token": other["refresh_token"]})
        self.assertEqual(status, 200)

    def test_malformed_refresh_token_is_401(self):
        status, _, _ = token_request({"grant_type": "refresh_token", "refresh_token": "x" * 43})
        self.assertEqual(status, 401)

    def test_api_writes_are_rate_limited_per_user(self):
        # The limit is [ratelimit] api_writes (600 a minute by default):
        # spend a fresh user's allowance and see the 429 with Retry-After.
        email = pb.unique_email("busy")
        pb.make_user(email, PASSWORD)
        status, _, body = token_request(
            {"grant_type": "password", "email": email, "password": PASSWORD})
        headers = {**bearer(body["access_token"]), "Content-Type": "application/json"}
        statuses = [pb.request("POST", "/test/echo", headers=headers, body=b"{}")[0]
                    for _ in range(601)]
        self.assertEqual(statuses[:600], [200] * 600)
        status, h, body = pb.request("POST", "/test/echo", headers=headers, body=b"{}")
        self.assertEqual(status, 429)
        self.assertGreater(int(h["retry-after"]), 0)


if __name__ == "__main__":
    unittest.main()
