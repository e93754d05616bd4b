//! The token ports: issuing and verifying access tokens.

use time::OffsetDateTime;

use crate::domain::{RefreshToken, SessionId, UserId};

/// A token's unique id (`jti`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(pub String);

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user it was issued to.
    pub user_id: UserId,
    /// Its session (`sid`).
    pub session_id: SessionId,
    /// Its unique id.
    pub token_id: TokenId,
    /// When it stops verifying.
    pub expires_at: OffsetDateTime,
}

/// A freshly signed token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The encoded token.
    pub token: String,
    /// Its claims.
    pub claims: TokenClaims,
    /// Lifetime in seconds.
    pub expires_in: i64,
}

/// Signs access tokens and makes refresh tokens.
pub trait TokenIssuer: Send + Sync + 'static {
    /// A new access token for `user_id` in `session`, valid from now for
    /// the configured lifetime.
    fn issue(&self, user_id: UserId, session: SessionId) -> IssuedToken;

    /// A new refresh token: at least 128 random bits, opaque.
    fn refresh_token(&self) -> RefreshToken;

    /// How long a refresh token stays valid (`REFRESH_TOKEN_EXPIRE_DAYS`).
    fn refresh_lifetime(&self) -> time::Duration;
}

/// Verifies access tokens: signature, algorithm, expiry, subject, session.
/// Whether the session is active and the user exists is the store's
/// business.
pub trait TokenVerifier: Send + Sync + 'static {
    /// The claims of a valid token, or `None` for anything else.
    fn verify(&self, token: &str) -> Option<TokenClaims>;
}
