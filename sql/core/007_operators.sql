-- Operators: the people who run the installation, apart from any team.
--
-- Installation-wide resources (backups, the modules console, the system
-- log, the cache, jobs that belong to no team, system events) are theirs.
-- Administering a team, at any level, gives no right to them: team roles
-- cannot hold the installation's permissions (those named "system:..."),
-- and the guard admits a route that needs one only for an operator.
--
-- The first account of an installation is its first operator; operators
-- grant and revoke the flag (audited), and `plugboard operator add|remove|
-- list` does it from the command line for recovery.

CREATE TABLE core.operators (
    user_id uuid PRIMARY KEY REFERENCES core.users ON DELETE CASCADE,
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by uuid REFERENCES core.users ON DELETE SET NULL -- NULL: first account or CLI
);
ALTER TABLE core.operators ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.operators FORCE ROW LEVEL SECURITY;

-- Is the acting user an active operator? SECURITY DEFINER so that the
-- policies below can ask without reading core.operators under its own
-- policy (which asks this function).
CREATE FUNCTION core.is_operator() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT EXISTS (SELECT 1 FROM core.operators o JOIN core.users u ON u.id = o.user_id
                    WHERE o.user_id = core.uid() AND u.is_active) $$;

CREATE POLICY operators_visible ON core.operators FOR SELECT
    USING (user_id = core.uid() OR core.is_operator());

-- An installation always keeps an operator once it has accounts.
CREATE FUNCTION core.keep_an_operator() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, core AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM core.operators) AND EXISTS (SELECT 1 FROM core.users) THEN
        RAISE EXCEPTION 'the installation must keep at least one operator' USING ERRCODE = 'PB020';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER operators_keep_one AFTER DELETE ON core.operators
    FOR EACH STATEMENT EXECUTE FUNCTION core.keep_an_operator();

-- The first account made on an installation becomes its first operator,
-- whichever way it was made (core.signup_first locks core.users, so two
-- first sign-ups cannot both be first). A statement trigger: a row trigger
-- of a many-row INSERT already sees every row of it.
CREATE FUNCTION core.first_account_operates() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM core.operators) THEN
        INSERT INTO core.operators (user_id)
        SELECT id FROM added ORDER BY created_at, id LIMIT 1;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER users_first_operates AFTER INSERT ON core.users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION core.first_account_operates();

-- An installation made before operators existed: its first account.
INSERT INTO core.operators (user_id)
SELECT id FROM core.users ORDER BY created_at, id LIMIT 1;

-- Installation permissions never reach a team role -------------------------

-- Every "grant all permissions to the admin role" (sign-up, founding a
-- team, module load, custom permissions) skips them; the CHECK holds even
-- if the trigger were dropped.
CREATE FUNCTION core.team_permission_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, core AS $$
BEGIN
    IF NEW.permission LIKE 'system:%' THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;
DELETE FROM core.role_permissions WHERE permission LIKE 'system:%';
CREATE TRIGGER role_permissions_team_only BEFORE INSERT OR UPDATE ON core.role_permissions
    FOR EACH ROW EXECUTE FUNCTION core.team_permission_only();
ALTER TABLE core.role_permissions
    ADD CONSTRAINT role_permissions_team_only CHECK (permission NOT LIKE 'system:%');

-- The installation's permissions before they were named system:...; their
-- routes now ask for system:backups, system:modules and system:cache.
DELETE FROM core.permissions
 WHERE name IN ('backups:read', 'backups:manage', 'modules:read', 'modules:manage',
                'cache:read', 'cache:manage');

-- Installation-wide rows: operators only -----------------------------------

DROP POLICY system_events_admins ON core.system_events;
CREATE POLICY system_events_operators ON core.system_events FOR SELECT
    USING (core.is_operator());

-- Runs and schedules that belong to no team (a module's own cron jobs).
DROP POLICY jobs_team ON core.jobs;
CREATE POLICY jobs_team ON core.jobs FOR SELECT
    USING (team_id = core.tid() OR (team_id IS NULL AND core.is_operator()));
DROP POLICY job_schedules_team ON core.job_schedules;
CREATE POLICY job_schedules_team ON core.job_schedules FOR SELECT
    USING (team_id = core.tid() OR (team_id IS NULL AND core.is_operator()));

-- Managing operators ---------------------------------------------------------

-- Every function checks the caller itself: the guard is not the only wall.
CREATE FUNCTION core.operator_required() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, core AS $$
BEGIN
    IF NOT core.is_operator() THEN
        RAISE EXCEPTION 'only an operator of the installation may do this' USING ERRCODE = 'PB021';
    END IF;
END $$;

-- The operators, with who granted the flag (users of every team: this
-- runs as the owner, since core.users shows only one's own team).
CREATE FUNCTION core.operator_list()
RETURNS TABLE (user_id uuid, email text, display_name text, is_active boolean,
               granted_at timestamptz, granted_by_email text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    PERFORM core.operator_required();
    RETURN QUERY
    SELECT u.id, u.email, u.display_name, u.is_active, o.granted_at, g.email
      FROM core.operators o JOIN core.users u ON u.id = o.user_id
      LEFT JOIN core.users g ON g.id = o.granted_by
     ORDER BY o.granted_at, u.email;
END $$;

-- Makes the account with this e-mail address an operator. Returns its id
-- and whether it was one already, or no row when no account has it.
CREATE FUNCTION core.operator_grant(p_email text)
RETURNS TABLE (user_id uuid, already boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    u uuid;
BEGIN
    PERFORM core.operator_required();
    SELECT id INTO u FROM core.users WHERE email = lower(p_email);
    IF u IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO core.operators (user_id, granted_by) VALUES (u, core.uid())
    ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT u, NOT FOUND;
END $$;

-- Takes the flag away. Returns the address it was taken from, or NULL
-- when the user was no operator. The last operator cannot go (PB020).
CREATE FUNCTION core.operator_revoke(p_user uuid) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    addr text;
BEGIN
    PERFORM core.operator_required();
    DELETE FROM core.operators o USING core.users u
     WHERE o.user_id = p_user AND u.id = o.user_id RETURNING u.email INTO addr;
    RETURN addr;
END $$;

REVOKE ALL ON FUNCTION core.is_operator(), core.operator_required(), core.operator_list(),
    core.operator_grant(text), core.operator_revoke(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.is_operator(), core.operator_required(), core.operator_list(),
    core.operator_grant(text), core.operator_revoke(uuid) TO @app_role@;
GRANT SELECT ON core.operators TO @app_role@;
