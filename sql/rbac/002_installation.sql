-- The resource "system" is the installation's (core/007_operators.sql):
-- a team administrator cannot register a permission on it.
CREATE OR REPLACE FUNCTION rbac.permission_register(p_name text, p_description text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, core AS $$
BEGIN
    IF core.uid() IS NULL OR core.tid() IS NULL OR core.level() < 100 THEN
        RAISE EXCEPTION 'only a team administrator registers permissions' USING ERRCODE = 'PB012';
    END IF;
    IF p_name LIKE 'system:%' THEN
        RAISE EXCEPTION 'system: permissions are the installation''s' USING ERRCODE = 'PB012';
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
