-- The drafts of each owner, for the drafts branch of a page (API.md,
-- "Paging": every page costs about the same whatever the number of posts,
-- their owners and how many are drafts). A viewer's page merges the
-- published posts (posts_published_id_idx) with the viewer's own drafts;
-- through posts_owner_id_id_idx that branch walked all of the viewer's
-- posts filtering out the published ones, so an author of 600,000 published
-- posts paid for all of them on every page. This partial index holds only
-- drafts, so the branch reads at most a page of them.
CREATE INDEX posts_drafts_idx ON posts (owner_id, id DESC) WHERE NOT published;
