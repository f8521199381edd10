-- Backups hold a dump of the whole installation: operators only, whatever
-- a user's role in any team (core/007_operators.sql).
DROP POLICY backups_admins ON backups.backups;
CREATE POLICY backups_operators ON backups.backups FOR SELECT USING (core.is_operator());
