//! Registration, login, logout and bearer-token authentication.

use super::Service;
use crate::domain::{
    AuthError, EmailAddress, LoginError, NewUser, Password, RegisterError, Role, StoreError, User,
};
use crate::ports::{CreateUserError, IssuedToken, ThrottleKey, TokenClaims};

/// An authenticated request's user, read from the store on this request,
/// and the token it presented.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user as stored now (role included).
    pub user: User,
    /// The presented token's claims, for logout.
    pub token: TokenClaims,
}

/// A successful login.
pub type LoginOutcome = IssuedToken;

impl Service {
    /// Registers a user with the `user` role.
    ///
    /// # Errors
    /// [`RegisterError::EmailTaken`] for a taken email.
    pub async fn register(
        &self,
        email: EmailAddress,
        password: Password,
    ) -> Result<User, RegisterError> {
        let password_hash = self.ports.passwords.hash(&password).await;
        let new = NewUser {
            email: email.clone(),
            password_hash,
            role: Role::User,
        };
        self.ports.users.create(new).await.map_err(|e| match e {
            CreateUserError::EmailTaken => RegisterError::EmailTaken(email),
            CreateUserError::Store(e) => RegisterError::Store(e),
        })
    }

    /// Creates `email` as an admin, or promotes it and leaves its password
    /// alone if it exists.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn ensure_admin(
        &self,
        email: EmailAddress,
        password: Password,
    ) -> Result<User, StoreError> {
        loop {
            if let Some((user, _)) = self.ports.users.get_credentials(&email).await? {
                if user.is_admin() {
                    return Ok(user);
                }
                if let Some(user) = self.ports.users.set_role(user.id, Role::Admin).await? {
                    return Ok(user);
                }
                continue; // deleted meanwhile: create it
            }
            let password_hash = self.ports.passwords.hash(&password).await;
            let new = NewUser {
                email: email.clone(),
                password_hash,
                role: Role::Admin,
            };
            match self.ports.users.create(new).await {
                Ok(user) => return Ok(user),
                Err(CreateUserError::EmailTaken) => continue, // registered meanwhile: promote it
                Err(CreateUserError::Store(e)) => return Err(e),
            }
        }
    }

    /// Checks an email and password and issues a token. Unknown emails run
    /// a dummy verify so both failures take the same time; failures are
    /// throttled per email and address.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`], [`LoginError::Throttled`].
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        addr: std::net::IpAddr,
    ) -> Result<LoginOutcome, LoginError> {
        let key = ThrottleKey {
            email: username.trim().to_lowercase(),
            addr,
        };
        let now = self.ports.clock.now();
        if let Some(retry_after_secs) = self.ports.throttle.retry_after(&key, now).await? {
            return Err(LoginError::Throttled { retry_after_secs });
        }
        let found = match EmailAddress::parse(username) {
            Ok(email) => self.ports.users.get_credentials(&email).await?,
            Err(_) => None,
        };
        let matches = self
            .ports
            .passwords
            .verify(password, found.as_ref().map(|(_, hash)| hash))
            .await;
        match found {
            Some((user, _)) if matches => {
                self.ports.throttle.clear(&key).await?;
                Ok(self.ports.token_issuer.issue(user.id))
            }
            _ => {
                self.ports
                    .throttle
                    .record_failure(&key, self.ports.clock.now())
                    .await?;
                Err(LoginError::InvalidCredentials)
            }
        }
    }

    /// The claims of a token that verifies (signature, algorithm, expiry by
    /// the clock, subject), before any store is asked about it.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] when it does not verify.
    pub fn verify_token(&self, token: &str) -> Result<TokenClaims, AuthError> {
        self.ports
            .token_verifier
            .verify(token)
            .ok_or(AuthError::InvalidToken)
    }

    /// The caller behind a bearer token: the token must verify, not be
    /// revoked, and its user must still exist.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for any token that does not qualify.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        let claims = self.verify_token(token)?;
        let user = self
            .ports
            .users
            .get_active(claims.user_id, &claims.token_id)
            .await?;
        let user = user.ok_or(AuthError::InvalidToken)?;
        Ok(Caller {
            user,
            token: claims,
        })
    }

    /// Revokes the caller's token.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    pub async fn logout(&self, caller: &Caller) -> Result<(), StoreError> {
        let token = &caller.token;
        self.ports
            .users
            .revoke_token(caller.user.id, &token.token_id, token.expires_at)
            .await
    }
}
