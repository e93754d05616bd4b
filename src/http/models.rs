//! The JSON bodies: requests (`<Operation>Body`) and responses, separate
//! from the domain types they convert to and from.

use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::{PostView, Session, SessionId, User};

fn yes() -> bool {
    true
}

/// A user as every response shows it.
#[derive(Debug, Object, Serialize)]
pub struct UserOut {
    /// Store-assigned id.
    pub id: i64,
    /// Normalised (trimmed, lower-cased) email.
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
    /// Registration time (RFC 3339).
    #[serde(serialize_with = "super::json::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id.get(),
            email: u.email.into_string(),
            role: u.role.as_str().to_owned(),
            created_at: u.created_at,
        }
    }
}

/// A session of the caller's.
#[derive(Debug, Object, Serialize)]
pub struct SessionOut {
    /// Store-assigned id.
    pub id: i64,
    /// The login that started it (RFC 3339).
    #[serde(serialize_with = "super::json::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The login or the latest refresh (RFC 3339).
    #[serde(serialize_with = "super::json::rfc3339")]
    pub last_used_at: OffsetDateTime,
    /// When its current refresh token expires (RFC 3339).
    #[serde(serialize_with = "super::json::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The login request's `User-Agent`, cut to 256 characters.
    pub user_agent: Option<String>,
    /// Whether it is the session of the token presented.
    pub current: bool,
}

impl SessionOut {
    /// `session` as its owner sees it; `current` when it is `current`'s.
    pub fn new(session: Session, current: SessionId) -> Self {
        Self {
            id: session.id.get(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            user_agent: session.user_agent,
            current: session.id == current,
        }
    }
}

/// `PUT /users/me/password`.
#[derive(Debug, Object, Deserialize)]
pub struct PasswordBody {
    /// The password now.
    pub current_password: String,
    /// The new password: 8 or more characters, at most 72 bytes.
    #[oai(validator(pattern = r"^[^\u0000]{8,}$"))]
    pub new_password: String,
}

/// A post with its owner and vote count.
#[derive(Debug, Object, Serialize)]
pub struct PostOut {
    /// Store-assigned id.
    pub id: i64,
    /// Title (trimmed).
    pub title: String,
    /// Content.
    pub content: String,
    /// `false` for a draft, visible to its owner and admins only.
    pub published: bool,
    /// Creation time (RFC 3339).
    #[serde(serialize_with = "super::json::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The owner's id.
    pub owner_id: i64,
    /// The owner.
    pub owner: UserOut,
    /// Number of votes now.
    pub votes: i64,
}

impl From<PostView> for PostOut {
    fn from(p: PostView) -> Self {
        Self {
            id: p.id.get(),
            title: p.title.into_string(),
            content: p.content.into_string(),
            published: p.published,
            created_at: p.created_at,
            owner_id: p.owner.id.get(),
            owner: p.owner.into(),
            votes: p.votes,
        }
    }
}

/// Registration.
#[derive(Debug, Object, Deserialize)]
pub struct RegisterBody {
    /// An email address, unique without regard to case; at most 254 bytes
    /// once trimmed and lower-cased; no white space or control characters
    /// inside.
    #[oai(validator(
        pattern = r"^[\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^@\u0000-\u001f\u007f-\u009f\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+@[^@.\u0000-\u001f\u007f-\u009f\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+(?:\.[^@.\u0000-\u001f\u007f-\u009f\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+)+[\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    ))]
    pub email: String,
    /// 8 or more characters, at most 72 bytes of UTF-8, no NUL.
    #[oai(validator(pattern = r"^[^\u0000]{8,}$"))]
    pub password: String,
}

/// A post to create, or the replacement of one.
#[derive(Debug, Object, Deserialize)]
pub struct PostBody {
    /// 1 to 300 characters after trimming white space (stored trimmed), no
    /// NUL.
    #[oai(validator(
        pattern = r"^[\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000]{0,298}[^\u0000\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    ))]
    pub title: String,
    /// 1 to 50,000 characters, not only white space, no NUL; kept as sent.
    #[oai(validator(
        max_length = 50000,
        pattern = r"^[^\u0000]*[^\u0000\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000]*$"
    ))]
    pub content: String,
    /// `false` makes a draft; defaults to `true`.
    #[oai(default = "yes")]
    #[serde(default = "yes")]
    pub published: bool,
}

/// A vote (`dir` 1) or its removal (`dir` 0).
#[derive(Debug, Object, Deserialize)]
pub struct VoteBody {
    /// The post.
    #[oai(validator(minimum(value = "1")))]
    pub post_id: i64,
    /// 1 adds the caller's vote, 0 removes it.
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub dir: i64,
}

/// A role change.
#[derive(Debug, Object, Deserialize)]
pub struct RoleBody {
    /// `user` or `admin`.
    pub role: RoleName,
}

/// A role's wire name.
#[derive(Debug, Clone, Copy, poem_openapi::Enum, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// The default role.
    User,
    /// May manage users and every post.
    Admin,
}

/// The OAuth2 token request as a form (`application/x-www-form-urlencoded`):
/// the password grant (`username`, `password`; `grant_type` absent or
/// `password`) or the refresh grant (`grant_type=refresh_token`,
/// `refresh_token`).
#[derive(Debug, Object, Deserialize)]
pub struct LoginForm {
    /// The email (password grant).
    pub username: Option<String>,
    /// The password (password grant).
    pub password: Option<String>,
    /// `password` (the default) or `refresh_token`.
    pub grant_type: Option<String>,
    /// The refresh token (refresh grant).
    pub refresh_token: Option<String>,
    /// Ignored.
    pub scope: Option<String>,
    /// Ignored.
    pub client_id: Option<String>,
    /// Ignored.
    pub client_secret: Option<String>,
}

/// The same token request as JSON.
#[derive(Debug, Object, Deserialize)]
pub struct LoginBody {
    /// The email (password grant).
    pub username: Option<String>,
    /// The password (password grant).
    pub password: Option<String>,
    /// `password` (the default) or `refresh_token`.
    pub grant_type: Option<String>,
    /// The refresh token (refresh grant).
    pub refresh_token: Option<String>,
}

/// A successful login or refresh.
#[derive(Debug, Object, Serialize)]
pub struct TokenOut {
    /// The JWT to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The session's refresh token: send it with `grant_type=refresh_token`
    /// for new tokens (it is spent by that).
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

/// A message.
#[derive(Debug, Object, Serialize)]
pub struct MessageOut {
    /// What happened.
    pub message: String,
}

/// `GET /profile`.
#[derive(Debug, Object, Serialize)]
pub struct ProfileOut {
    /// `Welcome <email>`.
    pub message: String,
    /// The caller.
    pub user: UserOut,
}

/// `GET /`.
#[derive(Debug, Object, Serialize)]
pub struct RootOut {
    /// A greeting.
    pub message: String,
    /// Where Swagger UI is.
    pub docs: String,
}

/// Health and readiness.
#[derive(Debug, Object, Serialize)]
pub struct StatusOut {
    /// `ok`.
    pub status: String,
}
