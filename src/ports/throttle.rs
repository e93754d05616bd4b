//! The login throttling port, and the window arithmetic every adapter
//! shares (one home for the rule; adapters only store and count).
//!
//! An attempt is counted **before** its password is checked: the adapter
//! admits it only while the counts are under their limits, and counts it
//! in the same atomic step, so any number of concurrent attempts (on one
//! instance or on several sharing a store) cannot pass a limit. A success
//! releases its attempt and clears the pair's count; a failure needs no
//! second call, its attempt simply stays counted.

use std::net::IpAddr;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::domain::{StoreError, fold_email};

/// Whose attempts are counted: an email (its SHA-256, so a client's
/// username, however long, is stored in 32 bytes and never in clear) from
/// a client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThrottleKey {
    /// SHA-256 of the email as typed, trimmed and lower-cased.
    pub email_sha256: [u8; 32],
    /// The client's address.
    pub addr: IpAddr,
}

impl ThrottleKey {
    /// The key of a username as the client typed it, folded as emails are
    /// (`Ann@x.io ` and `ann@x.io` share one count).
    pub fn new(username: &str, addr: IpAddr) -> Self {
        Self {
            email_sha256: Sha256::digest(fold_email(username).as_bytes()).into(),
            addr,
        }
    }
}

/// The throttling limits; a limit of 0 turns that limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Attempts allowed per email and address within the window.
    pub max_failures: u32,
    /// Attempts allowed per address within the window.
    pub max_failures_per_addr: u32,
    /// The window, in seconds.
    pub window_seconds: u64,
}

impl ThrottleLimits {
    /// Whether both limits are off (nothing needs counting).
    pub fn is_off(&self) -> bool {
        self.max_failures == 0 && self.max_failures_per_addr == 0
    }

    /// The window as a duration (saturating: the setting's range keeps it
    /// far below the limit).
    pub fn window(&self) -> Duration {
        Duration::seconds(i64::try_from(self.window_seconds).unwrap_or(i64::MAX))
    }

    /// The start of the window ending at `now`: attempts after it count.
    pub fn window_start(&self, now: OffsetDateTime) -> OffsetDateTime {
        now.checked_sub(self.window())
            .map_or(OffsetDateTime::UNIX_EPOCH, |start| {
                start.max(OffsetDateTime::UNIX_EPOCH)
            })
    }

    /// Whether an attempt at `at` still counts at `now`.
    pub fn counts(&self, at: OffsetDateTime, now: OffsetDateTime) -> bool {
        at > self.window_start(now)
    }

    /// Seconds from `now` until an attempt made at `at` leaves the window;
    /// at least 1 (the `Retry-After` value).
    pub fn wait(&self, at: OffsetDateTime, now: OffsetDateTime) -> u64 {
        let elapsed = (now - at).as_seconds_f64();
        let secs = (self.window_seconds as f64 - elapsed).ceil();
        (secs as u64).max(1)
    }
}

/// An admitted attempt, counted as a failure until it is released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(pub i64);

/// The throttle's answer to a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go on and check the password; the attempt is already counted.
    Admitted(Attempt),
    /// Over a limit; retry after this many seconds.
    Throttled {
        /// Seconds until the attempt holding the count at its limit
        /// leaves the window.
        retry_after_secs: u64,
    },
}

/// Counts login attempts per email and address, and per address.
#[async_trait]
pub trait LoginThrottle: Send + Sync + 'static {
    /// Admits and counts an attempt at `now` if both counts for `key` are
    /// under their limits, atomically with every other call for the same
    /// address; otherwise says how long to wait and counts nothing.
    ///
    /// # Errors
    /// [`StoreError`] when the counts cannot be read or written.
    async fn admit(&self, key: &ThrottleKey, now: OffsetDateTime) -> Result<Admission, StoreError>;

    /// The attempt succeeded: it stops counting, and so do the earlier
    /// attempts of the pair (they still count for the address).
    ///
    /// # Errors
    /// [`StoreError`] when the counts cannot be written.
    async fn release(&self, key: &ThrottleKey, attempt: Attempt) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_and_spaces_into_a_fixed_size() {
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            ThrottleKey::new(" Ann@X.io ", addr),
            ThrottleKey::new("ann@x.io", addr)
        );
        assert_ne!(
            ThrottleKey::new("ann@x.io", addr),
            ThrottleKey::new("bob@x.io", addr)
        );
        let huge = "a".repeat(1 << 20);
        assert_eq!(ThrottleKey::new(&huge, addr).email_sha256.len(), 32);
    }

    #[test]
    fn window_arithmetic() {
        let limits = ThrottleLimits {
            max_failures: 5,
            max_failures_per_addr: 50,
            window_seconds: 60,
        };
        let at = |s: i64| OffsetDateTime::UNIX_EPOCH + Duration::days(1) + Duration::seconds(s);
        assert!(limits.counts(at(0), at(59)));
        assert!(!limits.counts(at(0), at(60)), "gone at exactly the window");
        assert_eq!(limits.wait(at(0), at(10)), 50);
        assert_eq!(limits.wait(at(0), at(60)), 1, "never 0");
        let early = ThrottleLimits {
            window_seconds: u64::MAX,
            ..limits
        };
        assert_eq!(early.window_start(at(0)), OffsetDateTime::UNIX_EPOCH);
    }
}
