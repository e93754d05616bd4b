//! The password hashing port.

use async_trait::async_trait;

use crate::domain::{Password, PasswordHash};

/// Hashes and verifies passwords. Implementations keep slow work off the
/// async worker threads.
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a validated password.
    async fn hash(&self, password: &Password) -> PasswordHash;

    /// Whether `candidate` matches `hash`. With `None`, verifies against a
    /// dummy hash and returns `false`, taking the same time, so that unknown
    /// emails cannot be told from wrong passwords. A candidate bcrypt would
    /// truncate (over 72 bytes) never matches.
    async fn verify(&self, candidate: &str, hash: Option<&PasswordHash>) -> bool;
}
