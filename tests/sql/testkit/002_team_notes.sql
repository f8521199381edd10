-- Team-scoped rows for the isolation tests: the policy, not the handler,
-- keeps each team to its own rows (testkit's /test/team-notes forgets its
-- WHERE on purpose).
CREATE TABLE testkit.team_notes (
    id bigserial PRIMARY KEY,
    team_id uuid NOT NULL,
    body text NOT NULL
);
ALTER TABLE testkit.team_notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE testkit.team_notes FORCE ROW LEVEL SECURITY;
CREATE POLICY team_notes_team ON testkit.team_notes USING (team_id = core.tid())
    WITH CHECK (team_id = core.tid());
GRANT SELECT, INSERT ON testkit.team_notes TO @app_role@;
GRANT USAGE ON SEQUENCE testkit.team_notes_id_seq TO @app_role@;
