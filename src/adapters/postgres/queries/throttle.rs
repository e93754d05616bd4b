//! The statements of login throttling (`login_gates`, migration V11):
//! admit an attempt, release a successful one, each alone or inside the
//! statement of the login or password change it belongs to, so that a
//! login or a password change runs two statements in all.
//!
//! An attempt is admitted by one upsert of its gate's row, which
//! PostgreSQL computes from the newest committed version of the row after
//! waiting for it (`ON CONFLICT DO UPDATE` locks the row whatever the
//! statement's snapshot): concurrent attempts through one gate, on any
//! number of instances, are counted one after the other, and none passes
//! a limit. The gate is the address while the per-address limit is on
//! (both counts of an attempt are in that row), else the email and
//! address. Times are the service's clock; the window arithmetic is
//! `ThrottleLimits`' (the start of the window comes in as a parameter).

use super::Sql;
use super::statement::{BYTEA, INET, INT8, TEXT, TIMESTAMPTZ};

/// The gate's `email_sha256` for the attempts of email `$email` when the
/// limit per address is `$addr_limit`: empty (the address's gate) while
/// that limit is on, else the email's own.
macro_rules! gate_key {
    ($email:literal, $addr_limit:literal) => {
        concat!(
            "CASE WHEN ",
            $addr_limit,
            "::bigint > 0 THEN '\\x'::bytea ELSE ",
            $email,
            " END"
        )
    };
}

/// The CTEs `swept` and `gate` of an admission: `$addr` address, `$email`
/// the email's SHA-256 (an expression over `$from`), `$start` start of the
/// window, `$pair`/`$per_addr` the limits (0: off), `$now` now,
/// `$from` the rows an attempt is counted for (one row, or none: nothing
/// counted; nothing either when both limits are off). `gate` answers, once counted, the new attempt's id
/// (`admitted`; null when refused) and the time of the attempt holding
/// each count at its limit (`pair_at`, `addr_at`; null when under it):
/// the attempt is admitted when both are null. `swept` deletes up to 100
/// gates of other addresses whose attempts all left the window (skipping
/// rows another instance holds); a gate's own expired attempts go when it
/// is next counted.
macro_rules! admit_gate {
    ($addr:literal, $email:expr, $start:literal, $pair:literal, $per_addr:literal, $now:literal, $from:literal) => {
        concat!(
            "swept AS (DELETE FROM login_gates WHERE (addr, email_sha256) IN (SELECT addr, email_sha256 ",
            "FROM login_gates WHERE last_at <= ", $start, " AND addr <> ", $addr,
            " ORDER BY last_at LIMIT 100 FOR UPDATE SKIP LOCKED)), ",
            "gate AS (INSERT INTO login_gates AS g (addr, email_sha256, attempts, last_at, admitted) ",
            "SELECT ", $addr, ", ", gate_key!("e.email", $per_addr),
            ", ARRAY[ROW(n.id, ", $now, ", e.email, false)::login_attempt], ", $now, ", n.id ",
            "FROM (SELECT ", $email, " AS email FROM ", $from, ") e, ",
            "(SELECT nextval('login_attempt_ids') AS id) n WHERE ", $pair, "::bigint > 0 OR ",
            $per_addr, "::bigint > 0 ",
            "ON CONFLICT ON CONSTRAINT login_gates_pkey DO UPDATE ",
            "SET (attempts, last_at, admitted, pair_at, addr_at) = (SELECT ",
            "CASE WHEN w.open THEN w.live || excluded.attempts ELSE w.live END, ",
            "CASE WHEN w.open THEN greatest(g.last_at, excluded.last_at) ELSE g.last_at END, ",
            "CASE WHEN w.open THEN excluded.admitted END, w.pair_at, w.addr_at ",
            "FROM (SELECT c.*, c.pair_at IS NULL AND c.addr_at IS NULL AS open FROM (SELECT ",
            "ARRAY(SELECT a FROM unnest(g.attempts) a WHERE a.at > ", $start, ") AS live, ",
            "(SELECT a.at FROM unnest(g.attempts) a WHERE ", $pair, "::bigint > 0 AND a.at > ", $start,
            " AND a.email_sha256 = (excluded.attempts[1]).email_sha256 AND NOT a.pair_cleared ",
            "ORDER BY a.at DESC OFFSET greatest(", $pair, "::bigint - 1, 0) LIMIT 1) AS pair_at, ",
            "(SELECT a.at FROM unnest(g.attempts) a WHERE ", $per_addr, "::bigint > 0 AND a.at > ", $start,
            " ORDER BY a.at DESC OFFSET greatest(", $per_addr, "::bigint - 1, 0) LIMIT 1) AS addr_at",
            ") c) w) ",
            "RETURNING admitted, pair_at, addr_at)"
        )
    };
}

