//! Posts: list, read, create, replace, delete, with drafts and ownership.

use super::{Caller, Service};
use crate::domain::{
    AuthError, NewPost, Page, PostContent, PostError, PostFilter, PostId, PostTitle, PostUpdate,
    PostView, ReadPostError, Search, policy,
};
use crate::ports::{PostChange, TokenClaims};

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

    /// [`Self::list_posts`] for the bearer of a verified token, who is
    /// authenticated in the same store call that reads the page (one
    /// round trip on a database for the plain first page).
    ///
    /// # Errors
    /// [`ReadPostError::Auth`] when the token's user is gone or the token
    /// revoked; [`PostError::Store`].
    pub async fn list_posts_for_token(
        &self,
        token: &TokenClaims,
        search: Option<Search>,
        before: Option<PostId>,
        page: Page,
    ) -> Result<Vec<PostView>, ReadPostError> {
        let now = self.ports.clock.now();
        let (_, posts) = self
            .ports
            .sessions
            .bearer_with_posts(
                token.user_id,
                token.session_id,
                now,
                search.as_ref(),
                before,
                page,
            )
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::InvalidToken)?;
        Ok(posts)
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

    /// Replaces a post's fields, for its owner or an admin: checked and
    /// done by the store in one step (one statement on a database).
    ///
    /// # Errors
    /// [`PostError::NotFound`] when missing or invisible to the caller,
    /// [`PostError::Forbidden`] when visible but not theirs to change.
    pub async fn update_post(
        &self,
        caller: &Caller,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostView, PostError> {
        let changed = self.ports.posts.update_as(&caller.user, id, update).await?;
        changed_or(id, changed)
    }

    /// Deletes a post and its votes, for its owner or an admin: checked
    /// and done by the store in one step.
    ///
    /// # Errors
    /// [`PostError::NotFound`], [`PostError::Forbidden`], as for
    /// [`Self::update_post`].
    pub async fn delete_post(&self, caller: &Caller, id: PostId) -> Result<(), PostError> {
        changed_or(id, self.ports.posts.delete_as(&caller.user, id).await?)
    }
}

/// A checked change's outcome as the API answers it.
fn changed_or<T>(id: PostId, changed: PostChange<T>) -> Result<T, PostError> {
    match changed {
        PostChange::Done(done) => Ok(done),
        PostChange::NotFound => Err(PostError::NotFound(id)),
        PostChange::Forbidden => Err(PostError::Forbidden),
    }
}
