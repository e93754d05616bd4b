//! `BearerStore` over PostgreSQL: the bearer's user and the revocation
//! check in one statement, or with the post of the hot read in one more
//! join; revocations recorded with their expiry and dropped after it.

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;

use super::{PgStore, queries, rows};
use crate::domain::{PostId, PostView, StoreError, User, UserId};
use crate::ports::{BearerStore, TokenId};

/// The revocation's foreign key to its user.
const REVOKED_USER_FKEY: &str = "revoked_tokens_user_id_fkey";

#[async_trait]
impl BearerStore for PgStore {
    async fn bearer(&self, user: UserId, token: &TokenId) -> Result<Option<User>, StoreError> {
        let row = self
            .query_opt(queries::ACTIVE_USER, &[&user.get(), &token.0])
            .await
            .map_err(|e| e.into_store("get active user"))?;
        row.map(|r| rows::user(&r, &rows::USER)).transpose()
    }

    async fn bearer_with_post(
        &self,
        user: UserId,
        token: &TokenId,
        post: PostId,
    ) -> Result<Option<(User, Option<PostView>)>, StoreError> {
        let row = self
            .query_opt(
                queries::BEARER_AND_POST,
                &[&user.get(), &token.0, &post.get()],
            )
            .await
            .map_err(|e| e.into_store("get post for bearer"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let bearer = rows::user(&row, &rows::USER)?;
        let post = rows::optional_post_view(&row)?;
        Ok(Some((bearer, post)))
    }

    async fn revoke(
        &self,
        user: UserId,
        token: &TokenId,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        match self
            .execute(
                queries::REVOKE_TOKEN,
                &[&token.0, &user.get(), &expires_at, &now],
            )
            .await
        {
            Ok(_) => Ok(()),
            // The user was deleted meanwhile: their tokens fail anyway.
            Err(e) if e.violates(&SqlState::FOREIGN_KEY_VIOLATION, REVOKED_USER_FKEY) => Ok(()),
            Err(e) => Err(e.into_store("revoke token")),
        }
    }
}
