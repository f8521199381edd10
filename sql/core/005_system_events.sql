-- What the process group does that operators must hear about: modules
-- quarantined, generations rolled back, reloads refused. Written by the
-- master (as the owner); read by administrators' pages and, later, alerts.
CREATE TABLE core.system_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind ~ '^[a-z][a-z_.]{0,63}$'),
    module text,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX system_events_at ON core.system_events (at DESC);
ALTER TABLE core.system_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE core.system_events FORCE ROW LEVEL SECURITY;

-- Installation-wide, so visible to administrators (level 100) of any team;
-- routes add their permission.
CREATE POLICY system_events_admins ON core.system_events FOR SELECT
    USING (core.level() >= 100);
GRANT SELECT ON core.system_events TO @app_role@;
