//! `VoteStore` over PostgreSQL: one vote per user and post, enforced by the
//! primary key `votes_one_per_user_and_post`, so concurrent votes cannot
//! both land.

use async_trait::async_trait;
use tokio_postgres::error::SqlState;

use super::{PgStore, queries};
use crate::domain::{PostId, StoreError, User, UserId};
use crate::ports::{AddVote, VoteStore, Voted};

/// One vote per user and post.
const ONE_VOTE: &str = "votes_one_per_user_and_post";
/// The vote's foreign key to its post.
const POST_FKEY: &str = "votes_post_id_fkey";

#[async_trait]
impl VoteStore for PgStore {
    async fn vote_as(&self, voter: &User, post: PostId, up: bool) -> Result<Voted, StoreError> {
        self.vote_checked(voter, post, up).await
    }

    async fn add(&self, user: UserId, post: PostId) -> Result<AddVote, StoreError> {
        let now = self.clock.now();
        match self
            .execute(queries::ADD_VOTE, &[&post.get(), &user.get(), &now])
            .await
        {
            Ok(0) => Ok(AddVote::AlreadyVoted),
            Ok(_) => Ok(AddVote::Added),
            // `ON CONFLICT DO NOTHING` covers the race; this is belt and braces.
            Err(e) if e.violates(&SqlState::UNIQUE_VIOLATION, ONE_VOTE) => {
                Ok(AddVote::AlreadyVoted)
            }
            Err(e) if e.violates(&SqlState::FOREIGN_KEY_VIOLATION, POST_FKEY) => {
                Ok(AddVote::PostMissing)
            }
            // A voter deleted meanwhile: unavailable, as in the memory store.
            Err(e) => Err(e.into_store("add vote")),
        }
    }

    async fn remove(&self, user: UserId, post: PostId) -> Result<bool, StoreError> {
        let removed = self
            .execute(queries::REMOVE_VOTE, &[&post.get(), &user.get()])
            .await
            .map_err(|e| e.into_store("remove vote"))?;
        Ok(removed > 0)
    }
}
