-- Roles, their permissions and assignments: what the application role may
-- change, and the rules that hold whoever changes them.
--
-- sql/core/001 lets the application role read roles, role permissions and
-- assignments of the current team. Here it may also write them, always in
-- the current team (core.tid()) and under the acting user's level
-- (core.level()):
--   * roles strictly below one's own level may be created, edited and
--     deleted (so the admin role, level 100, is edited by nobody);
--   * a role may be granted, or lose, only permissions one holds oneself
--     (a manager cannot mint a role with more power than their own);
--   * roles at or below one's own level may be assigned and unassigned;
--   * the built-in roles 'admin' and 'member' keep their names and exist
--     as long as their team;
--   * a team always keeps at least one active member holding a level-100
--     role: enforced by triggers, so it holds for every caller.
-- Module code gives friendly errors first; these rules are the backstop.

CREATE SCHEMA rbac;
GRANT USAGE ON SCHEMA rbac TO @app_role@;

-- Does the acting user hold p_permission in the current team (through an
-- active membership)? Runs as the caller: it reads only what row-level
-- security shows them.
CREATE FUNCTION rbac.holds(p_permission text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, core AS $$
    SELECT EXISTS (SELECT 1 FROM core.user_roles ur
                     JOIN core.role_permissions rp ON rp.role_id = ur.role_id
                     JOIN core.memberships m ON m.team_id = ur.team_id AND m.user_id = ur.user_id
                    WHERE ur.team_id = core.tid() AND ur.user_id = core.uid()
                      AND m.status = 'active' AND rp.permission = p_permission) $$;

-- Is p_role a role of the current team below the acting user's level
-- (one they may edit), or at most at it (one they may assign)?
CREATE FUNCTION rbac.editable(p_role uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, core AS $$
    SELECT EXISTS (SELECT 1 FROM core.roles r
                    WHERE r.id = p_role AND r.team_id = core.tid() AND r.level < core.level()) $$;

CREATE FUNCTION rbac.assignable(p_role uuid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, core AS $$
    SELECT EXISTS (SELECT 1 FROM core.roles r
                    WHERE r.id = p_role AND r.team_id = core.tid() AND r.level <= core.level()) $$;

-- Roles ----------------------------------------------------------------

CREATE POLICY roles_create ON core.roles FOR INSERT
    WITH CHECK (team_id = core.tid() AND level < core.level());
CREATE POLICY roles_edit ON core.roles FOR UPDATE
    USING (team_id = core.tid() AND level < core.level())
    WITH CHECK (team_id = core.tid() AND level < core.level());
-- Deleting a team removes its roles through the foreign key, which
-- row-level security does not filter; this only stops people.
CREATE POLICY roles_delete ON core.roles FOR DELETE
    USING (team_id = core.tid() AND level < core.level() AND name NOT IN ('admin', 'member'));

-- Built-in roles keep their names: other modules look them up by name
-- (the member role is what an invitation grants).
CREATE FUNCTION rbac.keep_builtin_names() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, core AS $$
BEGIN
    IF OLD.name IN ('admin', 'member') AND NEW.name <> OLD.name THEN
        RAISE EXCEPTION 'the built-in role % keeps its name', OLD.name USING ERRCODE = 'PB010';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER roles_keep_builtin_names BEFORE UPDATE OF name ON core.roles
    FOR EACH ROW EXECUTE FUNCTION rbac.keep_builtin_names();

-- Role permissions -----------------------------------------------------

CREATE POLICY role_permissions_grant ON core.role_permissions FOR INSERT
    WITH CHECK (rbac.editable(role_id) AND rbac.holds(permission));
CREATE POLICY role_permissions_revoke ON core.role_permissions FOR DELETE
    USING (rbac.editable(role_id) AND rbac.holds(permission));

-- Assignments ----------------------------------------------------------

CREATE POLICY user_roles_assign ON core.user_roles FOR INSERT
    WITH CHECK (team_id = core.tid() AND rbac.assignable(role_id));
CREATE POLICY user_roles_unassign ON core.user_roles FOR DELETE
    USING (team_id = core.tid() AND rbac.assignable(role_id));

-- The last administrator -------------------------------------------------

-- After a statement that removed assignments, changed roles or changed
-- memberships: every team where it touched a level-100 role, or a member
-- holding one, and that still exists must keep an active member with a
-- level-100 role. A team being deleted is gone by the time its cascades
-- fire this, so deleting a team stays possible; teams that never had an
-- administrator (fixtures) are not held to it. Runs as the owner so that
-- it counts every row, whoever the caller.
CREATE FUNCTION rbac.keep_an_admin() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    teams uuid[];
BEGIN
    IF TG_TABLE_NAME = 'roles' THEN
        SELECT array_agg(DISTINCT t.team_id) INTO teams FROM touched t WHERE t.level = 100;
    ELSIF TG_TABLE_NAME = 'user_roles' THEN
        SELECT array_agg(DISTINCT t.team_id) INTO teams
          FROM touched t JOIN core.roles r ON r.id = t.role_id WHERE r.level = 100;
    ELSE
        SELECT array_agg(DISTINCT t.team_id) INTO teams
          FROM touched t
          JOIN core.user_roles ur ON ur.team_id = t.team_id AND ur.user_id = t.user_id
          JOIN core.roles r ON r.id = ur.role_id
         WHERE r.level = 100;
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(teams) AS x(team_id)
                WHERE EXISTS (SELECT 1 FROM core.teams WHERE id = x.team_id)
                  AND NOT EXISTS (SELECT 1 FROM core.user_roles ur
                                    JOIN core.roles r ON r.id = ur.role_id
                                    JOIN core.memberships m ON m.team_id = ur.team_id
                                                           AND m.user_id = ur.user_id
                                   WHERE ur.team_id = x.team_id AND r.level = 100
                                     AND m.status = 'active')) THEN
        RAISE EXCEPTION 'a team keeps at least one administrator' USING ERRCODE = 'PB011';
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION rbac.keep_an_admin() FROM PUBLIC;

-- A membership deleted takes its assignments with it, which fires the
-- user_roles trigger; a role deleted fires both (its assignments first).
CREATE TRIGGER user_roles_keep_an_admin_delete AFTER DELETE ON core.user_roles
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION rbac.keep_an_admin();
CREATE TRIGGER user_roles_keep_an_admin_update AFTER UPDATE ON core.user_roles
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION rbac.keep_an_admin();
CREATE TRIGGER roles_keep_an_admin_update AFTER UPDATE ON core.roles
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION rbac.keep_an_admin();
CREATE TRIGGER roles_keep_an_admin_delete AFTER DELETE ON core.roles
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION rbac.keep_an_admin();
CREATE TRIGGER memberships_keep_an_admin_update AFTER UPDATE ON core.memberships
    REFERENCING OLD TABLE AS touched FOR EACH STATEMENT EXECUTE FUNCTION rbac.keep_an_admin();

-- Custom permissions -----------------------------------------------------

-- Registers a permission of module 'custom' and grants it to every
-- level-100 role, as the host does for module permissions at load (admins
-- hold every permission). The registry is shared by all teams, so only a
-- team administrator (level 100) may add to it. Returns false when the
-- name is taken.
CREATE FUNCTION rbac.permission_register(p_name text, p_description text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    IF core.uid() IS NULL OR core.tid() IS NULL OR core.level() < 100 THEN
        RAISE EXCEPTION 'only a team administrator registers permissions' USING ERRCODE = 'PB012';
    END IF;
    INSERT INTO core.permissions (name, description, module)
         VALUES (p_name, coalesce(p_description, ''), 'custom')
    ON CONFLICT (name) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO core.role_permissions (role_id, permission)
         SELECT id, p_name FROM core.roles WHERE level = 100
    ON CONFLICT DO NOTHING;
    RETURN true;
END $$;

REVOKE ALL ON FUNCTION rbac.holds(text), rbac.editable(uuid), rbac.assignable(uuid),
    rbac.permission_register(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rbac.holds(text), rbac.editable(uuid), rbac.assignable(uuid),
    rbac.permission_register(text, text) TO @app_role@;

GRANT INSERT, DELETE ON core.roles, core.role_permissions, core.user_roles TO @app_role@;
GRANT UPDATE (name, level, description) ON core.roles TO @app_role@;
