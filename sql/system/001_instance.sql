-- The installation itself: one row written when the schema is created.
-- /healthz reads it, which proves the database answers, is migrated, and
-- grants the application role what it needs.
CREATE SCHEMA system;

CREATE TABLE system.instance (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    installed_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO system.instance DEFAULT VALUES;

GRANT USAGE ON SCHEMA system TO @app_role@;
GRANT SELECT ON system.instance TO @app_role@;
