-- Login throttling in one statement per attempt (issue 12, target 7): the
-- attempts that count live in one row per gate, and an attempt is admitted
-- (or refused) by an upsert of that row. `INSERT ... ON CONFLICT DO UPDATE`
-- waits for the row and computes the new value from its newest committed
-- version, whatever the statement's snapshot: concurrent attempts through
-- one gate, on any number of instances, are counted one after the other,
-- without an advisory lock or a transaction of several statements (which
-- `login_failures` needed: a count over its rows only sees the snapshot).
--
-- The gate is the client address (`email_sha256` empty) while the limit
-- per address is on, so that both counts of an attempt are read from one
-- row; with only the pair limit on, the gate is the email and address.
-- A gate holds the attempts of one window that count, so at most as many
-- as the limit of its gate (refused attempts are not recorded).
--
-- The semantics are those of V5 (API.md, "Login throttling"): an attempt
-- is counted before its password is checked; a success releases it and
-- clears the pair's other attempts (they still count for the address).
-- `login_failures` stays for instances of the previous release during an
-- upgrade; this release neither reads nor writes it.
CREATE TYPE login_attempt AS (
    id           bigint,
    at           timestamptz,
    email_sha256 bytea,
    pair_cleared boolean
);

CREATE SEQUENCE login_attempt_ids;

CREATE TABLE login_gates (
    addr         inet            NOT NULL,
    -- Empty: the address's gate (every email); else the email's SHA-256.
    email_sha256 bytea           NOT NULL,
    -- The attempts that count, oldest first.
    attempts     login_attempt[] NOT NULL,
    -- The newest attempt's time (the service's clock): the sweep's key.
    last_at      timestamptz     NOT NULL,
    -- The last admission's answer, returned by its upsert: the attempt's
    -- id (null when refused), and the time of the attempt holding each
    -- count at its limit (null when under it).
    admitted     bigint,
    pair_at      timestamptz,
    addr_at      timestamptz,
    CONSTRAINT login_gates_pkey PRIMARY KEY (addr, email_sha256)
);

-- The sweep of gates whose attempts all left the window, oldest first.
CREATE INDEX login_gates_last_at_idx ON login_gates (last_at);

COMMENT ON TABLE login_gates IS 'Login attempts that count, one row per address (or email and address); emails as SHA-256.';
