//! Why the service could not start: one variant per cause, each message
//! naming the setting to fix.

use crate::adapters::bcrypt::CostOutOfRange;
use crate::adapters::postgres::ConnectError;
use crate::domain::{EnsureAdminError, FieldError, StoreError};
use crate::service::demo::SeedError;

use super::MIN_SECRET_BYTES;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `STORE=postgres` without `DATABASE_URL`.
    #[error(
        "DATABASE_URL is required with STORE=postgres, e.g. postgres://postgres@127.0.0.1:5432/posts"
    )]
    MissingDatabaseUrl,
    /// `STORE=postgres` without `JWT_SECRET`.
    #[error(
        "JWT_SECRET is required with STORE=postgres, so that tokens survive restarts and work on every instance"
    )]
    MissingJwtSecret,
    /// A signing key too short to resist guessing.
    #[error(
        "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (it has {0}); generate one with `openssl rand -hex 32`"
    )]
    ShortJwtSecret(usize),
    /// A bcrypt cost bcrypt refuses.
    #[error(transparent)]
    BcryptCost(#[from] CostOutOfRange),
    /// The operating system gave no randomness for a key.
    #[error("no randomness for a JWT key: {0}")]
    NoRandomness(getrandom::Error),
    /// One of `ADMIN_EMAIL` and `ADMIN_PASSWORD` without the other.
    #[error("ADMIN_EMAIL and ADMIN_PASSWORD go together")]
    AdminPair,
    /// A setting whose value the domain refuses.
    #[error("{var}: {source}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Why.
        source: FieldError,
    },
    /// The configured admin cannot be made ready.
    #[error("ADMIN_EMAIL: {0}")]
    Admin(#[source] EnsureAdminError),
    /// The database could not be reached, or not migrated.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The store failed during a start-up task.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Seeding the demo or load-test data failed.
    #[error("seeding: {0}")]
    Seed(#[from] SeedError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl From<EnsureAdminError> for StartError {
    fn from(e: EnsureAdminError) -> Self {
        match e {
            EnsureAdminError::Store(e) => Self::Store(e),
            not_the_owner => Self::Admin(not_the_owner),
        }
    }
}
