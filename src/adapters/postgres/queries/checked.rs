//! The checked changes: each answers an authenticated request's work in
//! one statement that carries its own permission check and says what it
//! did (an `outcome` column), so the service needs nothing else but the
//! bearer's statement, and never reads back after a write.
//!
//! The rules live in `domain::policy`; these statements mirror them, each
//! naming the function it mirrors (the property tests and
//! `tests/postgres_equivalence.rs` check that both stores agree). The
//! actor's id and whether they are an admin come from the bearer's
//! statement of the same request.
//!
//! Race-freedom under READ COMMITTED: the permission sits in the `WHERE`
//! of the write, which PostgreSQL re-checks on the newest version of the
//! row it waits for; a post's owner never changes, so an allowed actor
//! stays allowed, and a post deleted meanwhile is simply not changed.
//! Why nothing changed is read from the statement's snapshot.

use super::Sql;
use super::statement::{BOOL, INT8, TEXT, TIMESTAMPTZ};

/// `policy::can_view_post` over posts `$t`, actor `$actor`, the actor
/// being an admin `$admin` (`Visibility::allows`: everything for admins,
/// else published posts and the actor's own).
macro_rules! can_view_post {
    ($t:literal, $actor:literal, $admin:literal) => {
        concat!(
            "(",
            $admin,
            " OR ",
            $t,
            ".published OR ",
            $t,
            ".owner_id = ",
            $actor,
            ")"
        )
    };
}

/// `policy::can_change_post` over posts `$t`: the owner or an admin.
macro_rules! can_change_post {
    ($t:literal, $actor:literal, $admin:literal) => {
        concat!("(", $admin, " OR ", $t, ".owner_id = ", $actor, ")")
    };
}

/// The `outcome` of a checked change of post `$1` (`changed`: the CTE of
/// changed rows) as the API orders it: `done`; `forbidden` when the actor
/// sees the post but may not change it; otherwise `not_found` (missing,
/// invisible, or deleted meanwhile). `seen` is the post in the snapshot.
macro_rules! change_outcome {
    ($actor:literal, $admin:literal) => {
        concat!(
            "CASE WHEN EXISTS (SELECT 1 FROM changed) THEN 'done' ",
            "WHEN seen.id IS NOT NULL AND ",
            can_view_post!("seen", $actor, $admin),
            " AND NOT ",
            can_change_post!("seen", $actor, $admin),
            " THEN 'forbidden' ELSE 'not_found' END AS outcome"
        )
    };
}

/// `$1` id, `$2` title, `$3` title folded, `$4` content, `$5` published,
/// `$6` actor, `$7` whether the actor is an admin: replaces the post if
/// `policy::can_change_post` allows (with `policy::can_view_post` for the
/// answer). One row: `outcome` (`done`, `forbidden`, `not_found`) and,
/// when done, the post's view as changed.
pub const UPDATE_POST_AS: Sql = sql! {[INT8, TEXT, TEXT, TEXT, BOOL, INT8, BOOL] concat!(
    "WITH changed AS (UPDATE posts p SET title = $2, title_lower = $3, content = $4, published = $5 ",
    "WHERE p.id = $1 AND ",
    can_change_post!("p", "$6", "$7::boolean"),
    " RETURNING ",
    post_columns!(),
    ") SELECT ",
    change_outcome!("$6", "$7"),
    ", ",
    view_columns!(),
    " FROM (SELECT 1) AS one LEFT JOIN posts seen ON seen.id = $1",
    " LEFT JOIN (changed p JOIN users u ON u.id = p.owner_id) ON true"
)};

/// `$1` id, `$2` actor, `$3` whether the actor is an admin: deletes the
/// post (its votes by `ON DELETE CASCADE`) if `policy::can_change_post`
/// allows. One row: `outcome`, as [`UPDATE_POST_AS`].
pub const DELETE_POST_AS: Sql = sql! {[INT8, INT8, BOOL] concat!(
    "WITH changed AS (DELETE FROM posts p WHERE p.id = $1 AND ",
    can_change_post!("p", "$2", "$3::boolean"),
    " RETURNING p.id) SELECT ",
    change_outcome!("$2", "$3"),
    " FROM (SELECT 1) AS one LEFT JOIN posts seen ON seen.id = $1"
)};

