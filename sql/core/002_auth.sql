-- Sign-up and sign-in happen before anyone is signed in, when row-level
-- security (keyed on the signed-in user) hides every user. These functions
-- run as the owner, which bypasses it, and each reveals only what its
-- caller needs. search_path is pinned so a caller cannot substitute
-- objects of its own.

CREATE FUNCTION core.auth_lookup(p_email text)
RETURNS TABLE (id uuid, password_hash text, is_active boolean, display_name text,
               totp_enabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS
$$ SELECT id, password_hash, is_active, display_name, totp_enabled
     FROM core.users WHERE email = lower(p_email) $$;

CREATE FUNCTION core.signup_open() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS
$$ SELECT NOT EXISTS (SELECT 1 FROM core.users) $$;

-- The first user of an installation: the user, a team, its two built-in
-- roles (admin, level 100, holding every registered permission; member,
-- level 10) and the user as its admin. Refused once anyone exists: later
-- members come by invitation.
CREATE FUNCTION core.signup_first(p_email text, p_name text, p_hash text, p_team text)
RETURNS TABLE (user_id uuid, team_id uuid, level integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    u uuid;
    t uuid;
    admin uuid;
BEGIN
    -- Two first sign-ups at once: the second waits here, then sees the first.
    LOCK TABLE core.users IN SHARE ROW EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM core.users) THEN
        RAISE EXCEPTION 'sign-up is by invitation' USING ERRCODE = 'PB001';
    END IF;
    INSERT INTO core.users (email, display_name, password_hash)
         VALUES (lower(p_email), p_name, p_hash) RETURNING id INTO u;
    INSERT INTO core.teams (name) VALUES (p_team) RETURNING id INTO t;
    INSERT INTO core.memberships (team_id, user_id) VALUES (t, u);
    INSERT INTO core.roles (team_id, name, level, description)
         VALUES (t, 'admin', 100, 'Manages the team: members, roles and every module')
      RETURNING id INTO admin;
    INSERT INTO core.roles (team_id, name, level, description)
         VALUES (t, 'member', 10, 'Works in the team''s modules');
    INSERT INTO core.role_permissions SELECT admin, name FROM core.permissions;
    INSERT INTO core.user_roles VALUES (t, u, admin);
    RETURN QUERY SELECT u, t, 100;
END $$;

-- Where a user lands after signing in: the first team they joined that is
-- still active, and their highest role level there.
CREATE FUNCTION core.login_context(p_user uuid) RETURNS TABLE (team_id uuid, level integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT m.team_id, coalesce(max(r.level), 0)::integer
      FROM core.memberships m
      LEFT JOIN core.user_roles ur ON ur.team_id = m.team_id AND ur.user_id = m.user_id
      LEFT JOIN core.roles r ON r.id = ur.role_id
     WHERE m.user_id = p_user AND m.status = 'active'
     GROUP BY m.team_id, m.joined_at
     ORDER BY m.joined_at
     LIMIT 1 $$;

REVOKE ALL ON FUNCTION core.auth_lookup(text), core.signup_open(),
    core.signup_first(text, text, text, text), core.login_context(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.auth_lookup(text), core.signup_open(),
    core.signup_first(text, text, text, text), core.login_context(uuid) TO @app_role@;
