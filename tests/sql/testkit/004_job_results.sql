-- What testkit's jobs write (test stack only): one row per committed run,
-- with the identity and the request-only values a run sees, so the tests
-- can count results and check who a run acted as.
CREATE TABLE testkit.job_results (
    id bigserial PRIMARY KEY,
    job_id bigint NOT NULL,
    tag text,
    user_id uuid,
    team_id uuid,
    level integer,
    ip text,
    agent text,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE testkit.job_results ENABLE ROW LEVEL SECURITY;
ALTER TABLE testkit.job_results FORCE ROW LEVEL SECURITY;
CREATE POLICY job_results_team ON testkit.job_results
    USING (team_id IS NOT DISTINCT FROM core.tid())
    WITH CHECK (team_id IS NOT DISTINCT FROM core.tid());
GRANT SELECT, INSERT ON testkit.job_results TO @app_role@;
GRANT USAGE ON SEQUENCE testkit.job_results_id_seq TO @app_role@;
