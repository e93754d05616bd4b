//! Every SQL statement the store runs, one per use case, each answered in
//! one round trip, declared with the types of its parameters ([`Sql`]):
//! `PgStore` prepares it once per connection, or sends it unnamed behind
//! a transaction pooler (see its module). Public so that tests can
//! `EXPLAIN` the real text and check the types.
//!
//! Every column a row is read by is named (`user_id`, `post_title`,
//! `owner_email`, `votes`, ...): `rows.rs` reads by those names, never by
//! position, so a reordered or added column cannot shift a value.

/// A user's columns over table `$t`, named as `rows::USER` reads them.
macro_rules! user_columns {
    ($t:literal) => {
        concat!(
            $t,
            ".id AS user_id, ",
            $t,
            ".email AS user_email, ",
            $t,
            ".role AS user_role, ",
            $t,
            ".created_at AS user_created_at"
        )
    };
}

/// A post owner's columns over table `$t`, named as `rows::OWNER` reads
/// them (distinct from the bearer's in the one-statement read).
macro_rules! owner_columns {
    ($t:literal) => {
        concat!(
            $t,
            ".id AS owner_id, ",
            $t,
            ".email AS owner_email, ",
            $t,
            ".role AS owner_role, ",
            $t,
            ".created_at AS owner_created_at"
        )
    };
}

/// The columns of a post view over `p` (a post) joined to `u` (its
/// owner), named as `rows::post_view` reads them.
macro_rules! view_columns {
    () => {
        concat!(
            "p.id AS post_id, p.title AS post_title, p.content AS post_content, ",
            "p.published AS post_published, p.created_at AS post_created_at, ",
            owner_columns!("u"),
            ", (SELECT count(*) FROM votes v WHERE v.post_id = p.id) AS votes"
        )
    };
}

/// The post columns the list queries carry up to the join.
macro_rules! post_columns {
    () => {
        "id, owner_id, title, content, published, created_at"
    };
}

#[macro_use]
mod statement;
mod checked;
#[macro_use]
mod sessions;
#[macro_use]
mod throttle;

pub use checked::*;
use std::sync::OnceLock;

use crate::domain::MAX_LIMIT;
use tokio_postgres::types::Type;

pub use sessions::*;
pub use statement::{STATEMENTS, Sql};
pub use throttle::*;

use statement::{BOOL, INT8, TEXT, TEXT_ARRAY, TIMESTAMPTZ};

/// The readiness check.
pub const PING: Sql = sql! {[] "SELECT 1"};

/// `$1` email, `$2` password hash, `$3` role, `$4` created_at.
/// 23505 on `users_email_key`: the email is taken.
pub const INSERT_USER: Sql = sql! {[TEXT, TEXT, TEXT, TIMESTAMPTZ] concat!(
    "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING ",
    user_columns!("users")
)};

/// `$1` id.
pub const USER_BY_ID: Sql = sql! {[INT8] concat!(
    "SELECT ",
    user_columns!("u"),
    " FROM users u WHERE u.id = $1"
)};

/// `$1` user id, `$2` session id, `$3` now: the user, if the session is
/// theirs and active.
pub const ACTIVE_USER: Sql = sql! {[INT8, INT8, TIMESTAMPTZ] concat!(
    "SELECT ",
    user_columns!("u"),
    " FROM users u JOIN sessions s ON s.user_id = u.id",
    " WHERE u.id = $1 AND s.id = $2 AND s.expires_at > $3"
)};

/// `$1` normalised email: the user and their `password_hash`.
pub const CREDENTIALS: Sql = sql! {[TEXT] concat!(
    "SELECT ",
    user_columns!("u"),
    ", u.password_hash FROM users u WHERE u.email = $1"
)};

/// `$1` limit, `$2` offset, `$3` the cursor (`after`; 0 for none): users
/// above it, ascending id. The primary key seeks to the cursor.
pub const LIST_USERS: Sql = sql! {[INT8, INT8, INT8] concat!(
    "SELECT ",
    user_columns!("u"),
    " FROM users u WHERE u.id > $3 ORDER BY u.id LIMIT $1 OFFSET $2"
)};

