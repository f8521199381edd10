-- Test only: a user with a real password, in a new team of their own (as
-- its admin, holding every registered permission) or in a given team at a
-- given level. Lets each test file set up the people it needs, in any
-- order, without going through sign-up (which is open only once).
CREATE FUNCTION testkit.make_user(p_email text, p_name text, p_hash text, p_team uuid,
                                  p_level integer)
RETURNS TABLE (user_id uuid, team_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, core AS $$
DECLARE
    u uuid;
    t uuid := p_team;
    r uuid;
BEGIN
    INSERT INTO core.users (email, display_name, password_hash)
         VALUES (lower(p_email), p_name, p_hash) RETURNING id INTO u;
    IF t IS NULL THEN
        INSERT INTO core.teams (name) VALUES (p_name || '''s team') RETURNING id INTO t;
        INSERT INTO core.roles (team_id, name, level) VALUES (t, 'admin', 100);
        INSERT INTO core.roles (team_id, name, level) VALUES (t, 'member', 10);
        INSERT INTO core.role_permissions
             SELECT ro.id, p.name FROM core.roles ro, core.permissions p
              WHERE ro.team_id = t AND ro.level = 100;
    END IF;
    INSERT INTO core.memberships (team_id, user_id) VALUES (t, u);
    SELECT ro.id INTO r FROM core.roles ro WHERE ro.team_id = t AND ro.level <= p_level
     ORDER BY ro.level DESC LIMIT 1;
    IF r IS NOT NULL THEN
        INSERT INTO core.user_roles VALUES (t, u, r);
    END IF;
    RETURN QUERY SELECT u, t;
END $$;
REVOKE ALL ON FUNCTION testkit.make_user(text, text, text, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION testkit.make_user(text, text, text, uuid, integer) TO @app_role@;
