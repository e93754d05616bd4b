//! Registration, login (which starts a session) and bearer-token
//! authentication.

use super::Service;
use crate::domain::{
    AuthError, EmailAddress, EnsureAdminError, LoginError, NewSession, NewUser, Password,
    PasswordHash, RefreshToken, RegisterError, Role, Session, User, session_user_agent,
};
use crate::ports::{Admission, CreateUserError, IssuedToken, KeepAdmin, ThrottleKey, TokenClaims};

/// An authenticated request's user, read from the store on this request,
/// and the token it presented.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user as stored now (role included).
    pub user: User,
    /// The presented token's claims (its session: `token.session_id`).
    pub token: TokenClaims,
}

/// A successful login or refresh: an access token and the session's new
/// refresh token.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The access token.
    pub access: IssuedToken,
    /// The session's current refresh token (the only copy: the store keeps
    /// its hash).
    pub refresh: RefreshToken,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

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
        let password_hash = self.ports.passwords.hash(&password).await?;
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

    /// Makes `email` an admin: creates it with `password`, or promotes the
    /// existing account, but only when `password` is that account's own,
    /// so that whoever registered the email first does not become admin.
    /// An account that is an admin already is left as it is (its password
    /// may have changed since it was configured).
    ///
    /// # Errors
    /// [`EnsureAdminError::NotTheOwner`] when the account exists with
    /// another password; [`EnsureAdminError::Store`].
    pub async fn ensure_admin(
        &self,
        email: EmailAddress,
        password: Password,
    ) -> Result<User, EnsureAdminError> {
        loop {
            if let Some((user, hash)) = self.ports.users.get_credentials(&email).await? {
                if user.is_admin() {
                    return Ok(user);
                }
                if !self
                    .ports
                    .passwords
                    .verify(password.expose(), Some(&hash))
                    .await?
                {
                    return Err(EnsureAdminError::NotTheOwner(email));
                }
                match self.ports.users.set_role(user.id, Role::Admin).await? {
                    KeepAdmin::Done(user) => return Ok(user),
                    // Deleted meanwhile: create it.
                    KeepAdmin::NotFound | KeepAdmin::LastAdmin => continue,
                }
            }
            let password_hash = self.ports.passwords.hash(&password).await?;
            let new = NewUser {
                email: email.clone(),
                password_hash,
                role: Role::Admin,
            };
            match self.ports.users.create(new).await {
                Ok(user) => return Ok(user),
                // Registered meanwhile: check it as above.
                Err(CreateUserError::EmailTaken) => continue,
                Err(CreateUserError::Store(e)) => return Err(e.into()),
            }
        }
    }

    /// Checks an email and password and issues a token. Unknown emails run
    /// a dummy verify so both failures take the same time. Attempts are
    /// throttled per email and address: each is counted before its
    /// password is checked, and a success takes its count back.
    ///
    /// A success starts a session, remembering `user_agent`.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`], [`LoginError::Throttled`].
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        addr: std::net::IpAddr,
        user_agent: Option<&str>,
    ) -> Result<LoginOutcome, LoginError> {
        let key = ThrottleKey::new(username, addr);
        let now = self.ports.clock.now();
        let email = EmailAddress::parse(username).ok();
        let (admission, found) = self
            .ports
            .logins
            .admit_login(&key, email.as_ref(), now)
            .await?;
        let attempt = match admission {
            Admission::Admitted(attempt) => attempt,
            Admission::Throttled { retry_after_secs } => {
                return Err(LoginError::Throttled { retry_after_secs });
            }
        };
        let matches = self
            .ports
            .passwords
            .verify(password, found.as_ref().map(|(_, hash)| hash))
            .await?;
        match found {
            Some((user, hash)) if matches => {
                let (new, refresh) = self.new_session(&user, hash, user_agent);
                // None: the password changed (or the user went) while it
                // was being verified; the attempt stays released.
                match self.ports.logins.finish_login(&key, attempt, new).await? {
                    Some(session) => Ok(self.tokens_for(&session, refresh)),
                    None => Err(LoginError::InvalidCredentials),
                }
            }
            // The attempt stays counted.
            _ => Err(LoginError::InvalidCredentials),
        }
    }

    /// A session to start for `user`, whose password `verified` was just
    /// checked, and its first refresh token.
    fn new_session(
        &self,
        user: &User,
        verified: PasswordHash,
        user_agent: Option<&str>,
    ) -> (NewSession, RefreshToken) {
        let issuer = &self.ports.token_issuer;
        let refresh = issuer.refresh_token();
        let now = self.ports.clock.now();
        let new = NewSession {
            user_id: user.id,
            refresh: refresh.hash(),
            created_at: now,
            expires_at: now + issuer.refresh_lifetime(),
            user_agent: session_user_agent(user_agent),
            verified: Some(verified),
        };
        (new, refresh)
    }

    /// The tokens a client gets for `session`: a fresh access token and
    /// the session's current refresh token.
    pub(super) fn tokens_for(&self, session: &Session, refresh: RefreshToken) -> LoginOutcome {
        let issuer = &self.ports.token_issuer;
        LoginOutcome {
            access: issuer.issue(session.user_id, session.id),
            refresh,
            refresh_expires_in: issuer.refresh_lifetime().whole_seconds(),
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

    /// The caller behind a bearer token: the token must verify, its
    /// session be active and the user's own, and its user still exist.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] for any token that does not qualify.
    pub async fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        let claims = self.verify_token(token)?;
        let now = self.ports.clock.now();
        let user = self
            .ports
            .sessions
            .bearer(claims.user_id, claims.session_id, now)
            .await?;
        let user = user.ok_or(AuthError::InvalidToken)?;
        Ok(Caller {
            user,
            token: claims,
        })
    }
}
