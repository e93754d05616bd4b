-- Title search costs about the same whatever was just inserted (API.md,
-- "Paging"; issue 12): with GIN's fast update on (the default), new
-- titles' trigrams wait in a pending list that every search reads in
-- full until VACUUM or a full list merges it, so after a bulk load of
-- 1,000,000 posts a search for a term no title holds read 445 pages of
-- pending entries (about 15 ms instead of a few index pages). Entries now
-- go into the index as each post is written: an insert pays for its own
-- title's trigrams instead of an occasional insert merging 4 MB of them.
ALTER INDEX posts_title_lower_trgm_idx SET (fastupdate = off);

-- What is already pending moves into the index now.
SELECT gin_clean_pending_list('posts_title_lower_trgm_idx'::regclass);
