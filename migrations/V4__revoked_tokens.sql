-- Revoked access tokens (logout), by their unique id (the JWT's jti).
--
-- A row is needed only until the token expires: after that the token fails
-- verification anyway. Each revocation deletes the rows already expired,
-- so the table stays as small as the number of live, revoked tokens.
-- Rows go with their user (a deleted user's tokens fail anyway).
CREATE TABLE revoked_tokens (
    jti        text        NOT NULL,
    user_id    bigint      NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT revoked_tokens_pkey PRIMARY KEY (jti),
    CONSTRAINT revoked_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

-- The clean-up of expired rows.
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);

-- The foreign key's index, for deleting a user.
CREATE INDEX revoked_tokens_user_id_idx ON revoked_tokens (user_id);
