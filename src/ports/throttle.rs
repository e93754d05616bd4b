//! The login throttling port.

use std::net::IpAddr;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::StoreError;

/// Whose failures are counted: an email (as typed, trimmed and lower-cased)
/// from a client address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThrottleKey {
    /// The email tried.
    pub email: String,
    /// The client's address.
    pub addr: IpAddr,
}

/// The throttling limits; a limit of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures allowed per email and address within the window.
    pub max_failures: u32,
    /// Failures allowed per address within the window.
    pub max_failures_per_addr: u32,
    /// The window, in seconds.
    pub window_seconds: u64,
}

/// Counts failed logins per email and address, and per address.
#[async_trait]
pub trait LoginThrottle: Send + Sync + 'static {
    /// `Some(seconds)` to wait when `key` is over a limit at `now`.
    ///
    /// # Errors
    /// [`StoreError`] when the counters cannot be read.
    async fn retry_after(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError>;

    /// Counts one failure.
    ///
    /// # Errors
    /// [`StoreError`] when the counters cannot be written.
    async fn record_failure(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Forgets the failures of `key` (the pair, not the address).
    ///
    /// # Errors
    /// [`StoreError`] when the counters cannot be written.
    async fn clear(&self, key: &ThrottleKey) -> Result<(), StoreError>;
}
