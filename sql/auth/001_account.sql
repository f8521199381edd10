-- The auth module's account flows: every role may manage its own profile
-- (account:self), and forgotten passwords are reset by e-mail.

-- account:self for every role --------------------------------------------

-- Permissions are registered when the module loads, which is after the
-- migrations: the grants below need the row now.
INSERT INTO core.permissions (name, description, module)
     VALUES ('account:self', 'Manage one''s own profile', 'auth')
ON CONFLICT (name) DO NOTHING;

INSERT INTO core.role_permissions (role_id, permission)
     SELECT id, 'account:self' FROM core.roles
ON CONFLICT DO NOTHING;

CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO @app_role@;

-- Roles made later (a new team's admin and member, a custom role) hold it
-- from the start: managing one's own profile is not a privilege to assign.
-- The grant waits for the end of the transaction (a deferred constraint
-- trigger), so code that makes a role and then grants it a list of
-- permissions, core.signup_first among them, does not collide with it.
CREATE FUNCTION auth.grant_account_self() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    INSERT INTO core.role_permissions (role_id, permission)
         SELECT r.id, 'account:self' FROM core.roles r WHERE r.id = NEW.id
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION auth.grant_account_self() FROM PUBLIC;

CREATE CONSTRAINT TRIGGER roles_account_self AFTER INSERT ON core.roles
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION auth.grant_account_self();

-- Changing one's e-mail address -------------------------------------------

-- The application role may not update e-mail addresses, and row-level
-- security hides whether another user holds one: this function changes the
-- signed-in user's address, and answers false when it is taken.
CREATE FUNCTION auth.change_email(p_email text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    UPDATE core.users SET email = lower(p_email), updated_at = now() WHERE id = core.uid();
    RETURN FOUND;
EXCEPTION WHEN unique_violation THEN
    RETURN false;
END $$;

-- Password reset ----------------------------------------------------------

-- One row per link sent. Only the SHA-256 of the token is kept, so the
-- table's contents cannot be used to reset anyone's password. The
-- application role has no grant on it: it goes through the functions below.
CREATE TABLE auth.password_resets (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id uuid NOT NULL REFERENCES core.users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX password_resets_user ON auth.password_resets (user_id) WHERE used_at IS NULL;
ALTER TABLE auth.password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.password_resets FORCE ROW LEVEL SECURITY;

-- Records a link for the active user with that address, valid p_ttl
-- seconds. Returns the user's display name, or no row when no active user
-- has the address (the caller answers the same either way).
CREATE FUNCTION auth.reset_create(p_email text, p_hash bytea, p_ttl integer)
RETURNS TABLE (display_name text)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core, auth AS $$
    WITH u AS (SELECT id, display_name FROM core.users
                WHERE email = lower(p_email) AND is_active),
         r AS (INSERT INTO auth.password_resets (token_hash, user_id, expires_at)
               SELECT p_hash, id, now() + p_ttl * interval '1 second' FROM u)
    SELECT display_name FROM u $$;

-- Whether a link can still be used: known, unused, unexpired, and its user
-- still active.
CREATE FUNCTION auth.reset_valid(p_hash bytea) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core, auth AS $$
    SELECT EXISTS (SELECT 1 FROM auth.password_resets r
                     JOIN core.users u ON u.id = r.user_id AND u.is_active
                    WHERE r.token_hash = p_hash AND r.used_at IS NULL
                      AND r.expires_at > now()) $$;

-- Uses a link: marks it used (atomically: of two requests with one token,
-- one wins), invalidates the user's other outstanding links and sets the
-- new password hash. Returns the user's id, or NULL when the link cannot
-- be used.
CREATE FUNCTION auth.reset_consume(p_hash bytea, p_password_hash text) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core, auth AS $$
DECLARE
    u uuid;
BEGIN
    UPDATE auth.password_resets r SET used_at = now()
     WHERE r.token_hash = p_hash AND r.used_at IS NULL AND r.expires_at > now()
       AND EXISTS (SELECT 1 FROM core.users x WHERE x.id = r.user_id AND x.is_active)
    RETURNING r.user_id INTO u;
    IF u IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE auth.password_resets SET used_at = now() WHERE user_id = u AND used_at IS NULL;
    UPDATE core.users SET password_hash = p_password_hash, updated_at = now() WHERE id = u;
    RETURN u;
END $$;

REVOKE ALL ON FUNCTION auth.change_email(text), auth.reset_create(text, bytea, integer),
    auth.reset_valid(bytea), auth.reset_consume(bytea, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.change_email(text), auth.reset_create(text, bytea, integer),
    auth.reset_valid(bytea), auth.reset_consume(bytea, text) TO @app_role@;
