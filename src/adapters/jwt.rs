//! Access tokens as HS256 JWTs over `jsonwebtoken`: `sub`, `sid`, `iat`,
//! `exp`, `jti`, and a `kid` header naming the signing key so keys can
//! rotate. Refresh tokens are not JWTs: 256 random bits, base64url.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::domain::{RefreshToken, SessionId, UserId};
use crate::ports::{Clock, IssuedToken, TokenClaims, TokenId, TokenIssuer, TokenVerifier};

/// Makes token ids; injected so tests can predict them.
pub type TokenIdSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The claims on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    iat: i64,
    exp: i64,
    jti: String,
}

struct Key {
    kid: String,
    /// HMAC-SHA256 keyed with the secret, cloned for each token: the key's
    /// two padded blocks are hashed once here, where
    /// `jsonwebtoken::crypto::verify` builds a keyed verifier per call
    /// (some 7,000 instructions, 9 % of an authenticated read).
    mac: Hmac<Sha256>,
}

/// Issues and verifies tokens; signs with the current key, verifies with
/// the current and every previous key.
pub struct JwtTokens {
    encoding: EncodingKey,
    kid: String,
    keys: Vec<Key>,
    lifetime: Duration,
    refresh_lifetime: Duration,
    clock: Arc<dyn Clock>,
    token_ids: TokenIdSource,
}

/// How long refresh tokens live unless configured (14 days).
const DEFAULT_REFRESH_LIFETIME: Duration = Duration::days(14);

/// A key id that names a secret without revealing it: the first 8 bytes of
/// its SHA-256, in hex.
pub fn key_id(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Random token ids (UUID v4).
pub fn random_token_ids() -> TokenIdSource {
    Arc::new(|| uuid::Uuid::new_v4().simple().to_string())
}

impl JwtTokens {
    /// Tokens signed with `secret`, also verified with `previous`, living
    /// `lifetime` by `clock`.
    pub fn new(
        secret: &str,
        previous: &[String],
        lifetime: Duration,
        clock: Arc<dyn Clock>,
        token_ids: TokenIdSource,
    ) -> Self {
        let keys = std::iter::once(secret)
            .chain(previous.iter().map(String::as_str))
            .map(|s| Key {
                kid: key_id(s),
                mac: Hmac::new_from_slice(s.as_bytes()).expect("HMAC takes a key of any length"),
            })
            .collect();
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            kid: key_id(secret),
            keys,
            lifetime,
            refresh_lifetime: DEFAULT_REFRESH_LIFETIME,
            clock,
            token_ids,
        }
    }

    /// The same, with refresh tokens living `lifetime`.
    #[must_use]
    pub fn with_refresh_lifetime(self, lifetime: Duration) -> Self {
        Self {
            refresh_lifetime: lifetime,
            ..self
        }
    }

    /// The claims of a token signed with one of the keys, else `None`.
    ///
    /// `jsonwebtoken::decode` would parse the header three times and the
    /// claims twice (and build a verifier per call) on every request; here
    /// the header is parsed once, the signature checked with the key's
    /// prepared MAC, and the claims read once into `Claims`, whose fields
    /// are all required.
    fn decode(&self, token: &str) -> Option<Claims> {
        let (message, signature) = token.rsplit_once('.')?;
        let (_, payload) = message.split_once('.')?;
        let header = jsonwebtoken::decode_header(token).ok()?;
        // The algorithm is pinned: `none`, HS384, RS256... never verify.
        if header.alg != Algorithm::HS256 {
            return None;
        }
        // The kid names the key; a token without one, or naming a key not
        // configured, does not verify (trying every key would let a
        // retired or foreign kid through and cost a MAC per key).
        let kid = header.kid?;
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        if !self.signed_by(key, message, signature) {
            return None;
        }
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        serde_json::from_slice(&json).ok()
    }

    /// Whether `signature` (base64url, as in the token) is the HS256 MAC
    /// of `message` under `key`, compared in constant time.
    fn signed_by(&self, key: &Key, message: &str, signature: &str) -> bool {
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = key.mac.clone();
        mac.update(message.as_bytes());
        mac.verify_slice(&signature).is_ok()
    }
}

impl TokenIssuer for JwtTokens {
    fn issue(&self, user_id: UserId, session: SessionId) -> IssuedToken {
        let now = self.clock.now();
        let expires_at = now + self.lifetime;
        let claims = Claims {
            sub: user_id.to_string(),
            sid: session.to_string(),
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            jti: (self.token_ids)(),
        };
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(Algorithm::HS256)
        };
        // HS256 over serialisable claims with an HMAC key cannot fail.
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding)
            .expect("HS256 signing cannot fail");
        IssuedToken {
            token,
            claims: TokenClaims {
                user_id,
                session_id: session,
                token_id: TokenId(claims.jti),
                expires_at: OffsetDateTime::from_unix_timestamp(claims.exp).unwrap_or(expires_at),
            },
            expires_in: self.lifetime.whole_seconds(),
        }
    }

    fn refresh_token(&self) -> RefreshToken {
        let mut bytes = [0u8; 32];
        // The OS's randomness; without it no token can be safe.
        getrandom::fill(&mut bytes).expect("the operating system's randomness");
        RefreshToken::new(&URL_SAFE_NO_PAD.encode(bytes))
    }

    fn refresh_lifetime(&self) -> Duration {
        self.refresh_lifetime
    }
}

