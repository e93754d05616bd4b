//! The login flow port: what a login and a password change ask of the
//! stores and the throttle, grouped as the flows use them, so that a store
//! can answer each group in one call (PostgreSQL: one statement, so that
//! a login or a password change runs two in all; issue 12, target 7).
//!
//! Each method means exactly the port calls it names, in that order; the
//! adapter that has no better way composes them ([`crate::adapters::stepwise`]).

use std::net::IpAddr;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Admission, Attempt, ThrottleKey};
use crate::domain::{
    EmailAddress, NewSession, PasswordHash, Session, SessionId, StoreError, User, UserId,
};

/// The first step of a password change: the bearer, their attempt's
/// admission, and their password hash.
#[derive(Debug)]
pub struct PasswordCheck {
    /// The bearer, as stored now.
    pub user: User,
    /// The attempt, counted for the bearer's email from the client's
    /// address (`ThrottleKey::new(user.email, addr)`).
    pub admission: Admission,
    /// The bearer's password hash (`None` when the user went meanwhile, or
    /// when the attempt was refused and the store did not read it).
    pub hash: Option<PasswordHash>,
}

/// Logins and password changes, each in two calls.
#[async_trait]
pub trait LoginFlow: Send + Sync + 'static {
    /// `LoginThrottle::admit(key, now)`, then, when admitted and `email`
    /// is one, `UserStore::get_credentials(email)` (a store may read them
    /// in any case).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn admit_login(
        &self,
        key: &ThrottleKey,
        email: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<(Admission, Option<(User, PasswordHash)>), StoreError>;

    /// `LoginThrottle::release(key, attempt)`, then `SessionStore::start(new)`
    /// (its answer: `None` when the verified hash is no longer the user's).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn finish_login(
        &self,
        key: &ThrottleKey,
        attempt: Attempt,
        new: NewSession,
    ) -> Result<Option<Session>, StoreError>;

    /// `SessionStore::bearer(user, session, now)`; when that is a user,
    /// `LoginThrottle::admit` of their email from `addr` at `now`, then,
    /// when admitted, their password hash. `None`: the session is not the
    /// user's or not active (nothing counted).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn admit_password_change(
        &self,
        user: UserId,
        session: SessionId,
        addr: IpAddr,
        now: OffsetDateTime,
    ) -> Result<Option<PasswordCheck>, StoreError>;

    /// `LoginThrottle::release(key, attempt)`, then
    /// `UserStore::set_password(user, hash, keep)` (its answer).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn finish_password_change(
        &self,
        key: &ThrottleKey,
        attempt: Attempt,
        user: UserId,
        hash: PasswordHash,
        keep: SessionId,
    ) -> Result<bool, StoreError>;
}
