//! `BearerStore` over the in-memory tables: the user now, unless the
//! token is revoked; revocations are forgotten once they cannot matter.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::MemoryStore;
use crate::domain::{PostId, PostView, StoreError, User, UserId};
use crate::ports::{BearerStore, TokenId};

#[async_trait]
impl BearerStore for MemoryStore {
    async fn bearer(&self, user: UserId, token: &TokenId) -> Result<Option<User>, StoreError> {
        if self.inner.revoked.contains_key(&token.0) {
            return Ok(None);
        }
        Ok(self.inner.user(user))
    }

    async fn bearer_with_post(
        &self,
        user: UserId,
        token: &TokenId,
        post: PostId,
    ) -> Result<Option<(User, Option<PostView>)>, StoreError> {
        let bearer = self.bearer(user, token).await?;
        Ok(bearer.map(|u| (u, self.view(post.get()))))
    }

    async fn revoke(
        &self,
        _user: UserId,
        token: &TokenId,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let inner = &self.inner;
        inner.revoked.insert(token.0.clone(), expires_at);
        // Forget expired revocations once the table has doubled, so it
        // stays proportional to the tokens still alive.
        let len = inner.revoked.len();
        if len > 1024 && len > 2 * inner.revoked_after_purge.load(Ordering::Relaxed) {
            let now = inner.clock.now();
            inner.revoked.retain(|_, exp| *exp > now);
            inner
                .revoked_after_purge
                .store(inner.revoked.len(), Ordering::Relaxed);
        }
        Ok(())
    }
}
