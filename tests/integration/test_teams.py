"""Team membership (modules/teams): invitations, join requests, deactivation,
switching and founding teams, and the hierarchy rules around them."""

import hashlib
import json
import os
import re
import secrets
import subprocess
import unittest
import uuid

import pb
from test_auth import EMAIL, PASSWORD, cookie_of, form_token, post, sign_in

PGHOST = os.path.join(pb.VAR, "run", "pg")


def owner_sql(sql, role="plugboard_owner"):
    """Runs sql as the database owner (or role); returns the rows as lists of text."""
    out = subprocess.run(["psql", "-h", PGHOST, "-U", role, "-d", "plugboard", "-X",
                          "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def csrf_of(cookie):
    page = pb.request("GET", "/", headers={"Cookie": f"pb_session={cookie}"})[2].decode()
    return re.search(r'name="_csrf" value="([^"]+)"', page).group(1)


def act(cookie, path, fields=None):
    """POSTs a signed-in form; returns (status, headers, body)."""
    return post(path, cookie, {"_csrf": csrf_of(cookie), **(fields or {})})


def as_json(cookie, path):
    status, _, body = pb.request("GET", path, headers={"Accept": "application/json",
                                                       "Cookie": f"pb_session={cookie}"})
    return status, json.loads(body)


def members(cookie):
    status, doc = as_json(cookie, "/team/members")
    assert status == 200, (status, doc)
    return doc


def address(tag):
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.com"


def sign_in_as(email, password=PASSWORD):
    status, headers, body = sign_in(email=email, password=password)
    assert status == 303, (status, body[:300])
    return cookie_of(headers)


def invitations_to(email):
    return [m for m in pb.mailbox() if m.get("To", "").lower() == email.lower()
            and str(m.get("Subject", "")).startswith("Join ")]


def invite(cookie, email, role="member"):
    """Invites email to the cookie's team; returns the token from the mail,
    as the SMTP sink received it."""
    earlier = len(invitations_to(email))
    roles = {r["name"]: r["id"] for r in members(cookie)["roles"]}
    status, headers, body = act(cookie, "/team/invitations", {"email": email,
                                                              "role_id": roles[role]})
    assert status == 303, (status, body[:500])
    mails = pb.wait_until(lambda: invitations_to(email)[earlier:], timeout=15,
                          message=f"invitation mail to {email}")
    text = pb.mail_body(mails[-1])
    link = re.search(re.escape(pb.URL) + r"/invite/([A-Za-z0-9_-]{43})\n", text)
    assert link, text
    return link.group(1)


def accept_new(token, name="Nina New"):
    """Accepts an invitation as a visitor with no account; returns the response."""
    cookie, csrf = form_token("/login")
    return post(f"/invite/{token}", cookie, {"_csrf": csrf, "name": name, "password": PASSWORD})


def join_team(admin, tag, role="member"):
    """A new user invited to the admin's team; returns (email, cookie)."""
    email = address(tag)
    status, headers, body = accept_new(invite(admin, email, role), name=tag.title())
    assert status == 303, (status, body[:500])
    return email, cookie_of(headers)


def user_id(email):
    return owner_sql(f"SELECT id FROM core.users WHERE email = '{email.lower()}'")[0][0]


def audited(action, resource_id):
    return int(owner_sql(f"SELECT count(*) FROM core.audit_log WHERE action = '{action}' "
                         f"AND resource_id = '{resource_id}'")[0][0])


def first_admin():
    """A session of an administrator (level 100) of the installation's first
    team: the first sign-up, test_auth's if it ran first, or, when other
    tests filled the database before anyone signed up, one invited into the
    first team by hand."""
    cookie, csrf = form_token("/login")
    status, headers, _ = post("/signup", cookie, {"_csrf": csrf, "name": "Ada Admin",
                                                  "email": EMAIL, "team": "Ops",
                                                  "password": PASSWORD})
    if status == 303:
        return cookie_of(headers)
    status, headers, _ = sign_in()
    if status == 303:
        return cookie_of(headers)
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    owner_sql(f"""
        INSERT INTO core.roles (team_id, name, level) VALUES (teams.first_team(), 'admin', 100),
          (teams.first_team(), 'member', 10) ON CONFLICT DO NOTHING;
        INSERT INTO core.role_permissions SELECT r.id, p.name FROM core.roles r, core.permissions p
         WHERE r.team_id = teams.first_team() AND r.level = 100 ON CONFLICT DO NOTHING;
        INSERT INTO teams.invitations (token_hash, team_id, email, role_id)
        SELECT decode('{digest}', 'hex'), team_id, '{EMAIL.lower()}', id FROM core.roles
         WHERE team_id = teams.first_team() AND name = 'admin';""")
    status, headers, body = accept_new(token, name="Ada Admin")
    assert status == 303, (status, body[:300])
    return cookie_of(headers)


class TeamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = first_admin()
        cls.team = members(cls.admin)["team"]["name"]
        # The sign-up mode is the installation's: its operators choose it.
        pb.make_operator(user_id(EMAIL))

    # --- Invitations -----------------------------------------------------

    def test_invitation_is_mailed_and_accepted_once(self):
        email = address("nina")
        token = invite(self.admin, email)
        page = pb.request("GET", f"/invite/{token}")[2].decode()
        self.assertIn(f"Join {self.team}", page)
        self.assertIn(email, page)
        self.assertIn('name="password"', page)

        status, headers, body = accept_new(token)
        self.assertEqual((status, headers.get("location")), (303, "/"), body[:300])
        nina = cookie_of(headers)
        status, doc = as_json(nina, "/teams")
        self.assertEqual(status, 200)
        self.assertEqual([(t["name"], t["current"], t["roles"]) for t in doc["teams"]],
                         [(self.team, True, "member")])
        hash_ = owner_sql("SELECT password_hash FROM core.users WHERE email = "
                          f"'{email}'")[0][0]
        self.assertTrue(hash_.startswith("$argon2id$"))

        self.assertEqual(accept_new(token, name="Again")[0], 410)
        self.assertEqual(pb.request("GET", f"/invite/{token}")[0], 410)
        doc = members(self.admin)
        row = [m for m in doc["members"] if m["email"] == email][0]
        self.assertEqual((row["status"], row["roles"]), ("active", "member"))
        self.assertNotIn(email, [i["email"] for i in doc["invitations"]])
        invitation = owner_sql("SELECT id FROM teams.invitations WHERE email = "
                               f"'{email}'")[0][0]
        self.assertEqual(audited("invitation.create", invitation), 1)
        self.assertEqual(audited("invitation.accept", invitation), 1)

    def test_only_the_hash_of_the_token_is_stored(self):
        email = address("hash")
        token = invite(self.admin, email)
        rows = owner_sql("SELECT encode(token_hash, 'hex') FROM teams.invitations "
                         f"WHERE email = '{email}'")
        self.assertEqual(len(rows[0][0]), 64)
        self.assertNotIn(token, rows[0][0])

    def test_expired_and_revoked_tokens_are_gone(self):
        email = address("late")
        token = invite(self.admin, email)
        owner_sql("UPDATE teams.invitations SET expires_at = now() - interval '1 second' "
                  f"WHERE email = '{email}'")
        status, _, body = pb.request("GET", f"/invite/{token}")
        self.assertEqual(status, 410)
        self.assertIn("This invitation has expired", body.decode())
        self.assertEqual(accept_new(token)[0], 410)
        self.assertEqual(owner_sql(f"SELECT count(*) FROM core.users WHERE email = '{email}'"),
                         [["0"]])

        email = address("withdrawn")
        token = invite(self.admin, email)
        pending = [i for i in members(self.admin)["invitations"] if i["email"] == email][0]
        status, _, page = pb.request("GET", "/team/members",
                                     headers={"Cookie": f"pb_session={self.admin}"})
        page = page.decode()
        self.assertEqual(status, 200)
        self.assertIn(f"<td>{email}</td>", page)
        self.assertIn(f'action="/team/invitations/{pending["id"]}/revoke"', page)
        self.assertIn('action="/team/invitations"', page)
        self.assertIn("How people sign up", page)  # the first team's administrator
        self.assertEqual(act(self.admin, f"/team/invitations/{pending['id']}/revoke")[0], 303)
        status, _, body = pb.request("GET", f"/invite/{token}")
        self.assertEqual(status, 410)
        self.assertIn("withdrawn", body.decode())

    def test_unknown_or_malformed_token_is_not_found(self):
        self.assertEqual(pb.request("GET", "/invite/" + "A" * 43)[0], 404)
        self.assertEqual(pb.request("GET", "/invite/short")[0], 404)

    def test_existing_account_signs_in_then_accepts_and_switches_teams(self):
        _, founder = join_team(self.admin, "founder")
        side = f"Side {uuid.uuid4().hex[:6]}"
        status, headers, body = act(founder, "/teams", {"name": side})
        self.assertEqual((status, headers.get("location")), (303, "/team/members"), body[:300])
        founder = cookie_of(headers)
        doc = members(founder)
        self.assertEqual(doc["team"]["name"], side)
        self.assertEqual([m["roles"] for m in doc["members"]], ["admin"])

        token = invite(founder, EMAIL, role="admin")
        page = pb.request("GET", f"/invite/{token}")[2].decode()
        self.assertIn("Sign in to accept", page)
        self.assertNotIn('name="password"', page)
        self.assertEqual(accept_new(token)[0], 409)  # an account exists: sign in first

        admin = sign_in_as(EMAIL)
        page = pb.request("GET", f"/invite/{token}",
                          headers={"Cookie": f"pb_session={admin}"})[2].decode()
        self.assertIn("Accept and join", page)
        status, headers, _ = act(admin, f"/invite/{token}")
        self.assertEqual(status, 303)
        admin = cookie_of(headers)
        self.assertEqual(members(admin)["team"]["name"], side)

        status, doc = as_json(admin, "/teams")
        names = {t["name"]: t for t in doc["teams"]}
        self.assertTrue(names[side]["current"])
        first = names[self.team]
        status, headers, _ = act(admin, "/teams/switch", {"team_id": first["id"]})
        self.assertEqual((status, headers.get("location")), (303, "/"))
        admin = cookie_of(headers)
        doc = members(admin)
        self.assertEqual(doc["team"]["name"], self.team)
        self.assertNotIn(side, json.dumps(doc))
        # A team one does not belong to cannot be switched to.
        other = str(uuid.uuid4())
        self.assertEqual(act(admin, "/teams/switch", {"team_id": other})[0], 404)

    def test_api_client_switches_teams_with_new_tokens(self):
        email, cookie = join_team(self.admin, "api")
        side = f"Api {uuid.uuid4().hex[:6]}"
        self.assertEqual(act(cookie, "/teams", {"name": side})[0], 303)
        status, _, body = pb.request("POST", "/api/v1/auth/token", body={
            "grant_type": "password", "email": email, "password": PASSWORD})
        self.assertEqual(status, 200, body)
        bearer = {"Authorization": f"Bearer {json.loads(body)['access_token']}",
                  "Accept": "application/json"}
        doc = json.loads(pb.request("GET", "/api/v1/teams", headers=bearer)[2])
        target = [t for t in doc["teams"] if t["name"] == side][0]
        self.assertFalse(target["current"])
        status, _, body = pb.request("POST", "/api/v1/teams/switch", headers=bearer,
                                     body={"team_id": target["id"]})
        self.assertEqual(status, 200, body)
        bearer["Authorization"] = f"Bearer {json.loads(body)['token']['access_token']}"
        doc = json.loads(pb.request("GET", "/api/v1/team/members", headers=bearer)[2])
        self.assertEqual(doc["team"]["name"], side)

    # --- Deactivation, removal and the hierarchy ---------------------------

    def test_deactivated_member_is_signed_out_and_kept_out(self):
        email, bea = join_team(self.admin, "bea")
        uid = user_id(email)
        self.assertEqual(as_json(bea, "/teams")[0], 200)
        status, _, body = act(self.admin, f"/team/members/{uid}/deactivate")
        self.assertEqual(status, 303, body[:300])
        self.assertEqual(as_json(bea, "/teams")[0], 401)  # the old session is gone
        again = sign_in_as(email)  # the password is right, but no team admits her
        self.assertEqual(as_json(again, "/teams")[0], 403)
        row = [m for m in members(self.admin)["members"] if m["email"] == email][0]
        self.assertEqual(row["status"], "deactivated")
        self.assertEqual(audited("member.deactivate", uid), 1)

        self.assertEqual(act(self.admin, f"/team/members/{uid}/reactivate")[0], 303)
        self.assertEqual(as_json(sign_in_as(email), "/teams")[0], 200)
        self.assertEqual(act(self.admin, f"/team/members/{uid}/remove")[0], 303)
        self.assertNotIn(email, [m["email"] for m in members(self.admin)["members"]])
        self.assertEqual(as_json(sign_in_as(email), "/teams")[0], 403)

    def test_hierarchy_is_enforced(self):
        me = owner_sql(f"SELECT id FROM core.users WHERE email = '{EMAIL.lower()}'")[0][0]
        status, _, body = act(self.admin, f"/team/members/{me}/deactivate")
        self.assertEqual(status, 403)
        self.assertIn("your own membership", body.decode())

        peer_email, _ = join_team(self.admin, "peer", role="admin")
        status, _, body = act(self.admin, f"/team/members/{user_id(peer_email)}/remove")
        self.assertEqual(status, 403)
        self.assertIn("at or above yours", body.decode())

        # A lead (level 50) who may manage members: not above, not at, their level.
        lead_email, lead = join_team(self.admin, "lead")
        member_email, _ = join_team(self.admin, "plain")
        team = owner_sql(f"SELECT team_id FROM core.memberships WHERE user_id = "
                         f"'{user_id(lead_email)}'")[0][0]
        role = str(uuid.uuid4())
        owner_sql(f"""
            INSERT INTO core.roles (id, team_id, name, level) VALUES
              ('{role}', '{team}', 'lead-{role[:6]}', 50);
            INSERT INTO core.role_permissions VALUES ('{role}', 'teams:read'),
              ('{role}', 'teams:manage');
            INSERT INTO core.user_roles VALUES ('{team}', '{user_id(lead_email)}', '{role}');
        """)
        lead = sign_in_as(lead_email)
        offered = [r["name"] for r in members(lead)["roles"]]
        self.assertNotIn("admin", offered)
        admin_role = owner_sql(f"SELECT id FROM core.roles WHERE team_id = '{team}' "
                               "AND name = 'admin'")[0][0]
        status, _, body = act(lead, "/team/invitations", {"email": address("up"),
                                                          "role_id": admin_role})
        self.assertEqual(status, 400)
        self.assertIn("at or below your own", body.decode())
        self.assertEqual(act(lead, f"/team/members/{me}/deactivate")[0], 403)
        self.assertEqual(act(lead, f"/team/members/{user_id(member_email)}/deactivate")[0], 303)
        # The database refuses too, whatever a handler might forget.
        deleted = owner_sql(f"""BEGIN;
            SET LOCAL plugboard.user_id = '{user_id(lead_email)}';
            SET LOCAL plugboard.team_id = '{team}'; SET LOCAL plugboard.role_level = '50';
            WITH d AS (DELETE FROM core.memberships WHERE user_id IN
                       ('{me}', '{user_id(peer_email)}') RETURNING 1)
            SELECT count(*) FROM d; ROLLBACK;""", role="plugboard_app")
        self.assertEqual(deleted, [["0"]])

    def test_member_without_manage_is_refused(self):
        _, member = join_team(self.admin, "mia")
        self.assertEqual(as_json(member, "/team/members")[0], 403)
        status, _, body = act(member, "/team/invitations", {"email": address("x"),
                                                            "role_id": str(uuid.uuid4())})
        self.assertEqual(status, 403)
        self.assertIn("Your role does not allow this.", body.decode())

    # --- Join requests ---------------------------------------------------------

    def set_mode(self, mode):
        status, _, body = act(self.admin, "/team/settings", {"signup_mode": mode})
        self.assertEqual(status, 303, body[:300])

    def ask_to_join(self, email):
        cookie, csrf = form_token("/join")
        status, headers, body = post("/join", cookie, {"_csrf": csrf, "email": email,
                                                       "name": "Rita Request",
                                                       "password": PASSWORD})
        self.assertEqual((status, headers.get("location")), (303, "/join"), body[:300])
        return cookie_of(headers)

    def test_join_requests_wait_for_approval(self):
        status, _, body = pb.request("GET", "/join")
        self.assertEqual(status, 404)
        self.assertIn("by invitation", body.decode())
        self.set_mode("approval")
        try:
            self.assertEqual(pb.request("GET", "/join")[0], 200)
            email = address("rita")
            rita = self.ask_to_join(email)
            page = pb.request("GET", "/join", headers={"Cookie": f"pb_session={rita}"})[2]
            self.assertIn("waiting for an administrator", page.decode())
            again = sign_in_as(email)  # signing in works, without a team
            page = pb.request("GET", "/join", headers={"Cookie": f"pb_session={again}"})[2]
            self.assertIn("waiting for an administrator", page.decode())
            self.assertEqual(as_json(again, "/teams")[0], 403)

            uid = user_id(email)
            self.assertIn(email, [r["email"] for r in members(self.admin)["requests"]])
            self.assertEqual(act(self.admin, f"/team/requests/{uid}/approve")[0], 303)
            page = pb.request("GET", "/join", headers={"Cookie": f"pb_session={again}"})[2]
            self.assertIn("was approved", page.decode())
            status, doc = as_json(sign_in_as(email), "/teams")
            self.assertEqual(status, 200)
            self.assertEqual([t["roles"] for t in doc["teams"]], ["member"])
            self.assertEqual(audited("membership.approve", uid), 1)
            self.assertTrue(owner_sql(f"SELECT 1 FROM core.outbox WHERE recipient = '{email}' "
                                      "AND subject LIKE 'Welcome to %'"))

            loser = address("rex")
            self.ask_to_join(loser)
            uid = user_id(loser)
            self.assertEqual(act(self.admin, f"/team/requests/{uid}/reject")[0], 303)
            self.assertEqual(owner_sql(f"SELECT count(*) FROM core.users WHERE id = '{uid}'"),
                             [["0"]])
            self.assertEqual(audited("membership.reject", uid), 1)
        finally:
            self.set_mode("invite")
        self.assertEqual(pb.request("GET", "/join")[0], 404)

    def test_only_operators_set_the_mode(self):
        _, founder = join_team(self.admin, "owner")
        status, headers, _ = act(founder, "/teams", {"name": f"Own {uuid.uuid4().hex[:6]}"})
        founder = cookie_of(headers)
        status, _, body = act(founder, "/team/settings", {"signup_mode": "approval"})
        self.assertEqual(status, 403)
        self.assertIn("Only operators of the installation may do this.", body.decode())
        self.assertEqual(owner_sql("SELECT signup_mode FROM teams.settings"), [["invite"]])

    def test_every_role_may_list_its_teams(self):
        missing = owner_sql("SELECT r.id FROM core.roles r WHERE NOT EXISTS (SELECT 1 FROM "
                            "core.role_permissions p WHERE p.role_id = r.id "
                            "AND p.permission = 'teams:self')")
        self.assertEqual(missing, [])


if __name__ == "__main__":
    unittest.main()
