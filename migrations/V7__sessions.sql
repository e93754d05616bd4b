-- Sessions (API.md, "Sessions and accounts"): a password login starts one,
-- its access tokens name it (the `sid` claim), and it stays active while it
-- exists and its current refresh token has not expired. Ending a session
-- deletes its row: tokens naming a missing session do not verify. So
-- sessions replace per-token revocation, and revoked_tokens goes.
--
-- Nothing grows without bound: ended sessions are deleted at once,
-- expired ones are swept as sessions start, a user keeps at most 100 (the
-- least recently used go first), and each session keeps its latest 64
-- spent refresh tokens for reuse detection.
CREATE TABLE sessions (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    user_id      bigint      NOT NULL,
    created_at   timestamptz NOT NULL,
    -- The login or the latest refresh.
    last_used_at timestamptz NOT NULL,
    -- When the current refresh token expires, and with it the session.
    expires_at   timestamptz NOT NULL,
    -- The login's User-Agent, cut to 256 characters.
    user_agent   text,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT sessions_user_agent_length CHECK (char_length(user_agent) <= 256)
);

-- A user's sessions (listing, logout everywhere, the per-user cap), and the
-- foreign key's index for deleting a user.
CREATE INDEX sessions_user_id_idx ON sessions (user_id, last_used_at);

-- The sweep of expired sessions.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Refresh tokens, only as their SHA-256: the current one of each session
-- (spent_at NULL) and the spent ones kept to detect reuse (theft).
CREATE TABLE refresh_tokens (
    token_sha256 bytea       NOT NULL,
    session_id   bigint      NOT NULL,
    expires_at   timestamptz NOT NULL,
    spent_at     timestamptz,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (token_sha256),
    CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE,
    CONSTRAINT refresh_tokens_sha256_length CHECK (octet_length(token_sha256) = 32)
);

-- A session's tokens, newest spent first (trimming), and the foreign key's
-- index for ending a session.
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id, spent_at);

-- Access tokens issued before sessions carry no `sid` and stop verifying:
-- their holders log in again. Users, posts and votes are kept.
DROP TABLE revoked_tokens;

COMMENT ON TABLE sessions IS 'Active sessions: a login and its refreshes.';
COMMENT ON TABLE refresh_tokens IS 'Refresh tokens as SHA-256: the current one per session and recent spent ones.';
