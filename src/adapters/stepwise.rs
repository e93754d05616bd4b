//! `LoginFlow` by the ports it names, one call after another: for stores
//! that gain nothing from grouping them (memory).

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    EmailAddress, NewSession, PasswordHash, Session, SessionId, StoreError, User, UserId,
};
use crate::ports::{
    Admission, Attempt, LoginFlow, LoginThrottle, PasswordCheck, SessionStore, ThrottleKey,
    UserStore,
};

/// The login flow over separate ports.
#[derive(Clone)]
pub struct Stepwise {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    throttle: Arc<dyn LoginThrottle>,
}

impl Stepwise {
    /// The flow over these ports.
    pub fn new(
        users: Arc<dyn UserStore>,
        sessions: Arc<dyn SessionStore>,
        throttle: Arc<dyn LoginThrottle>,
    ) -> Self {
        Self {
            users,
            sessions,
            throttle,
        }
    }
}

#[async_trait]
impl LoginFlow for Stepwise {
    async fn admit_login(
        &self,
        key: &ThrottleKey,
        email: Option<&EmailAddress>,
        now: OffsetDateTime,
    ) -> Result<(Admission, Option<(User, PasswordHash)>), StoreError> {
        let admission = self.throttle.admit(key, now).await?;
        let found = match (admission, email) {
            (Admission::Admitted(_), Some(email)) => self.users.get_credentials(email).await?,
            _ => None,
        };
        Ok((admission, found))
    }

    async fn finish_login(
        &self,
        key: &ThrottleKey,
        attempt: Attempt,
        new: NewSession,
    ) -> Result<Option<Session>, StoreError> {
        self.throttle.release(key, attempt).await?;
        self.sessions.start(new).await
    }

    async fn admit_password_change(
        &self,
        user: UserId,
        session: SessionId,
        addr: IpAddr,
        now: OffsetDateTime,
    ) -> Result<Option<PasswordCheck>, StoreError> {
        let Some(user) = self.sessions.bearer(user, session, now).await? else {
            return Ok(None);
        };
        let key = ThrottleKey::new(user.email.as_str(), addr);
        let admission = self.throttle.admit(&key, now).await?;
        let hash = match admission {
            Admission::Admitted(_) => self.users.get_credentials(&user.email).await?,
            Admission::Throttled { .. } => None,
        };
        Ok(Some(PasswordCheck {
            user,
            admission,
            hash: hash.map(|(_, hash)| hash),
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
        self.throttle.release(key, attempt).await?;
        self.users.set_password(user, hash, keep).await
    }
}
