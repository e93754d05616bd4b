//! The statements of sessions: start, refresh (rotation and reuse),
//! list, end, and the password change that ends the other sessions.

use super::Sql;
use super::statement::{BYTEA, INT8, TEXT, TIMESTAMPTZ};

/// The columns of a session over table `$t`, named as `rows::session`
/// reads them.
macro_rules! session_columns {
    ($t:literal) => {
        concat!(
            $t,
            ".id AS session_id, ",
            $t,
            ".user_id AS session_user_id, ",
            $t,
            ".created_at AS session_created_at, ",
            $t,
            ".last_used_at AS session_last_used_at, ",
            $t,
            ".expires_at AS session_expires_at, ",
            $t,
            ".user_agent AS session_user_agent"
        )
    };
}

/// The CTEs and answer of `START_SESSION`, after a `WITH` (a login's second
/// statement starts with its release); `$verified` is the parameter of the
/// password hash the login verified (null: any). The session is inserted
/// from the user's row, locked `FOR SHARE`, only while that hash is still
/// theirs: a password change that got the row first makes this statement
/// wait and then find the new hash (no session); one that comes after
/// waits for this one. No row: the user is gone or their hash changed.
macro_rules! start_session {
    ($verified:literal) => { concat!(
    "swept AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions ",
    "WHERE expires_at <= $3 ORDER BY expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)), ",
    "crowded AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE user_id = $1 ",
    "ORDER BY last_used_at DESC, id DESC OFFSET greatest($6::bigint - 1, 0))), ",
    "s AS (INSERT INTO sessions (user_id, created_at, last_used_at, expires_at, user_agent) ",
    "SELECT id, $3, $3, $4, $5 FROM users WHERE id = $1 AND (", $verified, "::text IS NULL OR password_hash = ",
    $verified, ") FOR SHARE RETURNING *), ",
    "t AS (INSERT INTO refresh_tokens (token_sha256, session_id, expires_at) SELECT $2, id, $4 FROM s) ",
    "SELECT ",
    session_columns!("s"),
    " FROM s"
    ) };
}

/// `$1` user, `$2` the first refresh token's SHA-256, `$3` now, `$4` its
/// expiry, `$5` user agent, `$6` sessions a user keeps, `$7` the verified
/// password hash (null: any): starts a session ([`start_session!`]; no
/// row: not started). Also sweeps up to 100 expired sessions (skipping
/// rows another instance holds) and the user's least recently used
/// sessions beyond the cap.
pub const START_SESSION: Sql = sql! {[INT8, BYTEA, TIMESTAMPTZ, TIMESTAMPTZ, TEXT, INT8, TEXT] concat!(
    "WITH ",
    start_session!("$7")
)};

/// `$1` presented refresh token's SHA-256, `$2` the next one's, `$3` now,
/// `$4` the next one's expiry: spends the presented token if it is its
/// active session's current one, stores the next, and moves the session's
/// `last_used_at` and expiry; answers the session and its user (no row:
/// not rotated). Of concurrent calls with one token exactly one spends it:
/// the others wait on its row and then find it spent. Keeps the session's
/// newest 64 spent tokens.
pub const ROTATE_REFRESH: Sql = sql! {[BYTEA, BYTEA, TIMESTAMPTZ, TIMESTAMPTZ] concat!(
    "WITH spent AS (UPDATE refresh_tokens t SET spent_at = $3 FROM sessions s ",
    "WHERE t.token_sha256 = $1 AND t.spent_at IS NULL AND t.expires_at > $3 ",
    "AND s.id = t.session_id AND s.expires_at > $3 RETURNING t.session_id), ",
    "fresh AS (INSERT INTO refresh_tokens (token_sha256, session_id, expires_at) ",
    "SELECT $2, session_id, $4 FROM spent RETURNING session_id), ",
    "trimmed AS (DELETE FROM refresh_tokens WHERE token_sha256 IN (SELECT r.token_sha256 ",
    "FROM refresh_tokens r JOIN spent ON r.session_id = spent.session_id ",
    "WHERE r.spent_at IS NOT NULL ORDER BY r.spent_at DESC OFFSET 63)), ",
    "touched AS (UPDATE sessions s SET last_used_at = $3, expires_at = $4 FROM fresh ",
    "WHERE s.id = fresh.session_id RETURNING s.*) ",
    "SELECT ",
    session_columns!("s"),
    ", ",
    user_columns!("u"),
    " FROM touched s JOIN users u ON u.id = s.user_id"
)};

/// `$1` a refresh token's SHA-256 that did not rotate: if it was spent,
/// its session ends (reuse is theft).
pub const END_REUSED: Sql = sql! {[BYTEA] "DELETE FROM sessions s USING refresh_tokens t \
WHERE t.token_sha256 = $1 AND t.spent_at IS NOT NULL AND s.id = t.session_id"};

/// `$1` user, `$2` now: the user's active sessions, newest first.
pub const LIST_SESSIONS: Sql = sql! {[INT8, TIMESTAMPTZ] concat!(
    "SELECT ",
    session_columns!("s"),
    " FROM sessions s WHERE s.user_id = $1 AND s.expires_at > $2 ORDER BY s.id DESC"
)};

/// `$1` session, `$2` user, `$3` now: ends the session if it is the user's
/// and active.
pub const END_SESSION: Sql = sql! {[INT8, INT8, TIMESTAMPTZ]
"DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND expires_at > $3"};

/// `$1` user, `$2` a session to keep (or NULL): ends the user's others.
pub const END_SESSIONS: Sql = sql! {[INT8, INT8]
"DELETE FROM sessions WHERE user_id = $1 AND ($2::bigint IS NULL OR id <> $2)"};

/// The CTE and answer of `SET_PASSWORD`, after a `WITH` (a password
/// change's second statement starts with its release). The other sessions
/// end in `end_other_sessions` (migration V13), called once the UPDATE
/// holds the user's row: a login that held it `FOR SHARE` has committed
/// its session by then, and the function's fresh snapshot sees it, where
/// a `DELETE` in this statement's snapshot would not.
macro_rules! set_password {
    () => {
        concat!(
            "changed AS (UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING id) ",
            "SELECT id, end_other_sessions(id, $3) AS ended FROM changed"
        )
    };
}

/// `$1` user, `$2` password hash, `$3` the session to keep: replaces the
/// hash and ends the user's other sessions in one statement; a row when
/// the user exists.
pub const SET_PASSWORD: Sql = sql! {[INT8, TEXT, INT8] concat!("WITH ", set_password!())};
