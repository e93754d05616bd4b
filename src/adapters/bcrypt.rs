//! Password hashing with bcrypt, on tokio's blocking pool.

use async_trait::async_trait;

use crate::domain::{MAX_PASSWORD_BYTES, Password, PasswordHash};
use crate::ports::PasswordHasher;

/// bcrypt at a configured cost.
pub struct BcryptHasher {
    cost: u32,
    dummy: PasswordHash,
}

impl BcryptHasher {
    /// A hasher at `cost` (4..=31). Hashes a dummy password once, for the
    /// constant-time answer to unknown emails.
    ///
    /// # Errors
    /// When `cost` is out of range.
    pub fn new(cost: u32) -> Result<Self, String> {
        let dummy = bcrypt::hash("not a real password, only for timing", cost)
            .map_err(|e| format!("BCRYPT_COST {cost}: {e}"))?;
        Ok(Self {
            cost,
            dummy: PasswordHash(dummy),
        })
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> PasswordHash {
        let (password, cost) = (password.expose().to_owned(), self.cost);
        let hashed = tokio::task::spawn_blocking(move || bcrypt::hash(password, cost)).await;
        // The cost was checked at start-up and the password is at most 72
        // bytes, so bcrypt cannot fail; a panicked task is a bug.
        PasswordHash(hashed.expect("bcrypt task").expect("bcrypt hash"))
    }

    async fn verify(&self, candidate: &str, hash: Option<&PasswordHash>) -> bool {
        // Over 72 bytes bcrypt would compare a truncated prefix: never a
        // match, but still spend the time, so the answer says nothing.
        let acceptable = candidate.len() <= MAX_PASSWORD_BYTES && hash.is_some();
        let hash = hash.unwrap_or(&self.dummy).0.clone();
        let candidate = candidate.to_owned();
        let matched =
            tokio::task::spawn_blocking(move || bcrypt::verify(candidate, &hash).unwrap_or(false))
                .await;
        acceptable && matched.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_and_never_truncates() {
        let hasher = BcryptHasher::new(4).unwrap();
        let exact = "a".repeat(72);
        let hash = hasher.hash(&Password::parse(&exact).unwrap()).await;
        assert!(hasher.verify(&exact, Some(&hash)).await);
        assert!(
            !hasher.verify(&format!("{exact}b"), Some(&hash)).await,
            "73 bytes must not match"
        );
        assert!(!hasher.verify("wrong password", Some(&hash)).await);
        assert!(!hasher.verify(&exact, None).await);
        assert!(!hash.0.contains(&exact));
    }

    #[test]
    fn rejects_bad_costs() {
        assert!(BcryptHasher::new(3).is_err());
        assert!(BcryptHasher::new(32).is_err());
    }
}
