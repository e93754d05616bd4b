-- Posts, with drafts (published = false) that only their owner and admins see.
--
-- A user's posts go with the user (ON DELETE CASCADE).
CREATE TABLE posts (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    owner_id    bigint      NOT NULL,
    title       text        NOT NULL,
    -- The title folded to lower case by the service (Rust's to_lowercase),
    -- so that search matches exactly what the in-memory store matches,
    -- whatever the database's collation and ctype. Search is a LIKE on it.
    title_lower text        NOT NULL,
    content     text        NOT NULL,
    published   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT posts_pkey PRIMARY KEY (id),
    CONSTRAINT posts_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT posts_title_length CHECK (char_length(title) BETWEEN 1 AND 300),
    CONSTRAINT posts_content_length CHECK (char_length(content) BETWEEN 1 AND 50000)
);

-- Newest-first pages. Everyone sees published posts: walk this partial
-- index backwards from the newest id.
CREATE INDEX posts_published_id_idx ON posts (id DESC) WHERE published;

-- A viewer's own drafts, newest first (merged with the index above by the
-- list query), and the foreign key's index for deleting a user's posts.
CREATE INDEX posts_owner_id_id_idx ON posts (owner_id, id DESC);

-- Substring search on titles: LIKE '%...%' on title_lower uses a trigram
-- index. pg_trgm is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX posts_title_lower_trgm_idx ON posts USING gin (title_lower gin_trgm_ops);