/// `$1` owner, `$2` title, `$3` title folded to lower case, `$4` content,
/// `$5` published, `$6` created_at: the new post's view.
pub const INSERT_POST: Sql = sql! {[INT8, TEXT, TEXT, TEXT, BOOL, TIMESTAMPTZ] concat!(
    "WITH p AS (INSERT INTO posts (owner_id, title, title_lower, content, published, created_at) ",
    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
    post_columns!(),
    ") SELECT ",
    view_columns!(),
    " FROM p JOIN users u ON u.id = p.owner_id"
)};

/// `$1` id: the post's view.
pub const POST_BY_ID: Sql = sql! {[INT8] concat!(
    "SELECT ",
    view_columns!(),
    " FROM posts p JOIN users u ON u.id = p.owner_id WHERE p.id = $1"
)};

/// `$1` user id, `$2` session id, `$3` post id, `$4` now: the token's
/// user if the session is theirs and active (no row otherwise), then the
/// post view (NULLs when the post does not exist): an authenticated read
/// in one statement.
pub const BEARER_AND_POST: Sql = sql! {[INT8, INT8, INT8, TIMESTAMPTZ] concat!(
    "SELECT ",
    user_columns!("me"),
    ", ",
    view_columns!(),
    " FROM users me JOIN sessions s ON s.user_id = me.id AND s.id = $2 AND s.expires_at > $4",
    " LEFT JOIN (posts p JOIN users u ON u.id = p.owner_id) ON p.id = $3",
    " WHERE me.id = $1"
)};

/// `$1` id, `$2` title, `$3` title folded, `$4` content, `$5` published:
/// the updated post's view.
pub const UPDATE_POST: Sql = sql! {[INT8, TEXT, TEXT, TEXT, BOOL] concat!(
    "WITH p AS (UPDATE posts SET title = $2, title_lower = $3, content = $4, published = $5 ",
    "WHERE id = $1 RETURNING ",
    post_columns!(),
    ") SELECT ",
    view_columns!(),
    " FROM p JOIN users u ON u.id = p.owner_id"
)};

/// `$1` id. Votes go by `ON DELETE CASCADE`.
pub const DELETE_POST: Sql = sql! {[INT8] "DELETE FROM posts WHERE id = $1"};

/// Posts below the cursor `$n` (`before`), or all of them when it is
/// `NULL`. The statements run with their values (`query_planned`), so the
/// planner folds the `NULL` test away and an index seeks to `id < $n`.
macro_rules! below_cursor {
    ($n:literal) => {
        concat!("(", $n, "::bigint IS NULL OR id < ", $n, ")")
    };
}

/// The viewer `$1`'s drafts, newest first, for the drafts branch of a
/// page: `posts_drafts_idx` is the one index that yields this order (the
/// owner as a range is no constant the planner could drop from the
/// order), so the branch reads the viewer's drafts and nothing else,
/// whatever the statistics say. Written as `owner_id = $1 ... ORDER BY id
/// DESC`, the planner estimated an author of 600,000 published posts to
/// own 240,000 drafts (60 % of the posts times 40 % drafts) and walked the
/// primary key for them: all 1,000,000 posts, one second per page. The
/// viewer comes through `(SELECT $1)`, a value no plan is specialised
/// for, so a generic plan costs what a custom one does and the plan cache
/// keeps it (with `$1` seen, a custom plan for a viewer without drafts
/// looked cheaper, and every such request was planned).
///
/// `own_drafts!(owner: "me.id", ...)` takes the viewer from a column of an
/// outer row instead (a lateral reference, as unspecialised a value as
/// `(SELECT $1)`, without its two init plans).
macro_rules! own_drafts {
    (owner: $owner:literal $(, $cond:expr)*) => {
        concat!(
            "SELECT ",
            post_columns!(),
            " FROM posts WHERE owner_id >= ",
            $owner,
            " AND owner_id <= ",
            $owner,
            " AND NOT published",
            $(" AND ", $cond,)*
            " ORDER BY owner_id, id DESC LIMIT "
        )
    };
    ($($cond:expr),*) => {
        own_drafts!(owner: "(SELECT $1::bigint)" $(, $cond)*)
    };
}

