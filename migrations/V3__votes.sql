-- Votes: one per user and post.
--
-- The primary key is the named unique constraint that makes voting
-- race-free: two concurrent votes by one user on one post cannot both be
-- stored. It also serves "votes of a post" (the vote count) as an
-- index-only scan. Votes go with their post and with their user.
CREATE TABLE votes (
    post_id    bigint      NOT NULL,
    user_id    bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT votes_one_per_user_and_post PRIMARY KEY (post_id, user_id),
    CONSTRAINT votes_post_id_fkey FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT votes_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- A user's votes, for deleting a user (the cascade looks them up by user).
CREATE INDEX votes_user_id_idx ON votes (user_id);
