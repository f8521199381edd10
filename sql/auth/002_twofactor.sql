-- Two-factor sign-in (RFC 6238 TOTP), an option each user turns on for
-- themselves. The secret and the last time step used live in core.users
-- (totp_secret, totp_enabled, totp_last_step); this file adds the single-use
-- recovery codes and the look-ups the sign-in needs before anyone is
-- signed in.

-- Recovery codes ----------------------------------------------------------

-- Ten per user, made when two-factor sign-in is turned on or the codes are
-- renewed. Only a keyed BLAKE2b hash of each code is kept (the key is the
-- user's id), so the table cannot be used to sign in. A used code keeps its
-- row, with used_at set, so the account page can count what is left.
CREATE TABLE auth.recovery_codes (
    user_id uuid NOT NULL REFERENCES core.users ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);
ALTER TABLE auth.recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.recovery_codes FORCE ROW LEVEL SECURITY;

-- Signed in, a user sees, makes and removes their own codes only.
CREATE POLICY recovery_codes_own ON auth.recovery_codes
    USING (user_id = core.uid()) WITH CHECK (user_id = core.uid());
GRANT SELECT, INSERT, DELETE ON auth.recovery_codes TO @app_role@;

-- Checking a second factor ------------------------------------------------
-- The second step of a sign-in runs before the user is signed in, when
-- row-level security hides their row: these functions do the look-ups it
-- needs, for a user whose password was just checked.

-- The secret (hex) and the last accepted step of a user with two-factor
-- sign-in on; no row when it is off.
CREATE FUNCTION auth.totp_state(p_user uuid)
RETURNS TABLE (secret text, last_step bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT encode(totp_secret, 'hex'), totp_last_step FROM core.users
     WHERE id = p_user AND totp_enabled AND totp_secret IS NOT NULL AND is_active $$;

-- Accepts time step p_step for the user once: only a step later than the
-- last one accepted, so a code cannot be replayed within its window
-- (RFC 6238 §5.2). Of two requests with the same code, one wins. Returns
-- whether the step was accepted.
CREATE FUNCTION auth.totp_claim(p_user uuid, p_step bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    UPDATE core.users SET totp_last_step = p_step
     WHERE id = p_user AND totp_enabled AND totp_last_step < p_step;
    RETURN FOUND;
END $$;

-- Uses up one of the user's recovery codes by its hash. Returns whether an
-- unused code matched (of two requests with the same code, one wins).
CREATE FUNCTION auth.recovery_use(p_user uuid, p_hash bytea) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core, auth AS $$
BEGIN
    UPDATE auth.recovery_codes SET used_at = now()
     WHERE user_id = p_user AND code_hash = p_hash AND used_at IS NULL
       AND EXISTS (SELECT 1 FROM core.users u WHERE u.id = p_user AND u.totp_enabled);
    RETURN FOUND;
END $$;

REVOKE ALL ON FUNCTION auth.totp_state(uuid), auth.totp_claim(uuid, bigint),
    auth.recovery_use(uuid, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.totp_state(uuid), auth.totp_claim(uuid, bigint),
    auth.recovery_use(uuid, bytea) TO @app_role@;