/// Joins a page of posts `p` (already ordered and cut) to owners and counts:
/// the owner and the vote count are read for the page's rows only.
macro_rules! page_of {
    ($inner:expr) => {
        concat!(
            "SELECT ",
            view_columns!(),
            " FROM (",
            $inner,
            ") AS p JOIN users u ON u.id = p.owner_id ORDER BY p.id DESC"
        )
    };
}

/// Every post (admins): `$1` limit, `$2` offset, `$3` the cursor (`before`;
/// `NULL` for none). A backward walk of the primary key from the cursor.
pub const LIST_ALL: Sql = sql! {[INT8, INT8, INT8] page_of!(concat!(
    "SELECT ",
    post_columns!(),
    " FROM posts WHERE ",
    below_cursor!("$3"),
    " ORDER BY id DESC LIMIT $1 OFFSET $2"
))};

/// [`LIST_ALL`] with `$4` a `LIKE` pattern on the folded title: for terms
/// of 1 or 2 characters (longer ones take [`LIST_ALL_SEARCH_KEYED`]).
pub const LIST_ALL_SEARCH: Sql = sql! {[INT8, INT8, INT8, TEXT] page_of!(concat!(
    "SELECT ",
    post_columns!(),
    " FROM posts WHERE ",
    below_cursor!("$3"),
    " AND title_lower LIKE $4 ESCAPE '\\' ORDER BY id DESC LIMIT $1 OFFSET $2"
))};

/// Published posts and the viewer's drafts: `$1` viewer, `$2` limit,
/// `$3` offset, `$4` limit + offset, `$5` the cursor (`before`; `NULL` for
/// none). Each branch walks its own index newest first from the cursor
/// and stops after `$4` rows; a merge keeps the order.
pub const LIST_VISIBLE: Sql = sql! {[INT8, INT8, INT8, INT8, INT8] page_of!(concat!(
    "(SELECT ",
    post_columns!(),
    " FROM posts WHERE published AND ",
    below_cursor!("$5"),
    " ORDER BY id DESC LIMIT $4)",
    " UNION ALL (",
    own_drafts!(below_cursor!("$5")),
    "$4)",
    " ORDER BY id DESC LIMIT $2 OFFSET $3"
))};

/// Published posts and the viewer's drafts whose folded title is like
/// `$5`: `$1` viewer, `$2` limit, `$3` offset, `$4` the cursor. For terms
/// of 1 or 2 characters, which have no key in the title index
/// ([`search_pieces`]; longer ones take [`LIST_VISIBLE_SEARCH_KEYED`]):
/// one walk of the primary key newest first yields each candidate once,
/// whoever asks.
pub const LIST_VISIBLE_SEARCH: Sql = sql! {[INT8, INT8, INT8, INT8, TEXT] page_of!(concat!(
    "SELECT ",
    post_columns!(),
    " FROM posts WHERE (published OR owner_id = $1) AND ",
    below_cursor!("$4"),
    " AND title_lower LIKE $5 ESCAPE '\\' ORDER BY id DESC LIMIT $2 OFFSET $3"
))};

/// A page of a keyed title search: the ids that `$search` (a call of
/// `post_search_visible` or `post_search_all`, migration V14) returns,
/// newest first, cut to `LIMIT $limit OFFSET $offset`, then each page
/// row read by primary key (`OFFSET 0` keeps the lookup a nested loop: a
/// function's rows are only an estimate, and over a small table the
/// planner hashed the whole table instead).
///
/// The search itself (the newest 200 visible posts, then the title index
/// block by block, `posts_title_keys_idx`, migration V10) runs inside the
/// function, whose plan PostgreSQL keeps per server connection, generic:
/// as one statement planned per request it cost about three times its
/// execution in planning (benches/RESULTS.md), and a named prepared
/// statement is not available behind a transaction pooler. What is left
/// here is small to plan, and prepared once per connection when connected
/// directly.
macro_rules! keyed_search {
    (search: $search:expr, limit: $limit:literal, offset: $offset:literal $(,)?) => {
        page_of!(concat!(
            "SELECT p.* FROM (SELECT id FROM ",
            $search,
            " AS s (id) ORDER BY id DESC LIMIT ",
            $limit,
            " OFFSET ",
            $offset,
            ") AS page CROSS JOIN LATERAL (SELECT ",
            post_columns!(),
            " FROM posts WHERE posts.id = page.id OFFSET 0) AS p"
        ))
    };
}

