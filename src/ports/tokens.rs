//! The token ports: issuing and verifying access tokens.

use time::OffsetDateTime;

use crate::domain::UserId;

/// A token's unique id (`jti`), the handle for revocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenId(pub String);

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user it was issued to.
    pub user_id: UserId,
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

/// Signs access tokens.
pub trait TokenIssuer: Send + Sync + 'static {
    /// A new token for `user_id`, valid from now for the configured lifetime.
    fn issue(&self, user_id: UserId) -> IssuedToken;
}

/// Verifies access tokens: signature, algorithm, expiry, subject.
/// Revocation and the user's existence are the stores' business.
pub trait TokenVerifier: Send + Sync + 'static {
    /// The claims of a valid token, or `None` for anything else.
    fn verify(&self, token: &str) -> Option<TokenClaims>;
}
