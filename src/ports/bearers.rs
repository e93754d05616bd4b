//! The authentication port: who presents a token, read from the store on
//! every request, and the end of a token's validity (logout).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::TokenId;
use crate::domain::{PostId, PostView, StoreError, User, UserId};

/// The bearers of verified tokens: the user now (role included), unless
/// the token was revoked or the user is gone.
#[async_trait]
pub trait BearerStore: Send + Sync + 'static {
    /// The user `user`, unless `token` was revoked or the user is gone:
    /// what every authenticated request needs, in one call.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn bearer(&self, user: UserId, token: &TokenId) -> Result<Option<User>, StoreError>;

    /// The hot read in one call: what [`Self::bearer`] answers, with the
    /// post `post` if it exists, whoever may see it (the caller applies
    /// the policy). One round trip on a database.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn bearer_with_post(
        &self,
        user: UserId,
        token: &TokenId,
        post: PostId,
    ) -> Result<Option<(User, Option<PostView>)>, StoreError>;

    /// Revokes a token of `user` until `expires_at`, after which it cannot
    /// verify anyway and the record may be dropped.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn revoke(
        &self,
        user: UserId,
        token: &TokenId,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
}