/// [`LIST_ALL_SEARCH`] for a term with pieces ([`search_pieces`]), through
/// the title index ([`keyed_search!`], `post_search_all`): `$1` the cursor
/// (`before`; `NULL` for none), `$2` limit, `$3` offset, `$4` limit +
/// offset (saturated), `$5` the folded term, `$6` its pieces. The walk is
/// the primary key's; the keys asked are those of published posts and of
/// any draft.
pub const LIST_ALL_SEARCH_KEYED: Sql = sql! {[INT8, INT8, INT8, INT8, TEXT, TEXT_ARRAY] keyed_search!(
    search: "post_search_all($5, $6, $1, $4)",
    limit: "$2",
    offset: "$3",
)};

/// [`LIST_VISIBLE_SEARCH`] for a term with pieces ([`search_pieces`]),
/// through the title index ([`keyed_search!`], `post_search_visible`):
/// `$1` viewer, `$2` limit, `$3` offset, `$4` limit + offset (saturated),
/// `$5` the cursor, `$6` the folded term, `$7` its pieces. The walk
/// merges published posts and the viewer's drafts as [`LIST_VISIBLE`]
/// does; the keys asked are those of published posts and of the viewer's
/// drafts, so the drafts of others are never candidates.
pub const LIST_VISIBLE_SEARCH_KEYED: Sql = sql! {[INT8, INT8, INT8, INT8, INT8, TEXT, TEXT_ARRAY] keyed_search!(
    search: "post_search_visible($1, $6, $7, $5, $4)",
    limit: "$2",
    offset: "$3",
)};

/// The pieces of a folded search term that [`LIST_ALL_SEARCH_KEYED`] and
/// [`LIST_VISIBLE_SEARCH_KEYED`] ask the title index for, as migration
/// V10's `post_title_keys` cuts titles (by characters): at most four
/// 5-character pieces spread from its first to its last character, or,
/// for 3 or 4 characters, its 3-character pieces. `None` for 1 or 2
/// characters, which have no key: those terms take [`LIST_ALL_SEARCH`] and
/// [`LIST_VISIBLE_SEARCH`]. Few pieces keep each block's index scan short
/// (all 21 pieces of a 25-character term: 29 ms; four: 1 ms), and spread
/// ones keep their overlaps: `post seeded` asks for `st se`, which no
/// title holds, where pieces side by side would ask for `post ` and
/// `seede`, which 600,000 titles hold.
pub fn search_pieces(term: &str) -> Option<Vec<String>> {
    /// Pieces asked at most.
    const MOST: usize = 4;
    let chars: Vec<char> = term.chars().collect();
    let n = match chars.len() {
        0..=2 => return None,
        3 | 4 => 3,
        _ => 5,
    };
    let last = chars.len() - n;
    let count = (last + 1).min(MOST);
    let mut starts: Vec<usize> = (0..count)
        .map(|k| {
            if count == 1 {
                0
            } else {
                k * last / (count - 1)
            }
        })
        .collect();
    starts.dedup();
    Some(
        starts
            .into_iter()
            .map(|i| chars[i..i + n].iter().collect())
            .collect(),
    )
}

/// The first page (no cursor, no `skip`, no search) of [`LIST_VISIBLE`]
/// with the limit written in: `$1` viewer. Prepared once per connection
/// and limit, so PostgreSQL settles on a generic plan and the page is not
/// planned per request (planning cost more than running it). With the
/// limit as a parameter, a generic plan's estimate (10 % of the rows) made
/// it look dearer than a custom one, so every request was planned.
const LIST_VISIBLE_FIRST: [&str; 3] = [
    concat!(
        "(SELECT ",
        post_columns!(),
        " FROM posts WHERE published ORDER BY id DESC LIMIT "
    ),
    concat!(") UNION ALL (", own_drafts!()),
    ") ORDER BY id DESC LIMIT ",
];

