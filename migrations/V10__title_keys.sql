-- Title search whose cost does not depend on how common the term's pieces
-- are (API.md, "Paging"; issue 12). The trigram index answered a term
-- whose every trigram is in most titles ("Seeded post number 777778") by
-- decoding those trigrams' posting lists whole: 30 to 80 ms at 1,000,000
-- posts, whatever the plan. This index replaces it.
--
-- Its keys are hashes of a title's 3- and 5-character pieces (of the
-- folded title_lower, by characters), salted with two things the page
-- query needs to cut the work short:
--
-- * the post's block of ids (id >> 18, 262,144 ids a block), so that a
--   search can ask the index block by block, newest first, and stop at
--   the first block that fills the page, instead of fetching every
--   candidate of the whole table;
-- * who may see the post: published posts are keyed once ("everyone"),
--   drafts twice ("any draft", for admins, and "the drafts of owner N",
--   for N), so that a reader's search never fetches the drafts of others
--   (400,000 drafts of one user are otherwise 400,000 candidates).
--
-- A search asks for at most four 5-character pieces of the term spread
-- over it (or its 3-character pieces when it has 3 or 4 characters): a
-- 5-character piece is rare where a trigram is common (`77778` is in 20
-- of the 1,000,000 titles, `777` in 4,000), and few keys keep the scan
-- short. The keys only select candidates: each candidate's title, its
-- visibility and the cursor are checked on the row, so a hash collision
-- costs time, never a wrong answer. Terms of 1 or 2 characters have no
-- keys and are searched by a newest-first walk, as before.
--
-- The statements: queries::LIST_VISIBLE_SEARCH_KEYED and
-- queries::LIST_ALL_SEARCH_KEYED.

-- The salt of a block and a class: 0 for published posts, -1 for any
-- draft, an owner's id for that owner's drafts (ids are positive).
CREATE FUNCTION post_key_seed(block bigint, class bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN hashtextextended(block::text || '/' || class::text, 0);

-- A post's keys. PARALLEL UNSAFE keeps the search statements, which name
-- it to use the index, out of parallel plans: a worker pool for a scan of
-- a few blocks costs more than the scan.
CREATE FUNCTION post_title_keys(id bigint, owner_id bigint, published boolean, title_lower text)
    RETURNS bigint[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL UNSAFE
    RETURN (
        SELECT coalesce(array_agg(DISTINCT hashtextextended(substr(title_lower, i, n), seed)), '{}')
        FROM unnest(CASE WHEN published THEN ARRAY[post_key_seed(id >> 18, 0)]
                         ELSE ARRAY[post_key_seed(id >> 18, -1), post_key_seed(id >> 18, owner_id)]
                    END) AS seed,
             (VALUES (3), (5)) AS g (n),
             generate_series(1, char_length(title_lower) - n + 1) AS i
    );

-- Built with more memory than the default 64 MB: about two minutes at
-- 1,000,000 posts on two cores instead of several.
SET LOCAL maintenance_work_mem = '256MB';

-- Entries go into the index as each post is written (see V9).
CREATE INDEX posts_title_keys_idx ON posts
    USING gin (post_title_keys(id, owner_id, published, title_lower))
    WITH (fastupdate = off);

DROP INDEX posts_title_lower_trgm_idx;
