-- "Nothing due" is NULL again. The first versions returned
-- greatest(0, <NULL>), and greatest ignores NULL: with an empty outbox or
-- queue they answered 0 ("due now"), so the mailer and the scheduler woke
-- every millisecond, about 3,100 transactions a second on an idle stack.
-- The callers sleep until a NOTIFY (or their longest sleep) on NULL.
-- Replaced in place: the grants of 003 and 004 stay.

-- Seconds until the next pending message is due, 0 when one is due now;
-- NULL when nothing is pending.
CREATE OR REPLACE FUNCTION core.mail_next_due() RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT CASE WHEN d IS NULL THEN NULL
                WHEN d <= now() THEN 0
                ELSE extract(epoch FROM d - now()) END::double precision
      FROM (SELECT min(next_attempt_at) AS d FROM core.outbox WHERE status = 'pending') n $$;

-- Seconds until the next queued run of the jobs named or the next schedule
-- is due, 0 when one is due now (a schedule not yet planned counts as due);
-- NULL when nothing is queued or scheduled.
CREATE OR REPLACE FUNCTION core.job_next_due(p_names text[]) RETURNS double precision
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
    SELECT CASE WHEN d IS NULL THEN NULL
                WHEN d <= now() THEN 0
                ELSE extract(epoch FROM d - now()) END::double precision
      FROM (SELECT least(
                (SELECT min(run_at) FROM core.jobs
                  WHERE status = 'queued' AND name = ANY (p_names)),
                (SELECT min(coalesce(next_run_at, '-infinity')) FROM core.job_schedules
                  WHERE enabled)) AS d) n $$;
