//! `LoginThrottle` and `LoginFlow` over PostgreSQL: the attempts live in
//! `login_gates` (migration V11), so every instance on the database counts
//! the same attempts and enforces one limit.
//!
//! The semantics are the port's (and the memory adapter's): an attempt is
//! admitted and counted by one upsert of its gate's row, which PostgreSQL
//! computes from the row's newest version after waiting for it, so
//! concurrent attempts from one address, on any number of instances, are
//! counted one after the other and never pass a limit (see
//! `queries::throttle`). No advisory lock, no transaction of several
//! statements: a login or a password change runs two statements, the
//! admission riding in the first (with the credentials, or the bearer
//! check and the hash) and the release in the second (with the new session
//! or the new password). Times come from the service's clock, never the
//! database's; the window arithmetic is `ThrottleLimits`'.

use std::net::IpAddr;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::sessions::{StartParams, started};
use super::{PgStore, errors::bad_row, queries, rows};
use crate::domain::{
    EmailAddress, NewSession, PasswordHash, Session, SessionId, StoreError, User, UserId,
};
use crate::ports::{
    Admission, Attempt, LoginFlow, LoginThrottle, PasswordCheck, ThrottleKey, ThrottleLimits,
};

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

    /// The limits as the statements take them: per pair, per address.
    fn limits(&self) -> (i64, i64) {
        (
            i64::from(self.limits.max_failures),
            i64::from(self.limits.max_failures_per_addr),
        )
    }

    /// The admission a row of `admit_gate!` says (its columns `pair_at`,
    /// `addr_at`, `admitted`); every attempt while throttling is off.
    fn admission(&self, row: &Row, now: OffsetDateTime) -> Result<Admission, StoreError> {
        let limits = &self.limits;
        if limits.is_off() {
            return Ok(Admission::Admitted(Attempt(0)));
        }
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
}

#[async_trait]
impl LoginThrottle for PostgresThrottle {
    async fn admit(&self, key: &ThrottleKey, now: OffsetDateTime) -> Result<Admission, StoreError> {
        if self.limits.is_off() {
            return Ok(Admission::Admitted(Attempt(0)));
        }
        let email = key.email_sha256.as_slice();
        let start = self.limits.window_start(now);
        let (pair, per_addr) = self.limits();
        let row = self
            .store
            .query_opt(
                queries::ADMIT_LOGIN,
                &[&key.addr, &email, &start, &pair, &per_addr, &now],
            )
            .await
            .map_err(|e| e.into_store("count a login attempt"))?
            .ok_or_else(|| StoreError::Unavailable("count a login attempt: no row".into()))?;
        self.admission(&row, now)
    }

    async fn release(&self, key: &ThrottleKey, attempt: Attempt) -> Result<(), StoreError> {
        if self.limits.is_off() {
            return Ok(());
        }
        let email = key.email_sha256.as_slice();
        let (_, per_addr) = self.limits();
        self.store
            .query(
                queries::RELEASE_LOGIN,
                &[&key.addr, &email, &attempt.0, &per_addr],
            )
            .await
            .map_err(|e| e.into_store("release a login attempt"))?;
        Ok(())
    }
}

#[async_trait]
impl LoginFlow for PostgresThrottle {
    async fn admit_login(
        &self,
        key: &ThrottleKey,
        email: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<(Admission, Option<(User, PasswordHash)>), StoreError> {
        let hashed = key.email_sha256.as_slice();
        let start = self.limits.window_start(now);
        let (pair, per_addr) = self.limits();
        let email = email.map(EmailAddress::as_str);
        let row = self
            .store
            .query_opt(
                queries::ADMIT_LOGIN_WITH_CREDENTIALS,
                &[&key.addr, &hashed, &start, &pair, &per_addr, &now, &email],
            )
            .await
            .map_err(|e| e.into_store("count a login attempt"))?;
        // Always a row (the gate's columns null while throttling is off).
        let Some(row) = row else {
            return Err(StoreError::Unavailable(
                "count a login attempt: no row".into(),
            ));
        };
        let admission = self.admission(&row, now)?;
        let found = match row
            .try_get::<_, Option<i64>>("user_id")
            .map_err(|e| bad_row("users", e))?
        {
            Some(_) => Some(rows::credentials(&row)?),
            None => None,
        };
        Ok((admission, found))
    }

    async fn finish_login(
        &self,
        key: &ThrottleKey,
        attempt: Attempt,
        new: NewSession,
    ) -> Result<Option<Session>, StoreError> {
        let email = key.email_sha256.as_slice();
        let (_, per_addr) = self.limits();
        let start = StartParams::new(&new);
        let [a, b, c, d, e, f, g] = start.params();
        let row = self
            .store
            .query_opt(
                queries::RELEASE_AND_START_SESSION,
                &[
                    a, b, c, d, e, f, g, &key.addr, &email, &attempt.0, &per_addr,
                ],
            )
            .await;
        started(row)
    }

    async fn admit_password_change(
        &self,
        user: UserId,
        session: SessionId,
        addr: IpAddr,
        now: OffsetDateTime,
    ) -> Result<Option<PasswordCheck>, StoreError> {
        let start = self.limits.window_start(now);
        let (pair, per_addr) = self.limits();
        let row = self
            .store
            .query_opt(
                queries::BEARER_ADMIT_PASSWORD,
                &[
                    &user.get(),
                    &session.get(),
                    &now,
                    &addr,
                    &start,
                    &pair,
                    &per_addr,
                ],
            )
            .await
            .map_err(|e| e.into_store("check a password change"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (user, hash) = rows::credentials(&row)?;
        let admission = self.admission(&row, now)?;
        Ok(Some(PasswordCheck {
            user,
            admission,
            hash: Some(hash),
        }))
    }

    async fn finish_password_change(
        &self,
        key: &ThrottleKey,
        attempt: Attempt,
        user: UserId,
        hash: PasswordHash,
        keep: SessionId,
    ) -> Result<bool, StoreError> {
        let email = key.email_sha256.as_slice();
        let (_, per_addr) = self.limits();
        let changed = self
            .store
            .query_opt(
                queries::RELEASE_AND_SET_PASSWORD,
                &[
                    &user.get(),
                    &hash.expose(),
                    &keep.get(),
                    &key.addr,
                    &email,
                    &attempt.0,
                    &per_addr,
                ],
            )
            .await
            .map_err(|e| e.into_store("set password"))?;
        Ok(changed.is_some())
    }
}
