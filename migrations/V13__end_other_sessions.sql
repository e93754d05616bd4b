-- A password change ends the user's other sessions in the statement that
-- replaces the hash. As a CTE of that statement the DELETE read the
-- statement's snapshot, taken before its UPDATE waited for a login that
-- held the user's row FOR SHARE: the session that login inserted was
-- invisible to it and outlived the change. A VOLATILE PL/pgSQL function
-- takes a fresh snapshot for each of its statements (READ COMMITTED), so,
-- called once the UPDATE has the row, its DELETE sees every session
-- committed by then.
CREATE FUNCTION end_other_sessions(who bigint, keep bigint)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    ended bigint;
BEGIN
    DELETE FROM sessions WHERE user_id = who AND id IS DISTINCT FROM keep;
    GET DIAGNOSTICS ended = ROW_COUNT;
    RETURN ended;
END
$$;
