//! `LoginThrottle` over PostgreSQL: the attempts live in the
//! `login_failures` table, so every instance on the database counts the
//! same attempts and enforces one limit.
//!
//! The semantics are the port's (and the memory adapter's): an attempt is
//! admitted and counted in one statement, run under a transaction-level
//! advisory lock per client address, so concurrent attempts from one
//! address, on any number of instances, are counted one after the other
//! and never pass a limit. Times come from the service's clock, never the
//! database's; the window arithmetic is `ThrottleLimits`'.

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{PgStore, errors::bad_row, queries};
use crate::domain::StoreError;
use crate::ports::{Admission, Attempt, LoginThrottle, ThrottleKey, ThrottleLimits};

/// Login attempts per email and address, and per address, in PostgreSQL.
/// Clones share the pool.
#[derive(Clone)]
pub struct PostgresThrottle {
    store: PgStore,
    limits: ThrottleLimits,
}

impl PostgresThrottle {
    /// Counts in `store`'s database with these limits (instances sharing
    /// a database should share the limits too).
    pub fn new(store: PgStore, limits: ThrottleLimits) -> Self {
        Self { store, limits }
    }
}

/// The advisory lock key of an address: the first 8 bytes of a SHA-256
/// (two addresses sharing a key merely take turns).
fn addr_lock(key: &ThrottleKey) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"login-throttle:")
        .chain_update(key.addr.to_string())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[async_trait]
impl LoginThrottle for PostgresThrottle {
    async fn admit(&self, key: &ThrottleKey, now: OffsetDateTime) -> Result<Admission, StoreError> {
        let limits = &self.limits;
        if limits.is_off() {
            return Ok(Admission::Admitted(Attempt(0)));
        }
        let email = key.email_sha256.as_slice();
        let start = limits.window_start(now);
        let (pair_limit, addr_limit) = (
            i64::from(limits.max_failures),
            i64::from(limits.max_failures_per_addr),
        );
        let rows = self
            .store
            .query_locked(
                addr_lock(key),
                queries::ADMIT_LOGIN,
                &[&key.addr, &email, &start, &pair_limit, &addr_limit, &now],
            )
            .await
            .map_err(|e| e.into_store("count a login attempt"))?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Unavailable("count a login attempt: no row".into()))?;
        let read = |name: &str| {
            row.try_get::<_, Option<OffsetDateTime>>(name)
                .map_err(|e| bad_row("login attempts", e))
        };
        let held = [read("pair_at")?, read("addr_at")?];
        let admitted: Option<i64> = row
            .try_get("admitted")
            .map_err(|e| bad_row("login attempts", e))?;
        Ok(match admitted {
            Some(id) => Admission::Admitted(Attempt(id)),
            None => Admission::Throttled {
                retry_after_secs: held
                    .into_iter()
                    .flatten()
                    .map(|at| limits.wait(at, now))
                    .max()
                    .unwrap_or(1),
            },
        })
    }

    async fn release(&self, key: &ThrottleKey, attempt: Attempt) -> Result<(), StoreError> {
        if self.limits.is_off() {
            return Ok(());
        }
        let email = key.email_sha256.as_slice();
        self.store
            .execute(queries::RELEASE_LOGIN, &[&key.addr, &email, &attempt.0])
            .await
            .map_err(|e| e.into_store("release a login attempt"))?;
        Ok(())
    }
}
