//! Votes: one per user and post, on posts the voter may see.

use super::{Caller, Service};
use crate::domain::{PostError, PostId, VoteError};
use crate::ports::AddVote;

impl Service {
    /// Adds (`up`) or removes the caller's vote on a post they may see.
    ///
    /// # Errors
    /// [`VoteError::PostNotFound`], [`VoteError::AlreadyVoted`],
    /// [`VoteError::VoteNotFound`].
    pub async fn vote(&self, caller: &Caller, post: PostId, up: bool) -> Result<(), VoteError> {
        self.get_post(caller, post).await.map_err(|e| match e {
            PostError::Store(e) => VoteError::Store(e),
            _ => VoteError::PostNotFound(post),
        })?;
        let user = caller.user.id;
        if up {
            match self.ports.votes.add(user, post).await? {
                AddVote::Added => Ok(()),
                AddVote::AlreadyVoted => Err(VoteError::AlreadyVoted { user, post }),
                AddVote::PostMissing => Err(VoteError::PostNotFound(post)),
            }
        } else if self.ports.votes.remove(user, post).await? {
            Ok(())
        } else {
            Err(VoteError::VoteNotFound)
        }
    }
}
