//! `PostStore` and `VoteStore` over DashMap.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::post_index::{Entry, ID_END, Query, Walked, title_grams};
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

    /// Removes a post from the index and the table.
    pub(super) fn remove_post(&self, id: i64) -> bool {
        let mut index = write(&self.inner.posts_index);
        let Some((_, record)) = self.inner.posts.remove(&id) else {
            return false;
        };
        let grams = title_grams(record.title());
        if let Ok(id) = u32::try_from(id) {
            index.remove(
                id,
                &Entry {
                    owner: record.owner_id,
                    published: record.published,
                    grams: &grams,
                },
            );
        }
        true
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
        // The index holds ids below 2^32: four billion posts do not fit in
        // memory anyway.
        let Ok(index_id) = u32::try_from(id) else {
            return Err(StoreError::Unavailable(
                "the memory store holds no more posts".to_owned(),
            ));
        };
        let grams = title_grams(new.title.as_str());
        let record = PostRecord::new(
            new.owner_id,
            &new.title,
            &new.content,
            new.published,
            created_at,
        );
        {
            let mut index = write(&inner.posts_index);
            inner.posts.insert(id, record);
            let entry = Entry {
                owner: new.owner_id,
                published: new.published,
                grams: &grams,
            };
            index.insert(index_id, &entry);
        }
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
        let mut skip = usize::try_from(filter.page.skip()).unwrap_or(usize::MAX);
        let limit = filter.page.limit() as usize;
        let query = filter.search.as_ref().map(Query::new);
        let check = |id: u32| {
            let (Some(search), Some(post)) = (&filter.search, self.inner.posts.get(&i64::from(id)))
            else {
                return false;
            };
            search.matches(post.title())
        };
        // Walk the index block by block from the cursor (the read lock is
        // taken per block, so a long walk does not hold writers back); after
        // a page is found, resume below its last id in case a post vanishes
        // between the walk and the read.
        let mut upper = filter
            .before
            .map_or(ID_END, |before| before.get().unsigned_abs().min(ID_END));
        let mut ids = Vec::with_capacity(limit);
        let mut out = Vec::with_capacity(limit);
        while out.len() < limit && upper > 0 {
            ids.clear();
            let walked = read(&self.inner.posts_index).walk_block(
                upper,
                filter.visibility,
                query.as_ref(),
                &mut skip,
                limit - out.len(),
                &mut ids,
                check,
            );
            upper = match walked {
                Walked::Below(start) => start,
                Walked::Full => ids.last().map_or(0, |&last| last.unsigned_abs()),
            };
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
        let grams = title_grams(update.title.as_str());
        let found = {
            let mut index = write(&self.inner.posts_index);
            let found = self.inner.posts.get_mut(&id.get()).map(|mut p| {
                let old = (p.owner_id, p.published, title_grams(p.title()));
                p.set_text(&update.title, &update.content);
                p.published = update.published;
                old
            });
            if let (Some((owner, published, old)), Ok(index_id)) = (&found, u32::try_from(id.get()))
            {
                let old = Entry {
                    owner: *owner,
                    published: *published,
                    grams: old,
                };
                let new = Entry {
                    published: update.published,
                    grams: &grams,
                    ..old
                };
                index.replace(index_id, &old, &new);
            }
            found.is_some()
        };
        Ok(if found { self.view(id.get()) } else { None })
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