/// The CTE `released` of a release: `$addr` address, `$email` the email's
/// SHA-256, `$attempt` the successful attempt's id (0: none, throttling is
/// off), `$per_addr` the limit per address (it chooses the gate). The
/// attempt stops counting, and the pair's other attempts stop counting
/// for the pair (they still count for the address; in a pair's own gate
/// nothing else counts them, so they go).
macro_rules! release_gate {
    ($addr:literal, $email:literal, $attempt:literal, $per_addr:literal) => {
        concat!(
            "released AS (UPDATE login_gates g SET attempts = ARRAY(SELECT ROW(a.id, a.at, ",
            "a.email_sha256, a.pair_cleared OR a.email_sha256 = ",
            $email,
            ")::login_attempt ",
            "FROM unnest(g.attempts) a WHERE a.id <> ",
            $attempt,
            " AND (",
            $per_addr,
            "::bigint > 0 OR a.email_sha256 <> ",
            $email,
            ")) ",
            "WHERE ",
            $attempt,
            "::bigint > 0 AND g.addr = ",
            $addr,
            " AND g.email_sha256 = ",
            gate_key!($email, $per_addr),
            ")"
        )
    };
}

/// `$1` address, `$2` email's SHA-256, `$3` start of the window, `$4`
/// limit per pair, `$5` limit per address (0: off; not both), `$6` now:
/// counts one login attempt unless a limit is reached ([`admit_gate!`]:
/// `pair_at`, `addr_at`, `admitted`).
pub const ADMIT_LOGIN: Sql = sql! {[INET, BYTEA, TIMESTAMPTZ, INT8, INT8, TIMESTAMPTZ] concat!(
    "WITH ",
    admit_gate!("$1", "$2::bytea", "$3", "$4", "$5", "$6", "(SELECT) AS one"),
    " SELECT pair_at, addr_at, admitted FROM gate"
)};

/// [`ADMIT_LOGIN`] and, in the same statement, the credentials of the
/// user whose email is `$7` (null: not an email): the first of a login's
/// two statements. Always one row; the user's columns and
/// `password_hash` are null when there is no such user, the gate's when
/// throttling is off.
pub const ADMIT_LOGIN_WITH_CREDENTIALS: Sql = sql! {[INET, BYTEA, TIMESTAMPTZ, INT8, INT8, TIMESTAMPTZ, TEXT] concat!(
    "WITH ",
    admit_gate!("$1", "$2::bytea", "$3", "$4", "$5", "$6", "(SELECT) AS one"),
    " SELECT gate.pair_at, gate.addr_at, gate.admitted, ",
    user_columns!("u"),
    ", u.password_hash FROM (SELECT) AS one LEFT JOIN gate ON true LEFT JOIN users u ON u.email = $7"
)};

/// `$1` address, `$2` email's SHA-256, `$3` the successful attempt's id,
/// `$4` limit per address: releases the attempt ([`release_gate!`]).
pub const RELEASE_LOGIN: Sql = sql! {[INET, BYTEA, INT8, INT8] concat!(
    "WITH ",
    release_gate!("$1", "$2::bytea", "$3", "$4"),
    " SELECT 1 AS released"
)};

/// `$1` user id, `$2` session id, `$3` now, `$4` address, `$5` start of the
/// window, `$6` limit per pair, `$7` limit per address: the bearer check
/// of a password change, its attempt counted for the bearer's email (the
/// stored email is folded, so its SHA-256 is `ThrottleKey`'s), and the
/// bearer's `password_hash`: the first of a password change's two
/// statements. No row: the token's session is not active or not the
/// user's (nothing counted).
pub const BEARER_ADMIT_PASSWORD: Sql = sql! {[INT8, INT8, TIMESTAMPTZ, INET, TIMESTAMPTZ, INT8, INT8] concat!(
    "WITH me AS MATERIALIZED (SELECT u.* FROM users u JOIN sessions s ON s.user_id = u.id ",
    "WHERE u.id = $1 AND s.id = $2 AND s.expires_at > $3), ",
    admit_gate!(
        "$4",
        "sha256(convert_to(me.email, 'UTF8'))",
        "$5",
        "$6",
        "$7",
        "$3",
        "me"
    ),
    " SELECT ",
    user_columns!("me"),
    ", me.password_hash, gate.pair_at, gate.addr_at, gate.admitted FROM me LEFT JOIN gate ON true"
)};

/// `$1` user, `$2` password hash, `$3` the session to keep, `$4` address,
/// `$5` the user's email's SHA-256, `$6` the attempt's id, `$7` limit per
/// address: releases the attempt and replaces the hash, ending the user's
/// other sessions ([`super::SET_PASSWORD`] and [`RELEASE_LOGIN`] in one
/// statement); a row when the user exists.
pub const RELEASE_AND_SET_PASSWORD: Sql = sql! {[INT8, TEXT, INT8, INET, BYTEA, INT8, INT8] concat!(
    "WITH ",
    release_gate!("$4", "$5::bytea", "$6", "$7"),
    ", ",
    set_password!()
)};

/// `$1`..`$7` as [`super::START_SESSION`]'s (so that both take the same
/// leading parameters), `$8` address, `$9` email's SHA-256, `$10` the
/// successful attempt's id, `$11` limit per address: releases the attempt
/// and starts the session, the second of a login's two statements (no row:
/// the session was not started, [`start_session!`]).
pub const RELEASE_AND_START_SESSION: Sql = sql! {[INT8, BYTEA, TIMESTAMPTZ, TIMESTAMPTZ, TEXT, INT8, TEXT, INET, BYTEA, INT8, INT8] concat!(
    "WITH ",
    release_gate!("$8", "$9::bytea", "$10", "$11"),
    ", ",
    start_session!("$7")
)};
