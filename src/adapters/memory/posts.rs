//! `PostStore` and `VoteStore` over DashMap.

use std::ops::Bound;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{MemoryStore, PostRecord, next_id, read, write};
use crate::domain::{
    NewPost, PostContent, PostFilter, PostId, PostTitle, PostUpdate, PostView, StoreError, User,
    UserId,
};
use crate::ports::{AddVote, PostChange, PostStore, VoteStore, Voted};

impl MemoryStore {
    /// The read model of one post, or `None` if it or its owner is gone.
    pub(super) fn view(&self, id: i64) -> Option<PostView> {
        // Copy the row out before reading the owner: one guard at a time.
        let (owner_id, title, content, published, created_at, votes) = {
            let p = self.inner.posts.get(&id)?;
            let title = PostTitle::from_trusted(p.title().to_owned());
            let content = PostContent::from_trusted(p.content().to_owned());
            (
                p.owner_id,
                title,
                content,
                p.published,
                p.created_at(),
                p.votes(),
            )
        };
        let owner = self.inner.user(owner_id)?;
        Some(PostView {
            id: PostId::new(id)?,
            title,
            content,
            published,
            created_at,
            owner,
            votes: votes as i64,
        })
    }

    /// Removes a post from the order index and the table.
    pub(super) fn remove_post(&self, id: i64) -> bool {
        write(&self.inner.post_order).remove(&id);
        self.inner.posts.remove(&id).is_some()
    }
}

#[async_trait]
impl PostStore for MemoryStore {
    async fn create(
        &self,
        new: NewPost,
        created_at: OffsetDateTime,
    ) -> Result<PostView, StoreError> {
        let inner = &self.inner;
        let id = next_id(&inner.next_post_id);
        let record = PostRecord::new(
            new.owner_id,
            &new.title,
            &new.content,
            new.published,
            created_at,
        );
        inner.posts.insert(id, record);
        write(&inner.post_order).insert(id);
        // The owner may have been deleted while we inserted: undo.
        match self.view(id) {
            Some(view) => Ok(view),
            None => {
                self.remove_post(id);
                Err(StoreError::Unavailable(format!(
                    "owner {} vanished while creating a post",
                    new.owner_id
                )))
            }
        }
    }

    async fn get(&self, id: PostId) -> Result<Option<PostView>, StoreError> {
        Ok(self.view(id.get()))
    }

    async fn list(&self, filter: &PostFilter) -> Result<Vec<PostView>, StoreError> {
        let skip = usize::try_from(filter.page.skip()).unwrap_or(usize::MAX);
        let limit = filter.page.limit() as usize;
        let mut ids = Vec::with_capacity(limit);
        let mut skipped = 0usize;
        // Walk newest first from the cursor (a seek in the ordered index,
        // whatever lies above it); after one page is found, resume after
        // the last id in case a post vanishes between the walk and the read.
        let mut upper = filter
            .before
            .map_or(Bound::Unbounded, |before| Bound::Excluded(before.get()));
        let mut out = Vec::with_capacity(limit);
        while out.len() < limit {
            ids.clear();
            {
                let order = read(&self.inner.post_order);
                for &id in order.range((Bound::Unbounded, upper)).rev() {
                    let wanted = self.inner.posts.get(&id).is_some_and(|p| {
                        filter.visibility.allows(p.owner_id, p.published)
                            && filter.search.as_ref().is_none_or(|s| s.matches(p.title()))
                    });
                    if !wanted {
                        continue;
                    }
                    if skipped < skip {
                        skipped += 1;
                        continue;
                    }
                    ids.push(id);
                    if ids.len() + out.len() == limit {
                        break;
                    }
                }
            }
            let Some(&last) = ids.last() else { break };
            upper = Bound::Excluded(last);
            out.extend(ids.iter().filter_map(|&id| self.view(id)));
        }
        Ok(out)
    }

    async fn update_as(
        &self,
        actor: &User,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostChange<PostView>, StoreError> {
        self.update_checked(actor, id, update).await
    }

    async fn delete_as(&self, actor: &User, id: PostId) -> Result<PostChange<()>, StoreError> {
        self.delete_checked(actor, id).await
    }

    async fn update(&self, id: PostId, update: PostUpdate) -> Result<Option<PostView>, StoreError> {
        let found = self.inner.posts.get_mut(&id.get()).map(|mut p| {
            p.set_text(&update.title, &update.content);
            p.published = update.published;
        });
        Ok(found.and_then(|()| self.view(id.get())))
    }

    async fn delete(&self, id: PostId) -> Result<bool, StoreError> {
        Ok(self.remove_post(id.get()))
    }
}

#[async_trait]
impl VoteStore for MemoryStore {
    async fn vote_as(&self, voter: &User, post: PostId, up: bool) -> Result<Voted, StoreError> {
        self.vote_checked(voter, post, up).await
    }

    async fn add(&self, user: UserId, post: PostId) -> Result<AddVote, StoreError> {
        // The post's entry guard makes check-and-insert atomic, and a
        // deleted post takes its voters with it.
        let added = match self.inner.posts.get_mut(&post.get()) {
            None => return Ok(AddVote::PostMissing),
            Some(mut p) => p.add_voter(user),
        };
        if !added {
            return Ok(AddVote::AlreadyVoted);
        }
        // The voter may have been deleted meanwhile: undo.
        if self.inner.users.contains_key(&user.get()) {
            Ok(AddVote::Added)
        } else {
            if let Some(mut p) = self.inner.posts.get_mut(&post.get()) {
                p.remove_voter(user);
            }
            Err(StoreError::Unavailable(format!(
                "voter {user} vanished while voting"
            )))
        }
    }

    async fn remove(&self, user: UserId, post: PostId) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .posts
            .get_mut(&post.get())
            .is_some_and(|mut p| p.remove_voter(user)))
    }
}
