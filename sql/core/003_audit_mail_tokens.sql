-- What the host itself keeps for every module: the audit trail, the mail
-- outbox and API refresh tokens. The application role reaches the last two
-- only through the SECURITY DEFINER functions below; it reads the audit
-- trail of its own team and can only add to it.

-- The audit trail ---------------------------------------------------------

-- Who viewed as whom: the real actor, set by the host with the request's
-- context when an administrator is viewing as another user.
CREATE FUNCTION core.real_uid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('plugboard.real_user_id', true), '')::uuid $$;

CREATE TABLE core.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    team_id uuid,
    actor_id uuid,
    real_actor_id uuid,
    action text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.-]{0,79}$'),
    resource_type text NOT NULL DEFAULT '' CHECK (length(resource_type) <= 80),
    resource_id text NOT NULL DEFAULT '' CHECK (length(resource_id) <= 200),
    diff jsonb NOT NULL DEFAULT '{}',
    ip inet,
    user_agent text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512)
);
CREATE INDEX audit_log_team_at ON core.audit_log (team_id, at DESC, id DESC);
CREATE INDEX audit_log_actor_at ON core.audit_log (actor_id, at DESC, id DESC);

-- Old rows move here (plugboard audit-archive, run as the owner).
CREATE TABLE core.audit_archive (LIKE core.audit_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE core.audit_archive ALTER COLUMN id DROP IDENTITY IF EXISTS;
ALTER TABLE core.audit_archive ADD PRIMARY KEY (id);

ALTER TABLE core.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.audit_log FORCE ROW LEVEL SECURITY;
ALTER TABLE core.audit_archive ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.audit_archive FORCE ROW LEVEL SECURITY;

-- A team's trail is visible inside the team (routes add the permission).
CREATE POLICY audit_log_team ON core.audit_log FOR SELECT USING (team_id = core.tid());

-- Rows are written only through this function, which takes the actor, the
-- real actor and the team from the request's context, so a signed-in
-- caller cannot write in someone else's name. A request that began
-- anonymous and signed someone in (sign-in, sign-up, accepting an
-- invitation) names them with p_actor and p_team, which count only when
-- the context has no user. It runs as the owner; the application role has
-- no INSERT, UPDATE or DELETE on the table: the trail is append-only.
CREATE FUNCTION core.audit_write(p_action text, p_type text, p_id text, p_diff jsonb,
                                 p_ip text, p_agent text, p_team uuid, p_actor uuid)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    INSERT INTO core.audit_log (team_id, actor_id, real_actor_id, action, resource_type,
                                resource_id, diff, ip, user_agent)
    VALUES (CASE WHEN core.uid() IS NULL THEN p_team ELSE core.tid() END,
            coalesce(core.uid(), p_actor), core.real_uid(), p_action,
            coalesce(p_type, ''), coalesce(p_id, ''), coalesce(p_diff, '{}'),
            nullif(p_ip, '')::inet, left(coalesce(p_agent, ''), 512))
    RETURNING id $$;

-- The mail outbox ---------------------------------------------------------

CREATE TABLE core.outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    recipient text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 254),
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    body text NOT NULL CHECK (length(body) <= 100000),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    last_error text
);
CREATE INDEX outbox_due ON core.outbox (next_attempt_at) WHERE status = 'pending';
ALTER TABLE core.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.outbox FORCE ROW LEVEL SECURITY;