impl TokenVerifier for JwtTokens {
    fn verify(&self, token: &str) -> Option<TokenClaims> {
        let claims = self.decode(token)?;
        let expires_at = OffsetDateTime::from_unix_timestamp(claims.exp).ok()?;
        // Valid strictly before `exp` (RFC 7519 4.1.4), with no leeway.
        if self.clock.now() >= expires_at {
            return None;
        }
        let user_id = parse_subject(&claims.sub)?;
        let session_id = parse_id(&claims.sid).and_then(SessionId::new)?;
        if claims.jti.is_empty() {
            return None;
        }
        Some(TokenClaims {
            user_id,
            session_id,
            token_id: TokenId(claims.jti),
            expires_at,
        })
    }
}

/// A `sub` is a user id in canonical decimal: no sign, no leading zeros.
fn parse_subject(sub: &str) -> Option<UserId> {
    parse_id(sub).and_then(UserId::new)
}

/// An id claim (`sub`, `sid`) in canonical decimal: no sign, no leading
/// zeros, in `i64`.
fn parse_id(text: &str) -> Option<i64> {
    if text.is_empty() || text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::clock::ManualClock;

    fn sid() -> SessionId {
        SessionId::new(3).unwrap()
    }

    fn tokens(secret: &str, previous: &[&str], clock: &ManualClock) -> JwtTokens {
        let previous: Vec<String> = previous.iter().map(|s| (*s).to_owned()).collect();
        JwtTokens::new(
            secret,
            &previous,
            Duration::minutes(30),
            Arc::new(clock.clone()),
            random_token_ids(),
        )
    }

    #[test]
    fn only_the_exact_signature_verifies() {
        let clock = ManualClock::starting_now();
        let jwt = tokens("s1", &[], &clock);
        let token = jwt.issue(UserId::new(7).unwrap(), sid()).token;
        let (message, signature) = token.rsplit_once('.').unwrap();
        // The signature is jsonwebtoken's own (it signs), checked here.
        let expected = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(b"s1"),
            Algorithm::HS256,
        )
        .unwrap();
        assert_eq!(signature, expected);
        let flipped = |c: char| if c == 'A' { 'B' } else { 'A' };
        let mut bad = vec![
            format!("{message}."),
            format!("{message}.{}", &signature[..signature.len() - 1]),
            format!("{message}.{signature}A"),
            format!("{message}.{signature}="),
            format!("{message}.!{}", &signature[1..]),
        ];
        for at in [0, signature.len() / 2, signature.len() - 1] {
            let mut s: Vec<char> = signature.chars().collect();
            s[at] = flipped(s[at]);
            bad.push(format!("{message}.{}", s.into_iter().collect::<String>()));
        }
        for token in bad {
            assert!(jwt.verify(&token).is_none(), "{token}");
        }
        assert!(jwt.verify(&token).is_some());
    }

    #[test]
    fn issued_tokens_verify_until_exp() {
        let clock = ManualClock::starting_now();
        let jwt = tokens("s1", &[], &clock);
        let issued = jwt.issue(UserId::new(7).unwrap(), sid());
        assert_eq!(issued.expires_in, 1800);
        let claims = jwt.verify(&issued.token).expect("valid");
        assert_eq!(claims.user_id.get(), 7);
        assert_eq!(claims, issued.claims);
        clock.advance(Duration::seconds(1799));
        assert!(jwt.verify(&issued.token).is_some());
        clock.advance(Duration::seconds(1));
        assert!(
            jwt.verify(&issued.token).is_none(),
            "expired exactly at exp"
        );
    }

    #[test]
    fn previous_keys_verify_and_unknown_keys_do_not() {
        let clock = ManualClock::starting_now();
        let old = tokens("old", &[], &clock)
            .issue(UserId::new(1).unwrap(), sid())
            .token;
        assert!(tokens("new", &["old"], &clock).verify(&old).is_some());
        assert!(tokens("new", &[], &clock).verify(&old).is_none());
    }

    #[test]
    fn only_the_key_the_kid_names_verifies() {
        let clock = ManualClock::starting_now();
        let jwt = tokens("s1", &["s0"], &clock);
        let issued = jwt.issue(UserId::new(1).unwrap(), sid()).token;
        let payload = issued.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let signed = |secret: &str, kid: Option<String>| {
            let header = jsonwebtoken::Header {
                kid,
                ..jsonwebtoken::Header::new(Algorithm::HS256)
            };
            let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        };
        assert!(jwt.verify(&signed("s1", Some(key_id("s1")))).is_some());
        assert!(jwt.verify(&signed("s0", Some(key_id("s0")))).is_some());
        for kid in [None, Some(String::new()), Some("unknown".into())] {
            assert!(jwt.verify(&signed("s1", kid.clone())).is_none(), "{kid:?}");
        }
        // A configured key's kid on another configured key's signature.
        assert!(jwt.verify(&signed("s0", Some(key_id("s1")))).is_none());
    }

    #[test]
    fn subjects_must_be_canonical_positive_ids() {
        assert_eq!(parse_subject("42").map(UserId::get), Some(42));
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "01",
            "1.0",
            " 1",
            "9223372036854775808",
            "abc",
        ] {
            assert!(parse_subject(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn header_names_the_key() {
        let clock = ManualClock::starting_now();
        let token = tokens("s1", &[], &clock)
            .issue(UserId::new(1).unwrap(), sid())
            .token;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key_id("s1").as_str()));
        assert_eq!(header.alg, Algorithm::HS256);
    }
}
