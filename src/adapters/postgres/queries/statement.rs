//! How a statement is declared: its text and its parameter types
//! ([`Sql`], the `sql!` macro), and the list of every statement
//! ([`STATEMENTS`]) that the tests prepare and check.

use tokio_postgres::types::Type;

// The statements, for the list.
use super::*;

/// The parameter types statements use, short so that each declaration
/// names its types on one line.
pub(super) const BOOL: Type = Type::BOOL;
pub(super) const BYTEA: Type = Type::BYTEA;
pub(super) const INET: Type = Type::INET;
pub(super) const INT8: Type = Type::INT8;
pub(super) const TEXT: Type = Type::TEXT;
pub(super) const TEXT_ARRAY: Type = Type::TEXT_ARRAY;
pub(super) const TIMESTAMPTZ: Type = Type::TIMESTAMPTZ;

/// A statement: its text and the types of its parameters, `$1` first.
/// The types are the ones PostgreSQL infers from the text (the test
/// `postgres_statements` checks each on a real database), so the
/// statement can be sent unnamed with its types in one round trip
/// (`query_typed`) as well as prepared once (`prepare_typed_cached`).
#[derive(Debug, Clone, Copy)]
pub struct Sql {
    /// The SQL text.
    pub text: &'static str,
    /// The types of `$1`, `$2`, ...
    pub params: &'static [Type],
}

/// Declares a [`Sql`]: `sql! {[INT8, TEXT] "... $1 ... $2"}`. In braces,
/// so that rustfmt leaves the text's own layout alone.
macro_rules! sql {
    ([$($ty:expr),* $(,)?] $text:expr) => {
        Sql {
            text: $text,
            params: &[$($ty),*],
        }
    };
}

/// Every statement, by name: what the statement tests prepare and check.
pub const STATEMENTS: &[(&str, Sql)] = &[
    ("PING", PING),
    ("INSERT_USER", INSERT_USER),
    ("USER_BY_ID", USER_BY_ID),
    ("ACTIVE_USER", ACTIVE_USER),
    ("CREDENTIALS", CREDENTIALS),
    ("LIST_USERS", LIST_USERS),
    ("SET_ROLE_LOCKED", SET_ROLE_LOCKED),
    ("DELETE_USER_LOCKED", DELETE_USER_LOCKED),
    ("END_USER_SESSIONS", END_USER_SESSIONS),
    ("INSERT_POST", INSERT_POST),
    ("POST_BY_ID", POST_BY_ID),
    ("BEARER_AND_POST", BEARER_AND_POST),
    ("UPDATE_POST", UPDATE_POST),
    ("DELETE_POST", DELETE_POST),
    ("UPDATE_POST_AS", UPDATE_POST_AS),
    ("DELETE_POST_AS", DELETE_POST_AS),
    ("VOTE_AS", VOTE_AS),
    ("LIST_ALL", LIST_ALL),
    ("LIST_ALL_SEARCH", LIST_ALL_SEARCH),
    ("LIST_VISIBLE", LIST_VISIBLE),
    ("LIST_VISIBLE_SEARCH", LIST_VISIBLE_SEARCH),
    ("LIST_ALL_SEARCH_KEYED", LIST_ALL_SEARCH_KEYED),
    ("LIST_VISIBLE_SEARCH_KEYED", LIST_VISIBLE_SEARCH_KEYED),
    ("ADD_VOTE", ADD_VOTE),
    ("REMOVE_VOTE", REMOVE_VOTE),
    ("START_SESSION", START_SESSION),
    ("ROTATE_REFRESH", ROTATE_REFRESH),
    ("END_REUSED", END_REUSED),
    ("LIST_SESSIONS", LIST_SESSIONS),
    ("END_SESSION", END_SESSION),
    ("END_SESSIONS", END_SESSIONS),
    ("SET_PASSWORD", SET_PASSWORD),
    ("ADMIT_LOGIN", ADMIT_LOGIN),
    ("RELEASE_LOGIN", RELEASE_LOGIN),
    ("ADMIT_LOGIN_WITH_CREDENTIALS", ADMIT_LOGIN_WITH_CREDENTIALS),
    ("RELEASE_AND_START_SESSION", RELEASE_AND_START_SESSION),
    ("BEARER_ADMIT_PASSWORD", BEARER_ADMIT_PASSWORD),
    ("RELEASE_AND_SET_PASSWORD", RELEASE_AND_SET_PASSWORD),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_is_listed() {
        // Counts the declarations (constants of type `Sql`); one missing
        // from `STATEMENTS` would escape the type check.
        let declared: usize = [
            include_str!("mod.rs"),
            include_str!("statement.rs"),
            include_str!("sessions.rs"),
            include_str!("throttle.rs"),
            include_str!("checked.rs"),
        ]
        .iter()
        .map(|file| file.matches(concat!(": Sql", " =")).count())
        .sum();
        assert_eq!(declared, STATEMENTS.len());
        for (name, sql) in STATEMENTS {
            let highest = (1..=sql.params.len() + 1)
                .rev()
                .find(|n| sql.text.contains(&format!("${n}")));
            assert_eq!(highest, Some(sql.params.len()).filter(|n| *n > 0), "{name}");
        }
    }
}
