//! Sessions and accounts: refresh (rotation, reuse as theft), listing and
//! ending sessions, logout (here or everywhere), an admin's kill switch,
//! and password changes.

use super::{Caller, LoginOutcome, Service};
use crate::domain::{
    AuthError, LoginError, Password, PasswordChangeError, RefreshError, RefreshToken, Session,
    SessionError, SessionId, StoreError, UserError, UserId, policy,
};
use crate::ports::{Admission, Refreshed, ThrottleKey, TokenClaims};

impl Service {
    /// The refresh grant: spends `presented` and issues a new access token
    /// and refresh token in the same session. A spent token ends its
    /// session (reuse is theft); of concurrent refreshes with one token
    /// exactly one succeeds.
    ///
    /// # Errors
    /// [`RefreshError::Invalid`] for an unknown, expired or spent token, or
    /// one whose session or user is gone.
    pub async fn refresh(&self, presented: &RefreshToken) -> Result<LoginOutcome, RefreshError> {
        let issuer = &self.ports.token_issuer;
        let next = issuer.refresh_token();
        let now = self.ports.clock.now();
        let expires_at = now + issuer.refresh_lifetime();
        let refreshed = self
            .ports
            .sessions
            .refresh(presented.hash(), next.hash(), now, expires_at)
            .await?;
        match refreshed {
            Refreshed::Rotated { session, .. } => Ok(self.tokens_for(&session, next)),
            Refreshed::Invalid => Err(RefreshError::Invalid),
        }
    }

    /// The caller's active sessions, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn sessions(&self, caller: &Caller) -> Result<Vec<Session>, StoreError> {
        let now = self.ports.clock.now();
        self.ports.sessions.list(caller.user.id, now).await
    }

    /// Ends one of the caller's sessions.
    ///
    /// # Errors
    /// [`SessionError::NotFound`] when `id` is not an active session of the
    /// caller.
    pub async fn end_session(&self, caller: &Caller, id: SessionId) -> Result<(), SessionError> {
        let now = self.ports.clock.now();
        if self.ports.sessions.end(caller.user.id, id, now).await? {
            Ok(())
        } else {
            Err(SessionError::NotFound(id))
        }
    }

    /// Ends the caller's current session (logout): its access tokens and
    /// refresh token stop working.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn logout(&self, caller: &Caller) -> Result<(), StoreError> {
        let now = self.ports.clock.now();
        let (user, session) = (caller.user.id, caller.token.session_id);
        // Already ended (a concurrent logout) is as good.
        self.ports.sessions.end(user, session, now).await.map(drop)
    }

    /// Ends every session of the caller, the current one included.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn logout_all(&self, caller: &Caller) -> Result<(), StoreError> {
        self.ports.sessions.end_all(caller.user.id, None).await
    }

    /// Ends every session of user `id`, for admins.
    ///
    /// # Errors
    /// [`UserError::Forbidden`] for non-admins, [`UserError::NotFound`].
    pub async fn end_user_sessions(&self, caller: &Caller, id: UserId) -> Result<(), UserError> {
        if !policy::can_manage_users(&caller.user) {
            return Err(UserError::Forbidden);
        }
        if self.ports.sessions.end_all_of_user(id).await? {
            Ok(())
        } else {
            Err(UserError::NotFound(id))
        }
    }

    /// Changes the password of the bearer of `token` (verified, not yet
    /// checked against the store), given the current one, and ends every
    /// other session of theirs (the current one goes on). The bearer is
    /// checked in the same store call that counts the attempt and reads
    /// the hash (a password change is two store calls). Throttled as a
    /// login from `addr`: a wrong current password counts as a failed login
    /// for the bearer's email.
    ///
    /// # Errors
    /// [`PasswordChangeError::Auth`] when the token's session is not active
    /// or its user gone; [`PasswordChangeError::Incorrect`],
    /// [`PasswordChangeError::Throttled`].
    pub async fn change_password(
        &self,
        token: &TokenClaims,
        current: &str,
        new: Password,
        addr: std::net::IpAddr,
    ) -> Result<(), PasswordChangeError> {
        let now = self.ports.clock.now();
        let (user, keep) = (token.user_id, token.session_id);
        let check = self
            .ports
            .logins
            .admit_password_change(user, keep, addr, now)
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::InvalidToken)?;
        let attempt = match check.admission {
            Admission::Admitted(attempt) => attempt,
            Admission::Throttled { retry_after_secs } => {
                return Err(PasswordChangeError::Throttled { retry_after_secs });
            }
        };
        if !self
            .ports
            .passwords
            .verify(current, check.hash.as_ref())
            .await
            .map_err(PasswordChangeError::Store)?
        {
            // The attempt stays counted.
            return Err(PasswordChangeError::Incorrect);
        }
        let key = ThrottleKey::new(check.user.email.as_str(), addr);
        let hash = self.ports.passwords.hash(&new).await?;
        self.ports
            .logins
            .finish_password_change(&key, attempt, user, hash, keep)
            .await?;
        Ok(())
    }
}

impl From<LoginError> for PasswordChangeError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Throttled { retry_after_secs } => Self::Throttled { retry_after_secs },
            LoginError::Store(e) => Self::Store(e),
            LoginError::InvalidCredentials => Self::Incorrect,
        }
    }
}
