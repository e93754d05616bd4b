//! Errors at the seam: driver and pool failures stop here. SQLSTATEs on
//! named constraints become business outcomes in the store methods (via
//! [`DbFailure::violates`]); everything else becomes
//! [`StoreError::Unavailable`], whose context is for logs only.

use std::fmt;

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::domain::StoreError;

/// Why one database call failed.
#[derive(Debug)]
pub(super) enum DbFailure {
    /// No connection within the timeout, or the pool could not make one.
    Pool(PoolError),
    /// The server or the connection reported an error.
    Db(tokio_postgres::Error),
    /// The call did not finish within the timeout.
    TimedOut,
}

impl DbFailure {
    /// Whether this is `code` on the constraint named `constraint`.
    pub(super) fn violates(&self, code: &SqlState, constraint: &str) -> bool {
        match self {
            DbFailure::Db(e) => e
                .as_db_error()
                .is_some_and(|db| db.code() == code && db.constraint() == Some(constraint)),
            _ => false,
        }
    }

    /// Whether the connection this came from is of no further use and must
    /// leave the pool rather than serve the next request: it is closed,
    /// its server is shutting down, or its server no longer accepts writes
    /// (a fenced old primary, which keeps its sessions open: handed out
    /// again, its connections would answer every write with 25006 for as
    /// long as they live, while a new connection, by
    /// `target_session_attrs=read-write`, finds the writable host).
    pub(super) fn ends_connection(error: &tokio_postgres::Error) -> bool {
        if error.is_closed() {
            return true;
        }
        error.code().is_some_and(|code| {
            [
                SqlState::READ_ONLY_SQL_TRANSACTION,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
            ]
            .contains(code)
        })
    }

    /// The store failure the service sees, with `what` was being done.
    /// The SQLSTATE, when the server answered with an error.
    pub(super) fn code(&self) -> Option<&SqlState> {
        match self {
            DbFailure::Db(e) => e.code(),
            _ => None,
        }
    }

    pub(super) fn into_store(self, what: &str) -> StoreError {
        StoreError::Unavailable(format!("{what}: {self}"))
    }
}

impl fmt::Display for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbFailure::Pool(e) => write!(f, "no database connection: {}", with_sources(e)),
            DbFailure::Db(e) => match e.as_db_error() {
                Some(db) => write!(f, "database error {}: {}", db.code().code(), db.message()),
                None => write!(f, "database connection error: {}", with_sources(e)),
            },
            DbFailure::TimedOut => f.write_str("the database did not answer in time"),
        }
    }
}

/// An error and its causes, `outer: inner: ...` (the driver keeps the
/// useful part, such as "Connection refused", in the causes).
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}

impl From<PoolError> for DbFailure {
    fn from(e: PoolError) -> Self {
        DbFailure::Pool(e)
    }
}

impl From<tokio_postgres::Error> for DbFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        DbFailure::Db(e)
    }
}

/// A value read back that the schema should have made impossible.
pub(super) fn bad_row(what: &str, detail: impl fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("unexpected row from {what}: {detail}"))
}

/// Why the store could not be opened or migrated at start-up. Every
/// message names `DATABASE_URL` with its password masked.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse, or the pool cannot be built from it.
    #[error("DATABASE_URL={url} is not usable: {reason}")]
    InvalidUrl {
        /// The URL, password masked.
        url: String,
        /// Why.
        reason: String,
    },
    /// No connection could be checked out within the timeout.
    #[error(
        "cannot connect to the database at DATABASE_URL={url} (waited up to {seconds} s): {reason}"
    )]
    Unreachable {
        /// The URL, password masked.
        url: String,
        /// The timeout, in seconds.
        seconds: u64,
        /// Why.
        reason: String,
    },
    /// The migrations could not be applied.
    #[error("cannot migrate the database at DATABASE_URL={url}: {reason}")]
    Migration {
        /// The URL, password masked.
        url: String,
        /// Why.
        reason: String,
    },
    /// Behind a transaction pooler, where the service does not migrate,
    /// the schema is not the one this release expects.
    #[error(
        "the database at DATABASE_URL={url} is not at this release's schema: {reason}. \
         With DATABASE_POOLER=transaction the service does not migrate at start-up: \
         run `posts-api migrate` with DATABASE_URL pointing at the database directly \
         (not through the pooler), then start the service again"
    )]
    SchemaNotCurrent {
        /// The URL, password masked.
        url: String,
        /// What differs: the pending migrations, or an edited one.
        reason: String,
    },
    /// `posts-api migrate` with `DATABASE_POOLER=transaction`: migrations
    /// hold a session-level lock, which a transaction pooler does not keep.
    #[error(
        "`posts-api migrate` needs a direct connection to the database (its lock lives as long \
         as the session, which a transaction pooler does not keep): run it with \
         DATABASE_POOLER=none and DATABASE_URL pointing at the database, not at the pooler"
    )]
    MigrateThroughPooler,
}