/// The first page of [`LIST_ALL`] with the limit written in (as
/// [`LIST_VISIBLE_FIRST`]); no parameter.
const LIST_ALL_FIRST: [&str; 1] = [concat!(
    "SELECT ",
    post_columns!(),
    " FROM posts ORDER BY id DESC LIMIT "
)];

/// The first-page statement of `parts` for `limit` (`1..=MAX_LIMIT`; `None`
/// otherwise): `parts` joined by the limit, under [`page_of!`]. Built once
/// per limit, so that `prepare_cached` finds the same text.
fn first_page(
    cache: &'static OnceLock<Vec<String>>,
    parts: &[&str],
    params: &'static [Type],
    limit: i64,
) -> Option<Sql> {
    let texts = cache.get_or_init(|| {
        (1..=MAX_LIMIT)
            .map(|n| {
                let n = n.to_string();
                let inner = parts.join(&n) + &n;
                format!(
                    "SELECT {} FROM ({inner}) AS p JOIN users u ON u.id = p.owner_id ORDER BY p.id DESC",
                    view_columns!()
                )
            })
            .collect()
    });
    let index = usize::try_from(limit.checked_sub(1)?).ok()?;
    texts.get(index).map(|text| Sql { text, params })
}

/// The first page of published posts and `$1`'s drafts for `limit`;
/// `None` for a limit out of range.
pub fn list_visible_first(limit: i64) -> Option<Sql> {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    first_page(&TEXTS, &LIST_VISIBLE_FIRST, &[INT8], limit)
}

/// The first page of every post for `limit`; `None` for a limit out of
/// range.
pub fn list_all_first(limit: i64) -> Option<Sql> {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    first_page(&TEXTS, &LIST_ALL_FIRST, &[], limit)
}

/// The head of [`BEARER_FIRST`], up to its page: the bearer `me`, the
/// token's user if `$2` is their active session at `$3` (`$1` the user
/// id, tested in [`bearer_tail!`]), joined to a page of posts the bearer
/// may see (`LEFT JOIN LATERAL`: one row of nulls when it is empty; no row
/// when the session is not active). A plain join, not a `MATERIALIZED`
/// CTE: one row either way, and the CTE cost a scan node and a tuplestore
/// per request. Whether the bearer is an admin chooses the page's branches
/// (`policy::visibility_for`: everything for admins, else published posts
/// and the bearer's drafts): each branch's `WHERE` tests `me.role`, which
/// PostgreSQL evaluates once (a one-time filter), so the branches of the
/// other visibility never run. Cursor and skip pages are not folded:
/// planned per request, the folded statement planned about 0.5 ms longer
/// than the bearer's prepared statement and the page's together cost
/// (measured: 1,305 µs against 545–783 µs of PostgreSQL CPU per cursor
/// page).
macro_rules! bearer_head {
    () => {
        concat!(
            "SELECT ",
            user_columns!("me"),
            ", v.* FROM users me ",
            "JOIN sessions s ON s.user_id = me.id AND s.id = $2 AND s.expires_at > $3 ",
            "LEFT JOIN LATERAL ("
        )
    };
}

/// [`BEARER_FIRST`] after its page. No `ORDER BY`: the rows come in the
/// page's order in practice, but SQL does not promise it, and two sorts
/// of ten rows cost PostgreSQL more than the store's sort of the decoded
/// page (`bearer_with_posts` sorts by id, newest first).
macro_rules! bearer_tail {
    () => {
        ") v ON true WHERE me.id = $1"
    };
}

/// `policy::visibility_for`'s test of the bearer `me` (see
/// [`bearer_head!`]).
macro_rules! me_admin {
    () => {
        "me.role = 'admin'"
    };
}

