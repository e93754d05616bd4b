//! The password hashing port.

use async_trait::async_trait;

use crate::domain::{Password, PasswordHash, StoreError};

/// Hashes and verifies passwords. Implementations keep slow work off the
/// async worker threads.
///
/// Both calls may fail with [`StoreError::Unavailable`] when the hashing
/// itself could not be done (a worker process died with the request): the
/// caller answers 503, never a guess at the password's match.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a validated password.
    ///
    /// # Errors
    /// [`StoreError`] when the hash could not be computed.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError>;

    /// Whether `candidate` matches `hash`. With `None`, verifies against a
    /// dummy hash and returns `false`, taking the same time, so that unknown
    /// emails cannot be told from wrong passwords. A candidate bcrypt would
    /// truncate (over 72 bytes) never matches.
    ///
    /// # Errors
    /// [`StoreError`] when the check could not be done.
    async fn verify(
        &self,
        candidate: &str,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, StoreError>;
}
