//! Sessions: a password login starts one; its access tokens name it
//! (`sid`) and its rotating refresh token keeps it going until it ends
//! (logout, logout everywhere, a password change, an admin, theft) or its
//! refresh token expires.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{PasswordHash, SessionId, UserId};

/// Most active sessions one user keeps: a login beyond it ends the least
/// recently used, so that no client can pile up sessions without bound.
pub const MAX_SESSIONS_PER_USER: usize = 100;

/// Longest `User-Agent` kept with a session, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// A session as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Store-assigned id.
    pub id: SessionId,
    /// Its owner.
    pub user_id: UserId,
    /// The login that started it.
    pub created_at: OffsetDateTime,
    /// The login or the latest refresh.
    pub last_used_at: OffsetDateTime,
    /// When its current refresh token expires (and with it the session).
    pub expires_at: OffsetDateTime,
    /// The login request's `User-Agent`, cut to [`MAX_USER_AGENT_CHARS`].
    pub user_agent: Option<String>,
}

impl Session {
    /// Whether the session still authenticates at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at
    }
}

/// The `User-Agent` a session keeps: at most [`MAX_USER_AGENT_CHARS`]
/// characters, none when absent or blank.
pub fn session_user_agent(header: Option<&str>) -> Option<String> {
    let agent = header?.trim();
    (!agent.is_empty()).then(|| agent.chars().take(MAX_USER_AGENT_CHARS).collect())
}

/// An opaque refresh token as the client holds it: 256 random bits,
/// base64url. Kept as a secret (redacted in `Debug`, wiped on drop).
#[derive(Clone, Debug)]
pub struct RefreshToken(SecretString);

impl RefreshToken {
    /// Wraps a token's text (made by the issuer or sent by a client).
    pub fn new(token: &str) -> Self {
        Self(token.into())
    }

    /// The token as the client gets it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What the store keeps instead of the token: its SHA-256.
    pub fn hash(&self) -> RefreshHash {
        RefreshHash(Sha256::digest(self.expose().as_bytes()).into())
    }
}

/// The SHA-256 of a refresh token: the only form a store holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RefreshHash(pub [u8; 32]);

impl fmt::Debug for RefreshHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshHash(..)")
    }
}

/// A session to be started.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Its owner.
    pub user_id: UserId,
    /// The first refresh token's hash.
    pub refresh: RefreshHash,
    /// Now.
    pub created_at: OffsetDateTime,
    /// When the first refresh token expires.
    pub expires_at: OffsetDateTime,
    /// The login's `User-Agent` (see [`session_user_agent`]).
    pub user_agent: Option<String>,
    /// The password hash the login verified: the session starts only while
    /// it is still the user's, so a login racing a password change cannot
    /// outlive it. `None`: whatever the hash.
    pub verified: Option<PasswordHash>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_cut_to_256_characters() {
        assert_eq!(session_user_agent(None), None);
        assert_eq!(session_user_agent(Some("  ")), None);
        assert_eq!(
            session_user_agent(Some("curl/8")).as_deref(),
            Some("curl/8")
        );
        let long = "é".repeat(300);
        assert_eq!(
            session_user_agent(Some(&long)).unwrap().chars().count(),
            256
        );
    }

    #[test]
    fn refresh_tokens_hash_and_hide() {
        let token = RefreshToken::new("abc");
        assert_eq!(token.hash(), RefreshToken::new("abc").hash());
        assert_ne!(token.hash(), RefreshToken::new("abd").hash());
        assert!(!format!("{token:?}").contains("abc"));
    }
}
