//! The checked changes of `PostStore` and `VoteStore` over DashMap: the
//! caller's permission (`domain::policy`, called here, the rules' one
//! home) decided on the post as it is, then the change through the
//! unchecked primitives of `posts.rs` (which keep the indexes).
//!
//! Check and change are one step as far as anyone can tell: a post's
//! owner never changes and the actor's role is fixed for the call, so an
//! actor allowed to change a post stays allowed; the only thing that can
//! happen in between is the post vanishing, which the primitive reports
//! (not found). A vote checks the post's visibility and then votes; a
//! concurrent unpublish in between orders after the vote.

use super::MemoryStore;
use crate::domain::{PostId, PostUpdate, PostView, StoreError, User, policy};
use crate::ports::{AddVote, PostChange, PostStore, VoteStore, Voted};

impl MemoryStore {
    /// `NotFound` for what `actor` cannot see, `Forbidden` for what they
    /// may not change, `Done` otherwise; the API's precedence.
    fn may_change(&self, actor: &User, id: PostId) -> PostChange<()> {
        let Some((owner, published)) = self
            .inner
            .posts
            .get(&id.get())
            .map(|p| (p.owner_id, p.published))
        else {
            return PostChange::NotFound;
        };
        if !policy::can_view_post(actor, owner, published) {
            PostChange::NotFound
        } else if !policy::can_change_post(actor, owner) {
            PostChange::Forbidden
        } else {
            PostChange::Done(())
        }
    }

    /// [`PostStore::update_as`].
    pub(super) async fn update_checked(
        &self,
        actor: &User,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostChange<PostView>, StoreError> {
        Ok(match self.may_change(actor, id) {
            PostChange::Done(()) => match self.update(id, update).await? {
                Some(view) => PostChange::Done(view),
                None => PostChange::NotFound,
            },
            PostChange::NotFound => PostChange::NotFound,
            PostChange::Forbidden => PostChange::Forbidden,
        })
    }

    /// [`PostStore::delete_as`].
    pub(super) async fn delete_checked(
        &self,
        actor: &User,
        id: PostId,
    ) -> Result<PostChange<()>, StoreError> {
        Ok(match self.may_change(actor, id) {
            PostChange::Done(()) if self.delete(id).await? => PostChange::Done(()),
            PostChange::Done(()) | PostChange::NotFound => PostChange::NotFound,
            PostChange::Forbidden => PostChange::Forbidden,
        })
    }

    /// [`VoteStore::vote_as`].
    pub(super) async fn vote_checked(
        &self,
        voter: &User,
        post: PostId,
        up: bool,
    ) -> Result<Voted, StoreError> {
        let visible = self
            .inner
            .posts
            .get(&post.get())
            .is_some_and(|p| policy::can_view_post(voter, p.owner_id, p.published));
        if !visible {
            return Ok(Voted::PostNotFound);
        }
        Ok(if up {
            match self.add(voter.id, post).await? {
                AddVote::Added => Voted::Added,
                AddVote::AlreadyVoted => Voted::AlreadyVoted,
                AddVote::PostMissing => Voted::PostNotFound,
            }
        } else if self.remove(voter.id, post).await? {
            Voted::Removed
        } else {
            Voted::NoVote
        })
    }
}
