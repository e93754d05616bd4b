//! Errors: one enum per operation, plus the store failure they share.

use std::fmt;

use super::{EmailAddress, PostId, SessionId, UserId};

/// The messages clients read, where more than one layer answers them
/// (API.md quotes them exactly).
pub mod message {
    /// 401 without a usable `Authorization` header.
    pub const NOT_AUTHENTICATED: &str = "Not authenticated";
    /// 401 for a token that does not verify.
    pub const INVALID_TOKEN: &str = "Could not validate credentials";
    /// 403, wherever it applies.
    pub const FORBIDDEN: &str = "Not authorized to perform requested action";
    /// 429 while logins (and password changes) are throttled.
    pub const THROTTLED: &str = "Too many login attempts";
    /// 503 for a store failure the client cannot fix.
    pub const UNAVAILABLE: &str = "Service temporarily unavailable";
}

/// A store failure the client cannot fix (database down, pool exhausted),
/// or a password hash that could not be computed (the hashing worker
/// process died with it).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store did not answer; the context is for logs, never for clients.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A request value that failed validation, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's wire name.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldError {
    /// A validation failure of `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The NUL character, which no text field may hold.
    pub fn nul(field: &'static str) -> Self {
        Self::new(field, "must not contain a NUL character")
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The (normalised) email is taken.
    #[error("User with email: {0} already exists")]
    EmailTaken(EmailAddress),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why the configured admin could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum EnsureAdminError {
    /// The email belongs to an account that is not an admin and whose
    /// password is not the configured one: promoting it would make admin
    /// whoever registered that email first.
    #[error(
        "{0} is already registered by a user who is not an admin, with another password: \
         refusing to promote it (give that account's password, or choose another email)"
    )]
    NotTheOwner(EmailAddress),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown email or wrong password; deliberately indistinguishable.
    #[error("Invalid Credentials")]
    InvalidCredentials,
    /// Too many recent failures; retry after this many seconds.
    #[error("{}", message::THROTTLED)]
    Throttled {
        /// Seconds until the window has passed.
        retry_after_secs: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a refresh grant failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or spent (reuse ends its session), or its session
    /// or user is gone.
    #[error("Invalid refresh token")]
    Invalid,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why ending one of the caller's sessions failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Not an active session of the caller.
    #[error("Session with id: {0} does not exist")]
    NotFound(SessionId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a password change failed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    /// The token's session is not active or its user is gone (checked in
    /// the same store call as the attempt).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The current password given is wrong (counted as a failed login).
    #[error("Current password is incorrect")]
    Incorrect,
    /// Too many recent failures; retry after this many seconds.
    #[error("{}", message::THROTTLED)]
    Throttled {
        /// Seconds until the window has passed.
        retry_after_secs: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a bearer token did not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad signature, algorithm, expiry, subject; revoked; user gone.
    #[error("{}", message::INVALID_TOKEN)]
    InvalidToken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a post operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// Missing, or a draft the caller may not see.
    #[error("Post with id: {0} does not exist")]
    NotFound(PostId),
    /// Visible, but the caller may not change it.
    #[error("{}", message::FORBIDDEN)]
    Forbidden,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an authenticated read of posts (one post, or a page) failed: the
/// token first, then the posts.
#[derive(Debug, thiserror::Error)]
pub enum ReadPostError {
    /// The token's user is gone or the token revoked.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The post is missing or an invisible draft.
    #[error(transparent)]
    Post(#[from] PostError),
}

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No such user.
    #[error("User with id: {0} does not exist")]
    NotFound(UserId),
    /// The caller may not do this.
    #[error("{}", message::FORBIDDEN)]
    Forbidden,
    /// The change would leave no admin (a demotion or deletion of the
    /// only one).
    #[error("Cannot remove the last admin")]
    LastAdmin,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a vote failed.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    /// Missing, or a draft the caller may not see.
    #[error("Post with id: {0} does not exist")]
    PostNotFound(PostId),
    /// One vote per user and post.
    #[error("User {user} has already voted on post {post}")]
    AlreadyVoted {
        /// The voter.
        user: UserId,
        /// The post.
        post: PostId,
    },
    /// Removing a vote that is not there.
    #[error("Vote does not exist")]
    VoteNotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
