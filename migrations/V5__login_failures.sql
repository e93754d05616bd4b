-- Failed logins, for login throttling (API.md, "Login throttling"): with
-- the counters here, every instance on this database enforces one limit.
--
-- One row per failed login: from which address, for which email, when.
-- The limits and the window are settings (LOGIN_MAX_FAILURES,
-- LOGIN_MAX_FAILURES_PER_ADDR, LOGIN_WINDOW_SECONDS), not schema: the
-- queries take them as parameters and count the rows inside the window.
-- Instances sharing a database should share those settings.
--
-- The email is kept only as the SHA-256 of the text as typed (trimmed and
-- lower-cased): counting needs equality only, and a password typed into the
-- email field never lands here in clear.
--
-- A successful login sets pair_cleared on the rows of its email and
-- address: they stop counting for that pair but still count for the
-- address (a success clears the pair, not the address).
--
-- A row is needed only for one window: each recorded failure deletes up to
-- 100 expired rows (skipping rows another instance is deleting), so the
-- table stays about as small as the failures of the last window.
CREATE TABLE login_failures (
    id           bigint      GENERATED ALWAYS AS IDENTITY,
    addr         inet        NOT NULL,
    email_sha256 bytea       NOT NULL,
    -- The service's clock, not the database's: all instances and the
    -- tests' manual clock agree on it.
    failed_at    timestamptz NOT NULL,
    pair_cleared boolean     NOT NULL DEFAULT false,
    CONSTRAINT login_failures_pkey PRIMARY KEY (id),
    CONSTRAINT login_failures_email_sha256_length CHECK (octet_length(email_sha256) = 32)
);

-- The failures of an email from an address that still count, newest first.
CREATE INDEX login_failures_pair_idx ON login_failures (addr, email_sha256, failed_at)
    WHERE NOT pair_cleared;

-- The failures from an address, newest first.
CREATE INDEX login_failures_addr_idx ON login_failures (addr, failed_at);

-- The clean-up of expired rows, oldest first.
CREATE INDEX login_failures_failed_at_idx ON login_failures (failed_at);

COMMENT ON TABLE login_failures IS 'Failed logins within the throttling window; emails as SHA-256.';
