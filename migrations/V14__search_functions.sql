-- The keyed title search (V10) as two PL/pgSQL functions, so that its
-- plan is made once per connection instead of at every request.
--
-- Sent as one statement with its values (queries::LIST_*_SEARCH_KEYED up
-- to V12), the search was planned at every request: the statement is
-- large (a walk, a CTE per step, a lateral index scan per block), and
-- parsing and planning it cost about three times what running it did
-- (pgbench, one client, 1,000 posts: 800-1,000 µs of backend CPU per
-- search, against about 240 µs for the same text prepared on a generic
-- plan). A prepared statement is no answer behind a transaction pooler,
-- where the service sends every statement unnamed; a PL/pgSQL function
-- keeps the plans of its queries in the server connection, whoever
-- borrows it, so both ways of connecting gain.
--
-- Each function returns the ids of at most `reach` posts matching the
-- folded `term`, newest first, below the cursor `before` (NULL for none),
-- by the same steps as before (see queries::keyed_search!):
--
-- 1. `walked`: the newest 200 posts the viewer may see below the cursor,
--    and `hits`, those whose title holds the term: a common term stops
--    here.
-- 2. Only when the hits fall short of `reach`: below the oldest post
--    walked (`edge`), block by block of ids (id >> 18), newest first, the
--    title index's candidates for the term's `pieces` salted with the
--    block and each key class the viewer may see, checked on the row.
--
-- The plan is generic (`plan_cache_mode = force_generic_plan`): its shape
-- does not depend on the values (the keys asked depend on the block,
-- which no plan knows in advance, so even the custom plan never had a
-- constant to estimate), and a custom plan would be made at every call
-- again (the planner's cost of the generic plan is no lower than a custom
-- one's, so `auto` would keep planning). Its estimated cost is large (a
-- nested loop over a series of unknown length): `jit = off`, or it would
-- be compiled (820 ms measured for the statement's generic plan); no
-- parallel workers (post_title_keys is PARALLEL UNSAFE).
--
-- The cursor is written `id <= coalesce(before - 1, max)` rather than
-- `(before IS NULL OR id < before)`: in a generic plan only the former is
-- an index condition (ids are positive, so `before - 1` cannot overflow).

-- Published posts and `viewer`'s drafts: the walk merges the two partial
-- indexes newest first (`posts_published_id_idx`, `posts_drafts_idx`, the
-- owner as a range so that the drafts' index yields the order), the keys
-- asked are those of published posts (class 0) and of the viewer's drafts
-- (class `viewer`), so the drafts of others are never candidates.
CREATE FUNCTION post_search_visible(viewer bigint, term text, pieces text[], before bigint, reach bigint)
    RETURNS TABLE (id bigint)
    LANGUAGE plpgsql STABLE PARALLEL UNSAFE ROWS 10
    SET jit = off
    SET plan_cache_mode = force_generic_plan
    AS $$
BEGIN
    RETURN QUERY
    WITH walked AS MATERIALIZED (
        (SELECT p.id, p.title_lower FROM posts p
         WHERE p.published AND p.id <= coalesce(before - 1, 9223372036854775807)
         ORDER BY p.id DESC LIMIT 200)
        UNION ALL
        (SELECT p.id, p.title_lower FROM posts p
         WHERE p.owner_id >= viewer AND p.owner_id <= viewer AND NOT p.published
           AND p.id <= coalesce(before - 1, 9223372036854775807)
         ORDER BY p.owner_id, p.id DESC LIMIT 200)
        ORDER BY 1 DESC LIMIT 200),
    hits AS MATERIALIZED (SELECT w.id FROM walked w WHERE strpos(w.title_lower, term) > 0 LIMIT reach),
    -- The oldest post walked, if the walk was full.
    edge AS MATERIALIZED (SELECT w.id FROM walked w OFFSET 200 - 1 LIMIT 1),
    far AS (
        SELECT f.id FROM generate_series((SELECT e.id FROM edge e) >> 18, 0, -1) AS b
        CROSS JOIN LATERAL (
            -- The index condition alone (OFFSET 0): with the visibility
            -- or the cursor beside it, the planner ANDed the index with a
            -- bitmap of every published post.
            SELECT c.id FROM (
                SELECT p.id, p.owner_id, p.published, p.title_lower FROM posts p
                WHERE post_title_keys(p.id, p.owner_id, p.published, p.title_lower)
                          @> ARRAY(SELECT hashtextextended(g, post_key_seed(b, 0)) FROM unnest(pieces) AS g)
                   OR post_title_keys(p.id, p.owner_id, p.published, p.title_lower)
                          @> ARRAY(SELECT hashtextextended(g, post_key_seed(b, viewer)) FROM unnest(pieces) AS g)
                OFFSET 0) AS c
            WHERE c.id < (SELECT e.id FROM edge e) AND strpos(c.title_lower, term) > 0
              AND (c.published OR c.owner_id = viewer)
            ORDER BY c.id DESC) AS f
        WHERE (SELECT count(*) FROM hits) < reach
        LIMIT reach)
    SELECT h.id FROM hits h UNION ALL SELECT f.id FROM far f ORDER BY 1 DESC LIMIT reach;
END
$$;

-- Every post (admins): the walk is the primary key's, the keys asked are
-- those of published posts (class 0) and of any draft (class -1).
CREATE FUNCTION post_search_all(term text, pieces text[], before bigint, reach bigint)
    RETURNS TABLE (id bigint)
    LANGUAGE plpgsql STABLE PARALLEL UNSAFE ROWS 10
    SET jit = off
    SET plan_cache_mode = force_generic_plan
    AS $$
BEGIN
    RETURN QUERY
    WITH walked AS MATERIALIZED (
        SELECT p.id, p.title_lower FROM posts p
        WHERE p.id <= coalesce(before - 1, 9223372036854775807)
        ORDER BY p.id DESC LIMIT 200),
    hits AS MATERIALIZED (SELECT w.id FROM walked w WHERE strpos(w.title_lower, term) > 0 LIMIT reach),
    edge AS MATERIALIZED (SELECT w.id FROM walked w OFFSET 200 - 1 LIMIT 1),
    far AS (
        SELECT f.id FROM generate_series((SELECT e.id FROM edge e) >> 18, 0, -1) AS b
        CROSS JOIN LATERAL (
            SELECT c.id FROM (
                SELECT p.id, p.title_lower FROM posts p
                WHERE post_title_keys(p.id, p.owner_id, p.published, p.title_lower)
                          @> ARRAY(SELECT hashtextextended(g, post_key_seed(b, 0)) FROM unnest(pieces) AS g)
                   OR post_title_keys(p.id, p.owner_id, p.published, p.title_lower)
                          @> ARRAY(SELECT hashtextextended(g, post_key_seed(b, -1)) FROM unnest(pieces) AS g)
                OFFSET 0) AS c
            WHERE c.id < (SELECT e.id FROM edge e) AND strpos(c.title_lower, term) > 0
            ORDER BY c.id DESC) AS f
        WHERE (SELECT count(*) FROM hits) < reach
        LIMIT reach)
    SELECT h.id FROM hits h UNION ALL SELECT f.id FROM far f ORDER BY 1 DESC LIMIT reach;
END
$$;