/// `$1` post, `$2` voter, `$3` whether the voter is an admin, `$4` add
/// (true) or remove, `$5` now: votes on the post if
/// `policy::can_view_post` lets the voter see it. The post's row is
/// share-locked (as the foreign key would), so it cannot vanish or turn
/// invisible under the vote (the visibility is re-checked on its newest
/// version); the primary key `votes_one_per_user_and_post` keeps one vote
/// per user and post. One row: `outcome` (`added`, `removed`,
/// `post_not_found`, `already_voted`, `no_vote`).
pub const VOTE_AS: Sql = sql! {[INT8, INT8, BOOL, BOOL, TIMESTAMPTZ] concat!(
    "WITH target AS (SELECT p.id FROM posts p WHERE p.id = $1 AND ",
    can_view_post!("p", "$2", "$3::boolean"),
    " FOR KEY SHARE), ",
    "added AS (INSERT INTO votes (post_id, user_id, created_at) SELECT id, $2, $5 FROM target ",
    "WHERE $4::boolean ON CONFLICT ON CONSTRAINT votes_one_per_user_and_post DO NOTHING ",
    "RETURNING post_id), ",
    "removed AS (DELETE FROM votes v USING target t WHERE v.post_id = t.id AND v.user_id = $2 ",
    "AND NOT $4 RETURNING v.post_id) ",
    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM target) THEN 'post_not_found' ",
    "WHEN $4 THEN CASE WHEN EXISTS (SELECT 1 FROM added) THEN 'added' ELSE 'already_voted' END ",
    "WHEN EXISTS (SELECT 1 FROM removed) THEN 'removed' ELSE 'no_vote' END AS outcome"
)};

/// The target `$1` and, unless `$2` promotes, every admin, locked in id
/// order (so that concurrent demotions and deletions cannot deadlock)
/// and read as they are now: the ones demoted or deleted meanwhile drop
/// out. What the last-admin rule (`only_admin`) is decided on.
macro_rules! lock_admins {
    ($promotes:literal) => {
        concat!(
            "locked AS (SELECT l.id, l.email, l.role, l.created_at FROM users l WHERE l.id = $1 OR (",
            "l.role = 'admin' AND NOT ",
            $promotes,
            ") ORDER BY l.id FOR NO KEY UPDATE)"
        )
    };
}

/// Whether the locked target `t` may stop being an admin: it is not one,
/// or another admin is locked (and stays one until this commits).
macro_rules! not_only_admin {
    () => {
        "(t.role <> 'admin' OR EXISTS (SELECT 1 FROM locked o WHERE o.role = 'admin' AND o.id <> $1))"
    };
}

/// `$1` id, `$2` role: changes the role unless that would leave no admin.
/// Answers the user as it is now and whether it `changed`; no row: no
/// such user. One statement, without an advisory lock: the target and
/// the admins are row-locked ([`lock_admins`]), so two admins demoting
/// each other at once take turns and the second is refused.
pub const SET_ROLE_LOCKED: Sql = sql! {[INT8, TEXT] concat!(
    "WITH ",
    lock_admins!("($2::text = 'admin')"),
    ", changed AS (UPDATE users u SET role = $2 FROM locked t WHERE u.id = $1 AND t.id = $1 AND ",
    "($2 = 'admin' OR ",
    not_only_admin!(),
    ") RETURNING u.id, u.email, u.role, u.created_at) SELECT ",
    user_columns!("c"),
    ", true AS changed FROM changed c UNION ALL SELECT ",
    user_columns!("t"),
    ", false FROM locked t WHERE t.id = $1 AND NOT EXISTS (SELECT 1 FROM changed)"
)};

/// `$1` id: deletes the user unless they are the only admin; posts, votes
/// and sessions go by `ON DELETE CASCADE`. Answers whether it was
/// `deleted` and whether it `existed`. One statement, locked as
/// [`SET_ROLE_LOCKED`] is.
pub const DELETE_USER_LOCKED: Sql = sql! {[INT8] concat!(
    "WITH ",
    lock_admins!("false"),
    ", gone AS (DELETE FROM users u USING locked t WHERE u.id = $1 AND t.id = $1 AND ",
    not_only_admin!(),
    " RETURNING u.id) SELECT EXISTS (SELECT 1 FROM gone) AS deleted, ",
    "EXISTS (SELECT 1 FROM locked WHERE id = $1) AS existed"
)};

/// `$1` user: ends every session of theirs; answers whether the user
/// `existed` (an admin's kill switch in one statement).
pub const END_USER_SESSIONS: Sql = sql! {[INT8] concat!(
    "WITH ended AS (DELETE FROM sessions WHERE user_id = $1) ",
    "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) AS existed"
)};
