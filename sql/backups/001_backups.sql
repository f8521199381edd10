-- Backups: one row per pg_dump archive in [backups] folder. The host's
-- backup code (src/backup.c) writes every row, connected as the owner role
-- (which dumps and restores, bypassing row-level security); the application
-- role only reads them. Installation-wide, so visible to administrators
-- (level 100) of any team, like core.system_events; routes add their
-- permission.
CREATE SCHEMA backups;

CREATE TABLE backups.backups (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    file text NOT NULL CHECK (file ~ '^[A-Za-z0-9._-]{1,200}$'), -- inside [backups] folder
    size bigint CHECK (size >= 0),
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    error text CHECK (length(error) <= 2000),
    -- Rows per table ("schema.table": n), counted in the dump's snapshot.
    counts jsonb NOT NULL DEFAULT '{}',
    job_id bigint, -- the run that made it (core.jobs), if any
    created_by uuid REFERENCES core.users ON DELETE SET NULL,
    -- The last verification: restored into a scratch database and counted.
    verify_status text CHECK (verify_status IN ('passed', 'failed')),
    verified_at timestamptz,
    verify_result jsonb, -- {tables, rows, mismatches: [{table, expected, found}], error?}
    -- The last restore into a new database.
    restored_at timestamptz,
    restore_result jsonb -- {database, tables, rows, mismatches, ok}
);
CREATE INDEX backups_created ON backups.backups (created_at DESC, id DESC);
ALTER TABLE backups.backups ENABLE ROW LEVEL SECURITY;
ALTER TABLE backups.backups FORCE ROW LEVEL SECURITY;
CREATE POLICY backups_admins ON backups.backups FOR SELECT USING (core.level() >= 100);

GRANT USAGE ON SCHEMA backups TO @app_role@;
GRANT SELECT ON backups.backups TO @app_role@;
