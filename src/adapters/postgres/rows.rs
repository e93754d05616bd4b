//! Rows to domain values, in the column orders `queries.rs` fixes. Reads
//! use `try_get`, so a schema surprise is a store error, never a panic.

use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use super::errors::bad_row;
use crate::domain::{
    EmailAddress, PasswordHash, PostContent, PostId, PostTitle, PostView, Role, Session, SessionId,
    StoreError, User, UserId,
};

/// Column `name` of `row`.
fn col<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> Result<T, StoreError> {
    row.try_get(name).map_err(|e| bad_row("a query", e))
}

/// The names of a user's columns in a row (see `queries.rs`).
pub(super) struct UserColumns {
    id: &'static str,
    email: &'static str,
    role: &'static str,
    created_at: &'static str,
}

/// A user read as such (`user_columns!`), or the bearer of a request.
pub(super) const USER: UserColumns = UserColumns {
    id: "user_id",
    email: "user_email",
    role: "user_role",
    created_at: "user_created_at",
};

/// A post's owner (`owner_columns!`).
const OWNER: UserColumns = UserColumns {
    id: "owner_id",
    email: "owner_email",
    role: "owner_role",
    created_at: "owner_created_at",
};

/// The user in the columns `names` gives.
pub(super) fn user(row: &Row, names: &UserColumns) -> Result<User, StoreError> {
    let raw_id: i64 = col(row, names.id)?;
    let id = UserId::new(raw_id).ok_or_else(|| bad_row("users", format!("id {raw_id}")))?;
    let role: &str = col(row, names.role)?;
    let role = Role::parse(role).ok_or_else(|| bad_row("users", format!("role {role:?}")))?;
    Ok(User {
        id,
        email: EmailAddress::from_trusted(col(row, names.email)?),
        role,
        created_at: col(row, names.created_at)?,
    })
}

/// A user and their `password_hash`.
pub(super) fn credentials(row: &Row) -> Result<(User, PasswordHash), StoreError> {
    Ok((
        user(row, &USER)?,
        PasswordHash::new(col(row, "password_hash")?),
    ))
}

/// A post view (`view_columns!`): the post, its owner, its vote count.
pub(super) fn post_view(row: &Row) -> Result<PostView, StoreError> {
    let raw_id: i64 = col(row, "post_id")?;
    let id = PostId::new(raw_id).ok_or_else(|| bad_row("posts", format!("id {raw_id}")))?;
    Ok(PostView {
        id,
        title: PostTitle::from_trusted(col(row, "post_title")?),
        content: PostContent::from_trusted(col(row, "post_content")?),
        published: col(row, "post_published")?,
        created_at: col(row, "post_created_at")?,
        owner: user(row, &OWNER)?,
        votes: col(row, "votes")?,
    })
}

/// The post view of a row, `None` when its id is NULL (an outer join found
/// no post).
pub(super) fn optional_post_view(row: &Row) -> Result<Option<PostView>, StoreError> {
    let id: Option<i64> = col(row, "post_id")?;
    id.map(|_| post_view(row)).transpose()
}

/// A session (`session_columns!`).
pub(super) fn session(row: &Row) -> Result<Session, StoreError> {
    let raw_id: i64 = col(row, "session_id")?;
    let id = SessionId::new(raw_id).ok_or_else(|| bad_row("sessions", format!("id {raw_id}")))?;
    let raw_user: i64 = col(row, "session_user_id")?;
    let user_id =
        UserId::new(raw_user).ok_or_else(|| bad_row("sessions", format!("user {raw_user}")))?;
    Ok(Session {
        id,
        user_id,
        created_at: col(row, "session_created_at")?,
        last_used_at: col(row, "session_last_used_at")?,
        expires_at: col(row, "session_expires_at")?,
        user_agent: col(row, "session_user_agent")?,
    })
}
