-- A table for the testkit module's transaction tests (test stack only).
CREATE SCHEMA testkit;

CREATE TABLE testkit.notes (
    id bigserial PRIMARY KEY,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

GRANT USAGE ON SCHEMA testkit TO @app_role@;
GRANT SELECT, INSERT, DELETE ON testkit.notes TO @app_role@;
GRANT USAGE ON SEQUENCE testkit.notes_id_seq TO @app_role@;
