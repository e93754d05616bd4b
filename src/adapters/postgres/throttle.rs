//! `LoginThrottle` over PostgreSQL: the failed logins live in the
//! `login_failures` table, so every instance on the database counts the
//! same failures and enforces one limit.
//!
//! The semantics are those of the memory adapter: a sliding window per
//! email and address and per address, the wait being until the failure
//! that holds the count at its limit leaves the window; a success clears
//! the pair, not the address; a limit of 0 is off. Each call is one
//! statement (none when the limits it needs are off). Times come from the
//! service's clock, never the database's.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::{PgStore, queries};
use crate::domain::StoreError;
use crate::ports::{LoginThrottle, ThrottleKey, ThrottleLimits};

/// Failed logins per email and address, and per address, in PostgreSQL.
/// Clones share the pool.
#[derive(Clone)]
pub struct PostgresThrottle {
    store: PgStore,
    limits: ThrottleLimits,
}

impl PostgresThrottle {
    /// Counters in `store`'s database with these limits (instances sharing
    /// a database should share the limits too).
    pub fn new(store: PgStore, limits: ThrottleLimits) -> Self {
        Self { store, limits }
    }

    /// The start of the window ending at `now`: failures after it count.
    fn window_start(&self, now: OffsetDateTime) -> OffsetDateTime {
        i64::try_from(self.limits.window_seconds)
            .ok()
            .and_then(|secs| now.checked_sub(Duration::seconds(secs)))
            .map_or(OffsetDateTime::UNIX_EPOCH, |start| {
                start.max(OffsetDateTime::UNIX_EPOCH)
            })
    }

    /// Seconds from `now` until a failure at `failed_at` leaves the window;
    /// at least 1.
    fn wait(&self, failed_at: OffsetDateTime, now: OffsetDateTime) -> u64 {
        let elapsed = (now - failed_at).as_seconds_f64();
        let secs = (self.limits.window_seconds as f64 - elapsed).ceil();
        (secs as u64).max(1)
    }
}

/// The key's email as stored: its SHA-256.
fn email_digest(key: &ThrottleKey) -> Vec<u8> {
    Sha256::digest(key.email.as_bytes()).to_vec()
}

#[async_trait]
impl LoginThrottle for PostgresThrottle {
    async fn retry_after(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError> {
        let pair_limit = i64::from(self.limits.max_failures);
        let addr_limit = i64::from(self.limits.max_failures_per_addr);
        if pair_limit == 0 && addr_limit == 0 {
            return Ok(None);
        }
        let email = email_digest(key);
        let start = self.window_start(now);
        let row = self
            .store
            .query_opt(
                queries::THROTTLE_RELEASES,
                &[&key.addr, &email, &start, &pair_limit, &addr_limit],
            )
            .await
            .map_err(|e| e.into_store("read login failures"))?
            .ok_or_else(|| StoreError::Unavailable("read login failures: no row".into()))?;
        let releases: [Option<OffsetDateTime>; 2] = [
            row.try_get(0)
                .map_err(|e| super::errors::bad_row("login failures", e))?,
            row.try_get(1)
                .map_err(|e| super::errors::bad_row("login failures", e))?,
        ];
        Ok(releases
            .into_iter()
            .flatten()
            .map(|failed_at| self.wait(failed_at, now))
            .max())
    }

    async fn record_failure(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if self.limits.max_failures == 0 && self.limits.max_failures_per_addr == 0 {
            return Ok(());
        }
        let email = email_digest(key);
        let start = self.window_start(now);
        self.store
            .execute(
                queries::RECORD_LOGIN_FAILURE,
                &[&key.addr, &email, &now, &start],
            )
            .await
            .map_err(|e| e.into_store("record login failure"))?;
        Ok(())
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), StoreError> {
        if self.limits.max_failures == 0 {
            // Only the pair's count is cleared, and it is off.
            return Ok(());
        }
        let email = email_digest(key);
        self.store
            .execute(queries::CLEAR_LOGIN_FAILURES, &[&key.addr, &email])
            .await
            .map_err(|e| e.into_store("clear login failures"))?;
        Ok(())
    }
}
