//! Posts: list, read, create, replace, delete, with drafts and ownership.

use super::{Caller, Service};
use crate::domain::{
    AuthError, NewPost, Page, PostContent, PostError, PostFilter, PostId, PostTitle, PostUpdate,
    PostView, ReadPostError, Search, policy,
};
use crate::ports::TokenClaims;

impl Service {
    /// The posts the caller may see, newest first, below `before` when
    /// given.
    ///
    /// # Errors
    /// [`PostError::Store`] only.
    pub async fn list_posts(
        &self,
        caller: &Caller,
        search: Option<Search>,
        before: Option<PostId>,
        page: Page,
    ) -> Result<Vec<PostView>, PostError> {
        let filter = PostFilter {
            visibility: policy::visibility_for(&caller.user),
            search,
            before,
            page,
        };
        Ok(self.ports.posts.list(&filter).await?)
    }

    /// One post, if the caller may see it.
    ///
    /// # Errors
    /// [`PostError::NotFound`] when missing or an invisible draft.
    pub async fn get_post(&self, caller: &Caller, id: PostId) -> Result<PostView, PostError> {
        match self.ports.posts.get(id).await? {
            Some(post) if policy::can_view_post(&caller.user, post.owner.id, post.published) => {
                Ok(post)
            }
            _ => Err(PostError::NotFound(id)),
        }
    }

    /// [`Self::get_post`] for the bearer of a verified token, who is
    /// authenticated in the same store call that reads the post (the hot
    /// read: one round trip on a database).
    ///
    /// # Errors
    /// [`ReadPostError::Auth`] when the token's user is gone or the token
    /// revoked; then [`PostError::NotFound`] for a missing post or an
    /// invisible draft.
    pub async fn get_post_for_token(
        &self,
        token: &TokenClaims,
        id: PostId,
    ) -> Result<PostView, ReadPostError> {
        let now = self.ports.clock.now();
        let (user, post) = self
            .ports
            .sessions
            .bearer_with_post(token.user_id, token.session_id, id, now)
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::InvalidToken)?;
        match post {
            Some(post) if policy::can_view_post(&user, post.owner.id, post.published) => Ok(post),
            _ => Err(PostError::NotFound(id).into()),
        }
    }

    /// Creates a post owned by the caller.
    ///
    /// # Errors
    /// [`PostError::Store`] only.
    pub async fn create_post(
        &self,
        caller: &Caller,
        title: PostTitle,
        content: PostContent,
        published: bool,
    ) -> Result<PostView, PostError> {
        let new = NewPost {
            owner_id: caller.user.id,
            title,
            content,
            published,
        };
        Ok(self.ports.posts.create(new, self.ports.clock.now()).await?)
    }

    /// Replaces a post's fields, for its owner or an admin.
    ///
    /// # Errors
    /// [`PostError::NotFound`], [`PostError::Forbidden`].
    pub async fn update_post(
        &self,
        caller: &Caller,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostView, PostError> {
        self.check_can_change(caller, id).await?;
        self.ports
            .posts
            .update(id, update)
            .await?
            .ok_or(PostError::NotFound(id))
    }

    /// Deletes a post and its votes, for its owner or an admin.
    ///
    /// # Errors
    /// [`PostError::NotFound`], [`PostError::Forbidden`].
    pub async fn delete_post(&self, caller: &Caller, id: PostId) -> Result<(), PostError> {
        self.check_can_change(caller, id).await?;
        if self.ports.posts.delete(id).await? {
            Ok(())
        } else {
            Err(PostError::NotFound(id))
        }
    }

    /// 404 for what the caller cannot see, 403 for what they may not change.
    async fn check_can_change(&self, caller: &Caller, id: PostId) -> Result<(), PostError> {
        let post = self.get_post(caller, id).await?;
        if policy::can_change_post(&caller.user, post.owner.id) {
            Ok(())
        } else {
            Err(PostError::Forbidden)
        }
    }
}