/// The first page (no cursor, no skip, no search) of [`LIST_ALL`] for an
/// admin bearer, else of [`LIST_VISIBLE`], with the limit written in where
/// the parts join: `$1` user id, `$2` session id, `$3` now (see
/// [`bearer_head!`]). Prepared once per connection and limit, as
/// [`LIST_VISIBLE_FIRST`] (a generic plan, no planning per request).
const BEARER_FIRST: [&str; 5] = [
    concat!(
        bearer_head!(),
        "SELECT ",
        view_columns!(),
        " FROM ((SELECT ",
        post_columns!(),
        " FROM posts WHERE ",
        me_admin!(),
        " ORDER BY id DESC LIMIT "
    ),
    concat!(
        ") UNION ALL (SELECT ",
        post_columns!(),
        " FROM posts WHERE NOT ",
        me_admin!(),
        " AND published ORDER BY id DESC LIMIT "
    ),
    concat!(
        ") UNION ALL (",
        own_drafts!(owner: "me.id", concat!("NOT ", me_admin!()))
    ),
    ") ORDER BY id DESC LIMIT ",
    concat!(") AS p JOIN users u ON u.id = p.owner_id", bearer_tail!()),
];

/// The first page for the bearer of a token for `limit` ([`BEARER_FIRST`]);
/// `None` for a limit out of range.
pub fn bearer_first(limit: i64) -> Option<Sql> {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (1..=MAX_LIMIT)
            .map(|n| BEARER_FIRST.join(&n.to_string()))
            .collect()
    });
    let index = usize::try_from(limit.checked_sub(1)?).ok()?;
    texts.get(index).map(|text| Sql {
        text,
        params: &[INT8, INT8, TIMESTAMPTZ],
    })
}

/// `$1` post, `$2` user, `$3` created_at. No row inserted: already voted
/// (the primary key `votes_one_per_user_and_post` makes this race-free);
/// 23503 on `votes_post_id_fkey`: the post is gone.
pub const ADD_VOTE: Sql = sql! {[INT8, INT8, TIMESTAMPTZ]
"INSERT INTO votes (post_id, user_id, created_at) VALUES ($1, $2, $3) \
ON CONFLICT ON CONSTRAINT votes_one_per_user_and_post DO NOTHING"};

/// `$1` post, `$2` user.
pub const REMOVE_VOTE: Sql =
    sql! {[INT8, INT8] "DELETE FROM votes WHERE post_id = $1 AND user_id = $2"};

/// A `LIKE` pattern matching `needle` (already folded) anywhere, with `%`,
/// `_` and `\` taken literally.
pub fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_pieces_are_few_and_spread() {
        let pieces = |term| search_pieces(term).map(|p| p.join("|"));
        assert_eq!(pieces("po"), None);
        assert_eq!(pieces("pos").as_deref(), Some("pos"));
        assert_eq!(pieces("post").as_deref(), Some("pos|ost"));
        assert_eq!(pieces("kumquat").as_deref(), Some("kumqu|umqua|mquat"));
        // First and last piece always; overlapping ones between.
        assert_eq!(
            pieces("post seeded").as_deref(),
            Some("post |st se| seed|eeded")
        );
        assert_eq!(
            pieces("seeded post number 777778").as_deref(),
            Some("seede| post|umber|77778")
        );
        // By characters, as the index cuts titles.
        assert_eq!(pieces("étéà").as_deref(), Some("été|téà"));
    }

    #[test]
    fn patterns_are_literal() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern("été"), "%été%");
    }

    #[test]
    fn statements_read_as_sql() {
        assert_eq!(
            USER_BY_ID.text,
            "SELECT u.id AS user_id, u.email AS user_email, u.role AS user_role, \
             u.created_at AS user_created_at FROM users u WHERE u.id = $1"
        );
        assert!(
            LIST_VISIBLE
                .text
                .starts_with("SELECT p.id AS post_id, p.title AS post_title"),
            "{LIST_VISIBLE:?}"
        );
        assert!(
            LIST_VISIBLE_SEARCH.text.contains("LIKE $5 ESCAPE '\\'"),
            "{LIST_VISIBLE_SEARCH:?}"
        );
    }
}
