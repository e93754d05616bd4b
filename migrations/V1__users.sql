-- Users and their credentials.
--
-- Ids come from an identity column: assigned by the database, never reused
-- (a deleted user's id stays burnt, so old tokens can never name a new user).
-- The service stores emails trimmed and lower-cased (domain::EmailAddress),
-- so a plain unique constraint on the column is the case-insensitive
-- "one account per email" rule. Its name, users_email_key, is what the
-- adapter maps SQLSTATE 23505 to "email taken" (409) by.
CREATE TABLE users (
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    email         text        NOT NULL,
    -- bcrypt's "$2b$..." string; never returned by any query but the login one.
    password_hash text        NOT NULL,
    role          text        NOT NULL DEFAULT 'user',
    -- Microseconds, like the service's clock.
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_not_empty CHECK (email <> ''),
    CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'))
);

COMMENT ON TABLE users IS 'Registered users; emails are stored trimmed and lower-cased.';
