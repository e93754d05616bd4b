//! Demo and load-test data: `--demo` seeds a few users and posts so that
//! Swagger UI has something to show; `--seed-posts N` seeds generated posts
//! for benches. Start-up work over the use cases, not HTTP.

use super::{Caller, Service};
use crate::domain::{
    EmailAddress, EnsureAdminError, FieldError, Password, PostContent, PostError, PostTitle,
    RegisterError, SessionId, StoreError, User,
};

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A seed value is invalid (a bug in the constants).
    #[error("invalid seed data: {0}")]
    Invalid(#[from] FieldError),
    /// The demo admin's email belongs to another account.
    #[error(transparent)]
    Admin(#[from] EnsureAdminError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RegisterError> for SeedError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Store(e) => Self::Store(e),
            // Callers handle a taken email; anything else is the store's.
            RegisterError::EmailTaken(email) => {
                Self::Store(StoreError::Unavailable(format!("{email} is taken")))
            }
        }
    }
}

impl From<PostError> for SeedError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::Store(e) => Self::Store(e),
            other => Self::Store(StoreError::Unavailable(other.to_string())),
        }
    }
}

/// Demo accounts: email, password, admin?
pub const ACCOUNTS: [(&str, &str, bool); 3] = [
    ("admin@example.com", "admin-password", true),
    ("alice@example.com", "alice-password", false),
    ("bob@example.com", "bob-password", false),
];

const POSTS: [(usize, &str, &str, bool); 4] = [
    (1, "Hello from Alice", "My first post on this API.", true),
    (
        1,
        "Alice's draft",
        "Only Alice and admins can see this one.",
        false,
    ),
    (
        2,
        "Rust and FastAPI",
        "The same API, with types all the way down.",
        true,
    ),
    (2, "Votes", "Try POST /vote with this post's id.", true),
];

/// The owner of `--seed-posts` posts and their password.
pub const SEED_ACCOUNT: (&str, &str) = ("seed@example.com", "seed-password");

impl Service {
    /// Seeds the demo accounts ([`ACCOUNTS`], existing ones reused) and
    /// their posts.
    ///
    /// # Errors
    /// [`SeedError`] when the store fails.
    pub async fn seed_demo(&self) -> Result<(), SeedError> {
        let mut callers = Vec::new();
        for (email, password, admin) in ACCOUNTS {
            let email = EmailAddress::parse(email)?;
            let password = Password::parse(password)?;
            let user = if admin {
                self.ensure_admin(email, password).await?
            } else {
                self.registered(email, password).await?
            };
            callers.push(self.seed_caller(user));
        }
        for (who, title, content, published) in POSTS {
            let (title, content) = (PostTitle::parse(title)?, PostContent::parse(content)?);
            self.create_post(&callers[who], title, content, published)
                .await?;
        }
        Ok(())
    }

    /// Seeds `n` generated posts (every tenth a draft) owned by
    /// [`SEED_ACCOUNT`], for load tests.
    ///
    /// # Errors
    /// [`SeedError`] when the store fails.
    pub async fn seed_posts(&self, n: u64) -> Result<(), SeedError> {
        let email = EmailAddress::parse(SEED_ACCOUNT.0)?;
        let password = Password::parse(SEED_ACCOUNT.1)?;
        let caller = self.seed_caller(self.registered(email, password).await?);
        let content = PostContent::parse(&"lorem ipsum ".repeat(17)[..200])?;
        for i in 0..n {
            let title = PostTitle::parse(&format!("Seeded post number {i}"))?;
            self.create_post(&caller, title, content.clone(), i % 10 != 0)
                .await?;
        }
        Ok(())
    }

    /// The user registered with `email`, registering it if needed.
    async fn registered(&self, email: EmailAddress, password: Password) -> Result<User, SeedError> {
        match self.register(email.clone(), password).await {
            Ok(user) => Ok(user),
            Err(RegisterError::EmailTaken(_)) => self
                .ports
                .users
                .get_credentials(&email)
                .await?
                .map(|(user, _)| user)
                .ok_or_else(|| StoreError::Unavailable(format!("{email} vanished")).into()),
            Err(e) => Err(e.into()),
        }
    }

    /// A caller for `user`, as if it had logged in (the session id is
    /// never looked up: seeding only creates posts).
    fn seed_caller(&self, user: User) -> Caller {
        let session = SessionId::new(i64::MAX).unwrap_or_else(|| unreachable!());
        let token = self.ports.token_issuer.issue(user.id, session).claims;
        Caller { user, token }
    }
}