-- Queues a message and wakes the mailer when the transaction commits.
CREATE FUNCTION core.mail_enqueue(p_to text, p_subject text, p_body text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    n bigint;
BEGIN
    INSERT INTO core.outbox (recipient, subject, body) VALUES (p_to, p_subject, p_body)
      RETURNING id INTO n;
    PERFORM pg_notify('pb_outbox', '');
    RETURN n;
END $$;

-- The mailer claims due messages: each claim counts an attempt and pushes
-- the next one back (1, 2, 4 ... minutes, at most an hour), so a mailer that
-- dies mid-send leaves the message to be retried, never lost. Sending is
-- therefore at least once.
CREATE FUNCTION core.mail_claim(p_limit integer)
RETURNS TABLE (id bigint, recipient text, subject text, body text, attempts integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    UPDATE core.outbox o
       SET attempts = o.attempts + 1,
           next_attempt_at = now() + least(interval '1 hour',
                                           interval '1 minute' * (2 ^ o.attempts))
     WHERE o.id IN (SELECT d.id FROM core.outbox d
                     WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                     ORDER BY d.id LIMIT p_limit FOR UPDATE SKIP LOCKED)
 RETURNING o.id, o.recipient, o.subject, o.body, o.attempts $$;

-- Records the outcome of one attempt: sent, or the error (failed for good
-- after p_max attempts).
CREATE FUNCTION core.mail_done(p_id bigint, p_error text, p_max integer) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    UPDATE core.outbox
       SET status = CASE WHEN p_error IS NULL THEN 'sent'
                         WHEN attempts >= p_max THEN 'failed' ELSE 'pending' END,
           sent_at = CASE WHEN p_error IS NULL THEN now() END,
           last_error = p_error
     WHERE id = p_id $$;

-- Seconds until the next message is due, for the mailer's sleep (NULL when
-- nothing is pending).
CREATE FUNCTION core.mail_next_due() RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::double precision
      FROM core.outbox WHERE status = 'pending' $$;

-- API refresh tokens ------------------------------------------------------

CREATE TABLE core.refresh_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    family uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES core.users ON DELETE CASCADE,
    team_id uuid NOT NULL REFERENCES core.teams ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON core.refresh_tokens (family);
CREATE INDEX refresh_tokens_user ON core.refresh_tokens (user_id);
ALTER TABLE core.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.refresh_tokens FORCE ROW LEVEL SECURITY;

-- A new family (one per credential exchange), its first token.
CREATE FUNCTION core.refresh_issue(p_user uuid, p_team uuid, p_hash bytea, p_ttl integer)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    INSERT INTO core.refresh_tokens (token_hash, family, user_id, team_id, expires_at)
    VALUES (p_hash, gen_random_uuid(), p_user, p_team, now() + p_ttl * interval '1 second') $$;

-- Rotation. 'ok' with the identity (the old token is spent, the new one
-- joins its family); 'reused' when the token was already spent, which
-- revokes the family; 'invalid' for an unknown, expired or revoked token or
-- a user who is no longer active in the team. Never raises: the revocation
-- must commit.
CREATE FUNCTION core.refresh_rotate(p_old bytea, p_new bytea, p_ttl integer)
RETURNS TABLE (outcome text, user_id uuid, team_id uuid, level integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    t core.refresh_tokens;
    lvl integer;
BEGIN
    SELECT * INTO t FROM core.refresh_tokens r WHERE r.token_hash = p_old FOR UPDATE;
    IF NOT FOUND OR t.revoked_at IS NOT NULL OR t.expires_at <= now() THEN
        RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid, NULL::integer;
        RETURN;
    END IF;
    IF t.used_at IS NOT NULL THEN
        UPDATE core.refresh_tokens r SET revoked_at = now()
         WHERE r.family = t.family AND r.revoked_at IS NULL;
        RETURN QUERY SELECT 'reused'::text, NULL::uuid, NULL::uuid, NULL::integer;
        RETURN;
    END IF;
    SELECT coalesce(max(ro.level), 0) INTO lvl
      FROM core.memberships m
      JOIN core.users u ON u.id = m.user_id AND u.is_active
      LEFT JOIN core.user_roles ur ON ur.team_id = m.team_id AND ur.user_id = m.user_id
      LEFT JOIN core.roles ro ON ro.id = ur.role_id
     WHERE m.team_id = t.team_id AND m.user_id = t.user_id AND m.status = 'active'
    HAVING count(*) > 0;
    IF lvl IS NULL THEN
        UPDATE core.refresh_tokens r SET revoked_at = now() WHERE r.family = t.family;
        RETURN QUERY SELECT 'invalid'::text, NULL::uuid, NULL::uuid, NULL::integer;
        RETURN;
    END IF;
    UPDATE core.refresh_tokens r SET used_at = now() WHERE r.token_hash = p_old;
    INSERT INTO core.refresh_tokens (token_hash, family, user_id, team_id, expires_at)
    VALUES (p_new, t.family, t.user_id, t.team_id, now() + p_ttl * interval '1 second');
    RETURN QUERY SELECT 'ok'::text, t.user_id, t.team_id, lvl;
END $$;

-- Every family of a user (password change or reset, removal).
CREATE FUNCTION core.refresh_revoke_user(p_user uuid) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    WITH r AS (UPDATE core.refresh_tokens SET revoked_at = now()
                WHERE user_id = p_user AND revoked_at IS NULL RETURNING 1)
    SELECT count(*)::integer FROM r $$;

REVOKE ALL ON FUNCTION core.real_uid(), core.audit_write(text, text, text, jsonb, text, text, uuid, uuid),
    core.mail_enqueue(text, text, text), core.mail_claim(integer),
    core.mail_done(bigint, text, integer), core.mail_next_due(),
    core.refresh_issue(uuid, uuid, bytea, integer), core.refresh_rotate(bytea, bytea, integer),
    core.refresh_revoke_user(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.real_uid(), core.audit_write(text, text, text, jsonb, text, text, uuid, uuid),
    core.mail_enqueue(text, text, text), core.mail_claim(integer),
    core.mail_done(bigint, text, integer), core.mail_next_due(),
    core.refresh_issue(uuid, uuid, bytea, integer), core.refresh_rotate(bytea, bytea, integer),
    core.refresh_revoke_user(uuid) TO @app_role@;
GRANT SELECT ON core.audit_log TO @app_role@;
