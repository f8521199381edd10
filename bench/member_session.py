#!/usr/bin/env python3
"""Prints the session cookie of a plain member of the bench stack's first
team, signed in through /login as a browser would, for script/bench's
signed-in row (session, permission set, a query under row-level security).

    bench/member_session.py URL PGHOST

The first run signs up the installation's first account (an administrator)
through /signup, then adds a member with the member role to its team as the
owner role (sharing the administrator's password hash, so no second argon2
run is needed here); later runs sign in again. Exits 1 with the reason when
the stack's data does not allow it (someone else signed up first)."""

import http.cookiejar
import re
import subprocess
import sys
import urllib.parse
import urllib.request

ADMIN, MEMBER = "bench-admin@example.com", "bench-member@example.com"
PASSWORD = "bench password 1"


def psql(pghost, sql):
    out = subprocess.run(["psql", "-h", pghost, "-U", "plugboard_owner", "-d", "plugboard", "-X",
                          "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         capture_output=True, text=True, timeout=30, check=True)
    return out.stdout.strip()


def form(opener, url, path, fields):
    page = opener.open(url + path).read().decode()
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"_csrf": csrf, **fields}).encode()
    return opener.open(url + path, body)


def main():
    url, pghost = sys.argv[1], sys.argv[2]
    if psql(pghost, "SELECT count(*) FROM core.users") == "0":
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form(opener, url, "/signup", {"name": "Bench Admin", "email": ADMIN, "team": "Bench",
                                      "password": PASSWORD})
    if psql(pghost, f"SELECT count(*) FROM core.users WHERE email = '{ADMIN}'") != "1":
        sys.exit("bench/member_session.py: the bench database has other accounts; "
                 "remove var/bench to start afresh")
    psql(pghost, f"""
        INSERT INTO core.users (email, display_name, password_hash)
        SELECT '{MEMBER}', 'Bench Member', password_hash FROM core.users WHERE email = '{ADMIN}'
        ON CONFLICT (email) DO NOTHING;
        INSERT INTO core.memberships (team_id, user_id)
        SELECT m.team_id, u.id FROM core.memberships m, core.users u, core.users a
         WHERE a.email = '{ADMIN}' AND m.user_id = a.id AND u.email = '{MEMBER}'
        ON CONFLICT DO NOTHING;
        INSERT INTO core.user_roles (team_id, user_id, role_id)
        SELECT r.team_id, u.id, r.id FROM core.roles r, core.users u, core.memberships m
         WHERE u.email = '{MEMBER}' AND m.user_id = u.id AND r.team_id = m.team_id
           AND r.name = 'member'
        ON CONFLICT DO NOTHING;""")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form(opener, url, "/login", {"email": MEMBER, "password": PASSWORD})
    cookie = next((c.value for c in jar if c.name == "pb_session"), None)
    if cookie is None:
        sys.exit("bench/member_session.py: signing in as the bench member failed")
    print(cookie)


if __name__ == "__main__":
    main()
