-- Teams: invitations, join requests awaiting approval, the sign-up mode,
-- switching teams and founding new ones.
--
-- Team data here carries team_id (an invitation belongs to the team that
-- issued it); nothing is personal data keyed by owner_id. Everything a
-- visitor does before signing in (reading an invitation, accepting it,
-- asking to join) goes through the SECURITY DEFINER functions below, which
-- run as the owner and reveal only what their caller needs. Signed-in
-- changes to core.memberships and core.user_roles go through the teams_*
-- policies at the end: within the current team, and only on members the
-- acting user outranks.
CREATE SCHEMA teams;
GRANT USAGE ON SCHEMA teams TO @app_role@;

-- Members who asked to join wait with status 'requested'.
ALTER TABLE core.memberships DROP CONSTRAINT memberships_status_check;
ALTER TABLE core.memberships ADD CONSTRAINT memberships_status_check
    CHECK (status IN ('active', 'invited', 'deactivated', 'requested'));

-- The team an installation started with (core.signup_first made it):
-- approval-mode sign-ups join it, and its administrators set the mode.
CREATE FUNCTION teams.first_team() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS
$$ SELECT id FROM core.teams ORDER BY created_at, id LIMIT 1 $$;

-- A user's highest role level in a team (0 without roles).
CREATE FUNCTION teams.level_in(p_team uuid, p_user uuid) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT coalesce(max(r.level), 0)::integer
      FROM core.user_roles ur JOIN core.roles r ON r.id = ur.role_id
     WHERE ur.team_id = p_team AND ur.user_id = p_user $$;

-- The same within the current team only, for the policies below (a
-- function, so that they do not depend on the policies of roles and
-- assignments).
CREATE FUNCTION teams.member_level(p_team uuid, p_user uuid) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT CASE WHEN p_team = core.tid() THEN teams.level_in(p_team, p_user) ELSE 0 END $$;

-- Whether the signed-in user may manage the current team's members
-- (an active member holding teams:manage there).
CREATE FUNCTION teams.may_manage() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT EXISTS (SELECT 1 FROM core.user_roles ur
                     JOIN core.role_permissions rp ON rp.role_id = ur.role_id
                     JOIN core.memberships m ON m.team_id = ur.team_id AND m.user_id = ur.user_id
                    WHERE ur.team_id = core.tid() AND ur.user_id = core.uid()
                      AND m.status = 'active' AND rp.permission = 'teams:manage') $$;

-- Settings -----------------------------------------------------------------

-- One row for the installation: how people who were not invited get in.
CREATE TABLE teams.settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    signup_mode text NOT NULL DEFAULT 'invite' CHECK (signup_mode IN ('invite', 'approval')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid REFERENCES core.users ON DELETE SET NULL
);
INSERT INTO teams.settings DEFAULT VALUES;
ALTER TABLE teams.settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE teams.settings FORCE ROW LEVEL SECURITY;
CREATE POLICY settings_read ON teams.settings FOR SELECT USING (core.uid() IS NOT NULL);
-- Only administrators (level 100) working in the first team change it.
CREATE POLICY settings_admin ON teams.settings FOR UPDATE
    USING (core.level() >= 100 AND core.tid() = teams.first_team())
    WITH CHECK (core.level() >= 100 AND core.tid() = teams.first_team());
GRANT SELECT, UPDATE (signup_mode, updated_at, updated_by) ON teams.settings TO @app_role@;

-- For visitors who are not signed in yet.
CREATE FUNCTION teams.signup_mode() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, teams AS
$$ SELECT signup_mode FROM teams.settings $$;

-- Invitations -----------------------------------------------------------------

