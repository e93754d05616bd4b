//! Votes: one per user and post, on posts the voter may see.

use super::{Caller, Service};
use crate::domain::{PostId, VoteError};
use crate::ports::Voted;

impl Service {
    /// Adds (`up`) or removes the caller's vote on a post they may see:
    /// checked and done by the store in one step (one statement on a
    /// database).
    ///
    /// # Errors
    /// [`VoteError::PostNotFound`], [`VoteError::AlreadyVoted`],
    /// [`VoteError::VoteNotFound`].
    pub async fn vote(&self, caller: &Caller, post: PostId, up: bool) -> Result<(), VoteError> {
        let user = caller.user.id;
        match self.ports.votes.vote_as(&caller.user, post, up).await? {
            Voted::Added | Voted::Removed => Ok(()),
            Voted::PostNotFound => Err(VoteError::PostNotFound(post)),
            Voted::AlreadyVoted => Err(VoteError::AlreadyVoted { user, post }),
            Voted::NoVote => Err(VoteError::VoteNotFound),
        }
    }
}
