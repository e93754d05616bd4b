//! The ports: what the service needs from the outside world, in domain terms.
//! Adapters implement them; `app.rs` picks the implementations once.

mod clock;
mod logins;
mod passwords;
mod pool;
mod sessions;
mod stores;
mod throttle;
mod tokens;

use std::sync::Arc;

pub use clock::Clock;
pub use logins::{LoginFlow, PasswordCheck};
pub use passwords::PasswordHasher;
pub use pool::{PoolMonitor, PoolStats};
pub use sessions::{Refreshed, SessionStore};
pub use stores::{
    AddVote, CreateUserError, KeepAdmin, PostChange, PostStore, UserStore, VoteStore, Voted,
};
pub use throttle::{Admission, Attempt, LoginThrottle, ThrottleKey, ThrottleLimits};
pub use tokens::{IssuedToken, TokenClaims, TokenId, TokenIssuer, TokenVerifier};

/// Every port, chosen once at start-up.
#[derive(Clone)]
pub struct Ports {
    /// Users and their credentials.
    pub users: Arc<dyn UserStore>,
    /// Sessions, and who presents an access token.
    pub sessions: Arc<dyn SessionStore>,
    /// Posts with owners and vote counts.
    pub posts: Arc<dyn PostStore>,
    /// Votes.
    pub votes: Arc<dyn VoteStore>,
    /// Signs access tokens.
    pub token_issuer: Arc<dyn TokenIssuer>,
    /// Verifies access tokens.
    pub token_verifier: Arc<dyn TokenVerifier>,
    /// Hashes and checks passwords.
    pub passwords: Arc<dyn PasswordHasher>,
    /// Logins and password changes: the stores' calls they make, and the
    /// counting of login attempts (a `LoginThrottle`).
    pub logins: Arc<dyn LoginFlow>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}
