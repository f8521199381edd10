-- Identity: users, teams, memberships, roles and permissions.
--
-- Row-level security is FORCEd on every table, so even their owner is
-- subject to it unless it holds BYPASSRLS. The application role owns
-- nothing; what it may see follows from the request's context, which the
-- host sets at the start of each transaction:
--   plugboard.user_id   the signed-in user ('' when anonymous)
--   plugboard.team_id   the team the user is working in
--   plugboard.role_level the user's highest role level in that team
-- Look-ups that must happen before anyone is signed in (sign-in by e-mail,
-- sign-up, password reset) go through the few SECURITY DEFINER functions
-- in 002, which run as the owner.

CREATE FUNCTION core.uid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('plugboard.user_id', true), '')::uuid $$;

CREATE FUNCTION core.tid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('plugboard.team_id', true), '')::uuid $$;

CREATE FUNCTION core.level() RETURNS integer LANGUAGE sql STABLE AS
$$ SELECT coalesce(nullif(current_setting('plugboard.role_level', true), '')::integer, 0) $$;

CREATE TABLE core.users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 120),
    password_hash text NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    totp_secret bytea,
    totp_enabled boolean NOT NULL DEFAULT false,
    totp_last_step bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON core.users (email);

CREATE TABLE core.teams (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.memberships (
    team_id uuid NOT NULL REFERENCES core.teams ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES core.users ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invited', 'deactivated')),
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX memberships_user ON core.memberships (user_id);

-- Permissions are named resource:action and declared by modules; the host
-- registers them when it loads a module.
CREATE TABLE core.permissions (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$'),
    description text NOT NULL DEFAULT '',
    module text NOT NULL
);

-- Roles belong to a team; a higher level outranks a lower one (an admin
-- may manage roles below their own level only).
CREATE TABLE core.roles (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    team_id uuid NOT NULL REFERENCES core.teams ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    level integer NOT NULL CHECK (level BETWEEN 0 AND 100),
    description text NOT NULL DEFAULT '',
    UNIQUE (team_id, name)
);

CREATE TABLE core.role_permissions (
    role_id uuid NOT NULL REFERENCES core.roles ON DELETE CASCADE,
    permission text NOT NULL REFERENCES core.permissions ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE core.user_roles (
    team_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role_id uuid NOT NULL REFERENCES core.roles ON DELETE CASCADE,
    PRIMARY KEY (team_id, user_id, role_id),
    FOREIGN KEY (team_id, user_id) REFERENCES core.memberships ON DELETE CASCADE
);

-- Row-level security ----------------------------------------------------

ALTER TABLE core.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.users FORCE ROW LEVEL SECURITY;
ALTER TABLE core.teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.teams FORCE ROW LEVEL SECURITY;
ALTER TABLE core.memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.memberships FORCE ROW LEVEL SECURITY;
ALTER TABLE core.permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.permissions FORCE ROW LEVEL SECURITY;
ALTER TABLE core.roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.roles FORCE ROW LEVEL SECURITY;
ALTER TABLE core.role_permissions ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.role_permissions FORCE ROW LEVEL SECURITY;
ALTER TABLE core.user_roles ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.user_roles FORCE ROW LEVEL SECURITY;

-- A user sees themselves, and the members of the team they work in.
CREATE POLICY users_self_or_team ON core.users FOR SELECT
    USING (id = core.uid() OR id IN (SELECT user_id FROM core.memberships
                                     WHERE team_id = core.tid()));
CREATE POLICY users_update_self ON core.users FOR UPDATE
    USING (id = core.uid()) WITH CHECK (id = core.uid());

-- A user sees the teams they belong to.
CREATE POLICY teams_member ON core.teams FOR SELECT
    USING (id IN (SELECT team_id FROM core.memberships WHERE user_id = core.uid()));

-- Memberships: one's own (to list one's teams), and those of the current team.
CREATE POLICY memberships_visible ON core.memberships FOR SELECT
    USING (user_id = core.uid() OR team_id = core.tid());

-- The registry of permissions is public knowledge to signed-in users.
CREATE POLICY permissions_read ON core.permissions FOR SELECT
    USING (core.uid() IS NOT NULL);

-- Roles, their permissions and assignments: within the current team.
CREATE POLICY roles_team ON core.roles FOR SELECT USING (team_id = core.tid());
CREATE POLICY role_permissions_team ON core.role_permissions FOR SELECT
    USING (role_id IN (SELECT id FROM core.roles WHERE team_id = core.tid()));
CREATE POLICY user_roles_team ON core.user_roles FOR SELECT
    USING (team_id = core.tid() OR user_id = core.uid());

GRANT USAGE ON SCHEMA core TO @app_role@;
GRANT SELECT ON core.users, core.teams, core.memberships, core.permissions, core.roles,
    core.role_permissions, core.user_roles TO @app_role@;
GRANT UPDATE (display_name, password_hash, totp_secret, totp_enabled, totp_last_step, updated_at)
    ON core.users TO @app_role@;
GRANT EXECUTE ON FUNCTION core.uid(), core.tid(), core.level() TO @app_role@;
