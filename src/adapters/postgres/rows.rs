//! Rows to domain values, in the column orders `queries.rs` fixes. Reads
//! use `try_get`, so a schema surprise is a store error, never a panic.

use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

use super::errors::bad_row;
use crate::domain::{
    EmailAddress, PasswordHash, PostContent, PostId, PostTitle, PostView, Role, StoreError, User,
    UserId,
};

/// Column `idx` of `row`.
fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| bad_row("a query", e))
}

/// The user in columns `at..at + 4` (`id, email, role, created_at`).
pub(super) fn user(row: &Row, at: usize) -> Result<User, StoreError> {
    let raw_id: i64 = col(row, at)?;
    let id = UserId::new(raw_id).ok_or_else(|| bad_row("users", format!("id {raw_id}")))?;
    let role: &str = col(row, at + 2)?;
    let role = Role::parse(role).ok_or_else(|| bad_row("users", format!("role {role:?}")))?;
    Ok(User {
        id,
        email: EmailAddress::from_trusted(col(row, at + 1)?),
        role,
        created_at: col(row, at + 3)?,
    })
}

/// A user followed by their password hash.
pub(super) fn credentials(row: &Row) -> Result<(User, PasswordHash), StoreError> {
    Ok((user(row, 0)?, PasswordHash::new(col(row, 4)?)))
}

/// A post view: the post (5 columns), its owner (4), its vote count.
pub(super) fn post_view(row: &Row) -> Result<PostView, StoreError> {
    post_view_at(row, 0)
}

/// The post view in columns `at..at + 10`, `None` when its id is NULL (an
/// outer join found no post).
pub(super) fn optional_post_view(row: &Row, at: usize) -> Result<Option<PostView>, StoreError> {
    let id: Option<i64> = col(row, at)?;
    id.map(|_| post_view_at(row, at)).transpose()
}

fn post_view_at(row: &Row, at: usize) -> Result<PostView, StoreError> {
    let raw_id: i64 = col(row, at)?;
    let id = PostId::new(raw_id).ok_or_else(|| bad_row("posts", format!("id {raw_id}")))?;
    Ok(PostView {
        id,
        title: PostTitle::from_trusted(col(row, at + 1)?),
        content: PostContent::from_trusted(col(row, at + 2)?),
        published: col(row, at + 3)?,
        created_at: col(row, at + 4)?,
        owner: user(row, at + 5)?,
        votes: col(row, at + 9)?,
    })
}