-- The link's token is 256 random bits; only its SHA-256 is stored, so the
-- table does not hold usable links. id names an invitation in the
-- administrators' pages (revoking) without revealing either.
CREATE TABLE teams.invitations (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES core.teams ON DELETE CASCADE,
    email text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    role_id uuid NOT NULL REFERENCES core.roles ON DELETE CASCADE,
    invited_by uuid REFERENCES core.users ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL DEFAULT now() + interval '7 days',
    accepted_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX invitations_team ON teams.invitations (team_id, created_at DESC);
ALTER TABLE teams.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE teams.invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_team ON teams.invitations FOR SELECT USING (team_id = core.tid());
-- An invitation offers a role of the current team at or below the
-- inviter's own level, in the inviter's name.
CREATE POLICY invitations_issue ON teams.invitations FOR INSERT
    WITH CHECK (team_id = core.tid() AND invited_by = core.uid()
                AND EXISTS (SELECT 1 FROM core.roles r WHERE r.id = role_id
                               AND r.team_id = core.tid() AND r.level <= core.level()));
CREATE POLICY invitations_revoke ON teams.invitations FOR UPDATE
    USING (team_id = core.tid()) WITH CHECK (team_id = core.tid());
GRANT SELECT, INSERT (token_hash, team_id, email, role_id, invited_by),
    UPDATE (revoked_at) ON teams.invitations TO @app_role@;

-- What the invitation page shows: the invitation's id, the team, the address, the role, whether
-- the link still works ('valid', 'expired', 'accepted', 'revoked') and
-- whether the address already has an account. No row: unknown token.
CREATE FUNCTION teams.invitation_lookup(p_hash bytea)
RETURNS TABLE (id uuid, team_id uuid, team_name text, email text, role_name text, state text,
               has_account boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core, teams AS $$
    SELECT i.id, i.team_id, t.name, i.email, r.name,
           CASE WHEN i.accepted_at IS NOT NULL THEN 'accepted'
                WHEN i.revoked_at IS NOT NULL THEN 'revoked'
                WHEN i.expires_at <= now() THEN 'expired' ELSE 'valid' END,
           EXISTS (SELECT 1 FROM core.users u WHERE u.email = i.email)
      FROM teams.invitations i
      JOIN core.teams t ON t.id = i.team_id
      JOIN core.roles r ON r.id = i.role_id
     WHERE i.token_hash = p_hash $$;

-- Makes p_user an active member of p_team holding p_role (a deactivated or
-- requested membership becomes active; an active one gains the role), and
-- returns their level there.
CREATE FUNCTION teams.admit(p_team uuid, p_user uuid, p_role uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    INSERT INTO core.memberships AS m (team_id, user_id) VALUES (p_team, p_user)
        ON CONFLICT (team_id, user_id) DO UPDATE
       SET status = 'active', joined_at = CASE WHEN m.status = 'active' THEN m.joined_at
                                               ELSE now() END;
    INSERT INTO core.user_roles VALUES (p_team, p_user, p_role) ON CONFLICT DO NOTHING;
    RETURN teams.level_in(p_team, p_user);
END $$;

-- Accepts an invitation, once. The person accepting is the signed-in user
-- (core.uid(), never a parameter) when there is one, and must hold the
-- invited address; otherwise an account is made for the address from
-- p_name and p_hash, unless one exists (its owner signs in first).
-- outcome: 'ok' with the user, team and level; 'gone' (unknown, expired,
-- used or revoked), 'other_user' (signed in with another address),
-- 'sign_in' (the address has an account).
CREATE FUNCTION teams.invitation_accept(p_token bytea, p_name text, p_hash text)
RETURNS TABLE (outcome text, user_id uuid, team_id uuid, level integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core, teams AS $$
DECLARE
    inv teams.invitations;
    u uuid := core.uid();
    lvl integer;
BEGIN
    SELECT * INTO inv FROM teams.invitations i WHERE i.token_hash = p_token FOR UPDATE;
    IF NOT FOUND OR inv.accepted_at IS NOT NULL OR inv.revoked_at IS NOT NULL
       OR inv.expires_at <= now() THEN
        RETURN QUERY SELECT 'gone'::text, NULL::uuid, NULL::uuid, NULL::integer;
        RETURN;
    END IF;
    IF u IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM core.users x WHERE x.id = u AND x.email = inv.email) THEN
            RETURN QUERY SELECT 'other_user'::text, NULL::uuid, NULL::uuid, NULL::integer;
            RETURN;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM core.users x WHERE x.email = inv.email) THEN
        RETURN QUERY SELECT 'sign_in'::text, NULL::uuid, NULL::uuid, NULL::integer;
        RETURN;
    ELSE
        INSERT INTO core.users (email, display_name, password_hash)
             VALUES (inv.email, p_name, p_hash) RETURNING id INTO u;
    END IF;
    lvl := teams.admit(inv.team_id, u, inv.role_id);
    UPDATE teams.invitations i SET accepted_at = now() WHERE i.token_hash = p_token;
    RETURN QUERY SELECT 'ok'::text, u, inv.team_id, lvl;
END $$;

-- Join requests ---------------------------------------------------------------

-- An account asking to join the first team, in approval mode only.
-- outcome: 'ok' with the new user, 'closed' (invitation mode), 'taken'
-- (the address has an account).
CREATE FUNCTION teams.join_request(p_email text, p_name text, p_hash text)
RETURNS TABLE (outcome text, user_id uuid, team_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core, teams AS $$
DECLARE
    u uuid;
    t uuid := teams.first_team();
BEGIN
    IF teams.signup_mode() <> 'approval' OR t IS NULL THEN
        RETURN QUERY SELECT 'closed'::text, NULL::uuid, NULL::uuid;
        RETURN;
    END IF;
    INSERT INTO core.users (email, display_name, password_hash)
         VALUES (lower(p_email), p_name, p_hash)
    ON CONFLICT (email) DO NOTHING RETURNING id INTO u;
    IF u IS NULL THEN
        RETURN QUERY SELECT 'taken'::text, NULL::uuid, NULL::uuid;
        RETURN;
    END IF;
    INSERT INTO core.memberships (team_id, user_id, status) VALUES (t, u, 'requested');
    RETURN QUERY SELECT 'ok'::text, u, t;
END $$;

-- The signed-in user's membership of the first team while they wait:
-- the team's name and the status ('requested', or 'active' once approved).
CREATE FUNCTION teams.my_request() RETURNS TABLE (team_name text, status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core, teams AS $$
    SELECT t.name, m.status FROM core.memberships m JOIN core.teams t ON t.id = m.team_id
     WHERE m.user_id = core.uid() AND m.team_id = teams.first_team() $$;

-- Rejects a request to join the current team: the membership goes, and so
-- does the account when it belongs to no other team. Only for those who
-- may manage the team's members. outcome: 'gone' (no such request),
-- 'membership' (the account stays), 'account' (removed too).
CREATE FUNCTION teams.reject_request(p_user uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core, teams AS $$
BEGIN
    IF NOT teams.may_manage() THEN
        RAISE EXCEPTION 'may not manage members' USING ERRCODE = 'insufficient_privilege';
    END IF;
    DELETE FROM core.memberships m
     WHERE m.team_id = core.tid() AND m.user_id = p_user AND m.status = 'requested';
    IF NOT FOUND THEN
        RETURN 'gone';
    END IF;
    IF EXISTS (SELECT 1 FROM core.memberships m WHERE m.user_id = p_user) THEN
        RETURN 'membership';
    END IF;
    DELETE FROM core.users WHERE id = p_user;
    RETURN 'account';
END $$;

-- Teams of the signed-in user ------------------------------------------------

-- The teams the signed-in user is an active member of, with their level
-- and roles in each (roles of other teams are hidden from the application
-- role, hence a function).
CREATE FUNCTION teams.my_teams()
RETURNS TABLE (team_id uuid, name text, level integer, roles text, joined_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT t.id, t.name, coalesce(max(r.level), 0)::integer,
           coalesce(string_agg(r.name, ', ' ORDER BY r.level DESC, r.name), ''), m.joined_at
      FROM core.memberships m
      JOIN core.teams t ON t.id = m.team_id
      LEFT JOIN core.user_roles ur ON ur.team_id = m.team_id AND ur.user_id = m.user_id
      LEFT JOIN core.roles r ON r.id = ur.role_id
     WHERE m.user_id = core.uid() AND m.status = 'active'
     GROUP BY t.id, t.name, m.joined_at
     ORDER BY m.joined_at, t.name $$;

-- A new team: its built-in roles (admin, level 100, holding every
-- registered permission; member, level 10) and p_user as its admin.
-- Returns the team's id.
CREATE FUNCTION teams.found(p_user uuid, p_name text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    t uuid;
    admin uuid;
BEGIN
    INSERT INTO core.teams (name) VALUES (p_name) RETURNING id INTO t;
    INSERT INTO core.memberships (team_id, user_id) VALUES (t, p_user);
    INSERT INTO core.roles (team_id, name, level, description)
         VALUES (t, 'admin', 100, 'Manages the team: members, roles and every module')
      RETURNING id INTO admin;
    INSERT INTO core.roles (team_id, name, level, description)
         VALUES (t, 'member', 10, 'Works in the team''s modules');
    INSERT INTO core.role_permissions SELECT admin, name FROM core.permissions
        ON CONFLICT DO NOTHING;
    INSERT INTO core.user_roles VALUES (t, p_user, admin);
    RETURN t;
END $$;

-- The signed-in user founds a team.
CREATE FUNCTION teams.create_team(p_name text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core, teams AS $$
BEGIN
    IF core.uid() IS NULL THEN
        RAISE EXCEPTION 'not signed in' USING ERRCODE = 'PB002';
    END IF;
    RETURN teams.found(core.uid(), p_name);
END $$;

-- Every role lets its holders list and switch their teams ------------------

INSERT INTO core.permissions (name, description, module)
     VALUES ('teams:self', 'List one''s own teams, switch between them, found a team', 'teams')
ON CONFLICT DO NOTHING;
INSERT INTO core.role_permissions SELECT id, 'teams:self' FROM core.roles ON CONFLICT DO NOTHING;

-- Deferred to the end of the transaction, so that whoever creates the role
-- and then grants it every permission (core.signup_first) does not collide
-- with this grant.
CREATE FUNCTION teams.grant_self() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    INSERT INTO core.role_permissions VALUES (NEW.id, 'teams:self') ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER roles_grant_teams_self AFTER INSERT ON core.roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION teams.grant_self();

-- Signed-in changes to memberships and role assignments -----------------------

-- Deactivating, reactivating, approving and removing: members of the
-- current team whom the acting user outranks, never oneself.
CREATE POLICY teams_memberships_update ON core.memberships FOR UPDATE
    USING (team_id = core.tid() AND user_id <> core.uid()
           AND teams.member_level(team_id, user_id) < core.level())
    WITH CHECK (team_id = core.tid() AND user_id <> core.uid());
CREATE POLICY teams_memberships_delete ON core.memberships FOR DELETE
    USING (team_id = core.tid() AND user_id <> core.uid()
           AND teams.member_level(team_id, user_id) < core.level());
-- Approving a request assigns a role below the acting user's level.
CREATE POLICY teams_user_roles_insert ON core.user_roles FOR INSERT
    WITH CHECK (team_id = core.tid() AND user_id <> core.uid()
                AND EXISTS (SELECT 1 FROM core.roles r WHERE r.id = role_id
                               AND r.team_id = core.tid() AND r.level < core.level()));
GRANT UPDATE (status, joined_at), DELETE ON core.memberships TO @app_role@;
GRANT INSERT ON core.user_roles TO @app_role@;

REVOKE ALL ON FUNCTION teams.first_team(), teams.level_in(uuid, uuid),
    teams.member_level(uuid, uuid), teams.may_manage(), teams.signup_mode(),
    teams.invitation_lookup(bytea), teams.admit(uuid, uuid, uuid),
    teams.invitation_accept(bytea, text, text), teams.join_request(text, text, text),
    teams.my_request(), teams.reject_request(uuid), teams.my_teams(), teams.found(uuid, text),
    teams.create_team(text), teams.grant_self() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION teams.first_team(), teams.member_level(uuid, uuid), teams.may_manage(),
    teams.signup_mode(), teams.invitation_lookup(bytea), teams.invitation_accept(bytea, text, text),
    teams.join_request(text, text, text), teams.my_request(), teams.reject_request(uuid),
    teams.my_teams(), teams.create_team(text) TO @app_role@;
