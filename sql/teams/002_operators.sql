-- How people who were not invited get in is the installation's choice,
-- so operators make it (it was the first team's administrators).
DROP POLICY settings_admin ON teams.settings;
CREATE POLICY settings_operators ON teams.settings FOR UPDATE
    USING (core.is_operator()) WITH CHECK (core.is_operator());
