-- Jobs: runs of module-declared jobs (core.jobs), the jobs modules declare
-- (core.job_defs) and cron schedules (core.job_schedules). Handlers enqueue
-- runs; the scheduler process (src/scheduler.c) claims and runs them. The
-- application role reads its team's runs and schedules; every change goes
-- through the SECURITY DEFINER functions below, which take the team and
-- user from the request's context.
--
-- Runs are at least once: a run's work and its "done" commit in one
-- transaction, so a runner that dies before the commit leaves the run to
-- be retried, and one that dies after leaves it done.

CREATE TABLE core.jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$' AND length(name) <= 120),
    key text CHECK (length(key) BETWEEN 1 AND 200),
    payload jsonb NOT NULL DEFAULT '{}',
    team_id uuid REFERENCES core.teams ON DELETE CASCADE,
    user_id uuid REFERENCES core.users ON DELETE SET NULL, -- who enqueued; NULL for cron
    real_user_id uuid REFERENCES core.users ON DELETE SET NULL, -- behind a "view as"
    role_level integer NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    progress integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    message text NOT NULL DEFAULT '' CHECK (length(message) <= 200),
    error text CHECK (length(error) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- At most one queued or running run per key (within a team).
CREATE UNIQUE INDEX jobs_one_per_key ON core.jobs (team_id, key) NULLS NOT DISTINCT
    WHERE key IS NOT NULL AND status IN ('queued', 'running');
CREATE INDEX jobs_due ON core.jobs (run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_running ON core.jobs (started_at) WHERE status = 'running';
CREATE INDEX jobs_team_created ON core.jobs (team_id, created_at DESC, id DESC);
ALTER TABLE core.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY jobs_team ON core.jobs FOR SELECT USING (team_id = core.tid());

-- The jobs loaded modules declare, registered by the scheduler at start.
CREATE TABLE core.job_defs (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$'),
    cron text,
    seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.job_schedules (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL REFERENCES core.job_defs ON DELETE CASCADE,
    cron text NOT NULL CHECK (length(cron) BETWEEN 1 AND 100),
    timezone text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    payload jsonb NOT NULL DEFAULT '{}',
    team_id uuid REFERENCES core.teams ON DELETE CASCADE, -- NULL for a module's own
    source text NOT NULL CHECK (source IN ('module', 'user')),
    enabled boolean NOT NULL DEFAULT true,
    next_run_at timestamptz, -- NULL: the scheduler computes it
    last_run_at timestamptz,
    last_error text CHECK (length(last_error) <= 500),
    created_by uuid REFERENCES core.users ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((source = 'module') = (team_id IS NULL))
);
CREATE UNIQUE INDEX job_schedules_module ON core.job_schedules (name) WHERE source = 'module';
CREATE INDEX job_schedules_due ON core.job_schedules (next_run_at) WHERE enabled;
ALTER TABLE core.job_schedules ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.job_schedules FORCE ROW LEVEL SECURITY;
-- A team sees its own schedules and the modules' (which run for no team).
CREATE POLICY job_schedules_team ON core.job_schedules FOR SELECT
    USING (team_id = core.tid() OR team_id IS NULL);

-- Enqueueing (handlers, through host->job_enqueue) --------------------------

-- Enqueues a run in the caller's team as the caller, after p_delay seconds.
-- With a key that already has a queued or running run in the team, returns
-- that run's id instead. Wakes the scheduler when the transaction commits.
CREATE FUNCTION core.job_enqueue(p_name text, p_payload jsonb, p_key text, p_delay integer,
                                 p_max_attempts integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    n bigint;
BEGIN
    FOR i IN 1..3 LOOP
        INSERT INTO core.jobs (name, key, payload, team_id, user_id, real_user_id, role_level,
                               max_attempts, run_at)
        VALUES (p_name, p_key, coalesce(p_payload, '{}'), core.tid(), core.uid(), core.real_uid(),
                core.level(), p_max_attempts, now() + greatest(p_delay, 0) * interval '1 second')
        ON CONFLICT (team_id, key) WHERE key IS NOT NULL AND status IN ('queued', 'running')
        DO NOTHING
        RETURNING id INTO n;
        IF n IS NOT NULL THEN
            PERFORM pg_notify('pb_jobs', '');
            RETURN n;
        END IF;
        SELECT j.id INTO n FROM core.jobs j
         WHERE j.team_id IS NOT DISTINCT FROM core.tid() AND j.key = p_key
           AND j.status IN ('queued', 'running');
        IF n IS NOT NULL THEN
            RETURN n;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'job key % keeps changing state', p_key;
END $$;

-- A dead run of the caller's team goes back to the queue (jobs:manage is
-- checked by the route). False when it is not dead, not the team's, or its
-- key has another run queued or running.
CREATE FUNCTION core.job_retry(p_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    UPDATE core.jobs SET status = 'queued', attempts = 0, run_at = now(), error = NULL,
                         progress = 0, message = '', finished_at = NULL, lease_until = NULL
     WHERE id = p_id AND status = 'dead' AND team_id = core.tid();
    IF FOUND THEN
        PERFORM pg_notify('pb_jobs', '');
    END IF;
    RETURN FOUND;
EXCEPTION WHEN unique_violation THEN
    RETURN false;
END $$;

-- Schedules a team adds for a declared job (jobs:manage is checked by the
-- route; the module validates the expression and the zone).
CREATE FUNCTION core.schedule_add(p_name text, p_cron text, p_zone text) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    INSERT INTO core.job_schedules (name, cron, timezone, team_id, source, created_by)
    SELECT d.name, p_cron, p_zone, core.tid(), 'user', core.uid()
      FROM core.job_defs d WHERE d.name = p_name AND core.tid() IS NOT NULL
    RETURNING id $$;

-- Removes a team's schedule and the run it queued that has not started.
CREATE FUNCTION core.schedule_remove(p_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    DELETE FROM core.job_schedules
     WHERE id = p_id AND source = 'user' AND team_id = core.tid();
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM core.jobs WHERE key = 'cron:' || p_id AND status = 'queued'
                            AND team_id = core.tid();
    RETURN true;
END $$;

-- The scheduler's bookkeeping ------------------------------------------------

-- Records what the loaded modules declare: every job, and for jobs with a
-- cron expression the module's schedule (in p_zone), which is replanned
-- when its expression or zone changed.
CREATE FUNCTION core.job_register(p_name text, p_cron text, p_zone text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    INSERT INTO core.job_defs (name, cron) VALUES (p_name, p_cron)
    ON CONFLICT (name) DO UPDATE SET cron = excluded.cron, seen_at = now();
    IF p_cron IS NULL THEN
        DELETE FROM core.job_schedules WHERE name = p_name AND source = 'module';
        RETURN;
    END IF;
    INSERT INTO core.job_schedules (name, cron, timezone, source)
    VALUES (p_name, p_cron, p_zone, 'module')
    ON CONFLICT (name) WHERE source = 'module' DO UPDATE
       SET cron = excluded.cron, timezone = excluded.timezone, enabled = true,
           last_error = NULL,
           next_run_at = CASE WHEN core.job_schedules.cron = excluded.cron
                               AND core.job_schedules.timezone = excluded.timezone
                              THEN core.job_schedules.next_run_at END;
END $$;

-- Runs whose runner is gone go back to the queue (or die, out of attempts):
-- those past their lease, and those no runner holds (a runner keeps a
-- FOR KEY SHARE lock on its run for its transaction's life) once p_grace
-- seconds have passed since the claim, time enough to start a runner.
CREATE FUNCTION core.job_reclaim(p_grace integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    WITH lost AS (
        SELECT id FROM core.jobs
         WHERE status = 'running'
           AND (lease_until < now() OR started_at < now() - p_grace * interval '1 second')
         ORDER BY id FOR UPDATE SKIP LOCKED),
    moved AS (
        UPDATE core.jobs j
           SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'queued' END,
               finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
               run_at = now(), lease_until = NULL,
               error = 'the runner stopped before the run finished'
          FROM lost WHERE j.id = lost.id
        RETURNING 1)
    SELECT count(*)::integer FROM moved $$;

-- Claims up to p_limit due runs of the jobs named (the loaded modules'),
-- counting an attempt; the lease covers the run's timeout.
CREATE FUNCTION core.job_claim(p_limit integer, p_lease integer, p_names text[])
RETURNS TABLE (id bigint, name text, payload jsonb, user_id uuid, team_id uuid,
               real_user_id uuid, role_level integer, attempts integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    UPDATE core.jobs j
       SET status = 'running', attempts = j.attempts + 1, started_at = now(),
           lease_until = now() + p_lease * interval '1 second', progress = 0, message = ''
     WHERE j.id IN (SELECT d.id FROM core.jobs d
                     WHERE d.status = 'queued' AND d.run_at <= now() AND d.name = ANY (p_names)
                     ORDER BY d.run_at, d.id LIMIT p_limit FOR UPDATE SKIP LOCKED)
 RETURNING j.id, j.name, j.payload, j.user_id, j.team_id, j.real_user_id, j.role_level,
           j.attempts $$;

-- The runner's first statement, in the run's transaction: true (and the
-- run locked FOR KEY SHARE until the transaction ends) when this attempt
-- still owns the run.
CREATE FUNCTION core.job_start(p_id bigint, p_attempt integer) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT coalesce((SELECT true FROM core.jobs
                      WHERE id = p_id AND status = 'running' AND attempts = p_attempt
                      FOR KEY SHARE), false) $$;

-- The runner's last statement, in the run's transaction: done. False when
-- the attempt no longer owns the run (it was reclaimed): roll back.
CREATE FUNCTION core.job_finish(p_id bigint, p_attempt integer) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    WITH d AS (
        UPDATE core.jobs SET status = 'done', finished_at = now(), progress = 100,
                             lease_until = NULL, error = NULL
         WHERE id = p_id AND status = 'running' AND attempts = p_attempt RETURNING 1)
    SELECT count(*) = 1 FROM d $$;

-- A failed attempt: queued again after p_base * 2^attempts seconds (at most
-- six hours), or dead once out of attempts. Returns the new status, or NULL
-- when the attempt no longer owns the run.
CREATE FUNCTION core.job_fail(p_id bigint, p_attempt integer, p_error text, p_base integer)
RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    UPDATE core.jobs
       SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
           finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
           run_at = now() + least(21600, p_base * power(2, least(attempts, 20))) *
                            interval '1 second',
           lease_until = NULL, error = left(p_error, 2000)
     WHERE id = p_id AND status = 'running' AND attempts = p_attempt
 RETURNING status $$;

-- Progress, written outside the run's transaction so pages see it at once.
CREATE FUNCTION core.job_progress(p_id bigint, p_attempt integer, p_percent integer,
                                  p_message text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    WITH u AS (
        UPDATE core.jobs SET progress = least(100, greatest(0, p_percent)),
                             message = left(coalesce(p_message, ''), 200)
         WHERE id = p_id AND status = 'running' AND attempts = p_attempt RETURNING 1)
    SELECT count(*) = 1 FROM u $$;

-- Schedules that are due (fire) or have no next time yet (plan), with the
-- database's clock, for the scheduler to compute next times in their zones.
CREATE FUNCTION core.schedule_due(p_limit integer)
RETURNS TABLE (id bigint, cron text, timezone text, due boolean, now_epoch double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT s.id, s.cron, s.timezone, s.next_run_at IS NOT NULL,
           extract(epoch FROM now())::double precision
      FROM core.job_schedules s
     WHERE s.enabled AND (s.next_run_at IS NULL OR s.next_run_at <= now())
     ORDER BY s.next_run_at NULLS FIRST, s.id LIMIT p_limit $$;

-- Fires a due schedule once: enqueues a run (key cron:<id>, in the
-- schedule's team, as no user; skipped while the last one is still queued
-- or running) and moves next_run_at on. With p_fire false, only plans the
-- next time. A NULL p_next (an expression or zone that no longer works)
-- disables the schedule with p_error. False when another scheduler got
-- there first.
CREATE FUNCTION core.schedule_fire(p_id bigint, p_fire boolean, p_next double precision,
                                   p_error text, p_max_attempts integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    s core.job_schedules;
BEGIN
    SELECT * INTO s FROM core.job_schedules
     WHERE id = p_id AND enabled
       AND CASE WHEN p_fire THEN next_run_at <= now() ELSE next_run_at IS NULL END
       FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_next IS NULL THEN
        UPDATE core.job_schedules SET enabled = false, last_error = left(p_error, 500)
         WHERE id = p_id;
        RETURN true;
    END IF;
    UPDATE core.job_schedules
       SET next_run_at = to_timestamp(p_next),
           last_run_at = CASE WHEN p_fire THEN now() ELSE last_run_at END
     WHERE id = p_id;
    IF p_fire THEN
        INSERT INTO core.jobs (name, key, payload, team_id, max_attempts)
        VALUES (s.name, 'cron:' || s.id, s.payload, s.team_id, p_max_attempts)
        ON CONFLICT (team_id, key) WHERE key IS NOT NULL AND status IN ('queued', 'running')
        DO NOTHING;
    END IF;
    RETURN true;
END $$;

-- Seconds until the next queued run of the jobs named or the next schedule
-- is due (NULL: nothing).
CREATE FUNCTION core.job_next_due(p_names text[]) RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT greatest(0, extract(epoch FROM least(
               (SELECT min(run_at) FROM core.jobs
                 WHERE status = 'queued' AND name = ANY (p_names)),
               (SELECT min(coalesce(next_run_at, '-infinity')) FROM core.job_schedules
                 WHERE enabled)) - now()))::double precision $$;

REVOKE ALL ON FUNCTION core.job_enqueue(text, jsonb, text, integer, integer),
    core.job_retry(bigint), core.schedule_add(text, text, text), core.schedule_remove(bigint),
    core.job_register(text, text, text), core.job_reclaim(integer),
    core.job_claim(integer, integer, text[]), core.job_start(bigint, integer),
    core.job_finish(bigint, integer), core.job_fail(bigint, integer, text, integer),
    core.job_progress(bigint, integer, integer, text), core.schedule_due(integer),
    core.schedule_fire(bigint, boolean, double precision, text, integer), core.job_next_due(text[])
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core.job_enqueue(text, jsonb, text, integer, integer),
    core.job_retry(bigint), core.schedule_add(text, text, text), core.schedule_remove(bigint),
    core.job_register(text, text, text), core.job_reclaim(integer),
    core.job_claim(integer, integer, text[]), core.job_start(bigint, integer),
    core.job_finish(bigint, integer), core.job_fail(bigint, integer, text, integer),
    core.job_progress(bigint, integer, integer, text), core.schedule_due(integer),
    core.schedule_fire(bigint, boolean, double precision, text, integer), core.job_next_due(text[])
    TO @app_role@;
GRANT SELECT ON core.jobs, core.job_schedules, core.job_defs TO @app_role@;
