//! `UserStore` over DashMap.

use std::ops::Bound;

use async_trait::async_trait;
use dashmap::mapref::entry::Entry;

use super::{MemoryStore, UserRecord, lock, next_id, read, write};
use crate::domain::{
    EmailAddress, NewUser, PasswordHash, Role, SessionId, StoreError, User, UserId, UserPage,
};
use crate::ports::{CreateUserError, KeepAdmin, UserStore};

#[async_trait]
impl UserStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn create(&self, new: NewUser) -> Result<User, CreateUserError> {
        let inner = &self.inner;
        // The email entry is the unique index: holding it makes check and
        // insert one atomic step.
        let Entry::Vacant(slot) = inner.emails.entry(new.email.as_str().to_owned()) else {
            return Err(CreateUserError::EmailTaken);
        };
        let id = next_id(&inner.next_user_id);
        let user = User {
            id: UserId::new(id)
                .ok_or_else(|| StoreError::Unavailable("user ids exhausted".into()))?,
            email: new.email,
            role: new.role,
            created_at: inner.clock.now(),
        };
        inner.users.insert(
            id,
            UserRecord {
                user: user.clone(),
                hash: new.password_hash,
            },
        );
        slot.insert(id);
        write(&inner.user_order).insert(id);
        if user.is_admin() {
            lock(&inner.admins).insert(id);
        }
        Ok(user)
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.inner.user(id))
    }

    async fn get_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<(User, PasswordHash)>, StoreError> {
        let Some(id) = self.inner.emails.get(email.as_str()).map(|r| *r) else {
            return Ok(None);
        };
        Ok(self
            .inner
            .users
            .get(&id)
            .map(|r| (r.user.clone(), r.hash.clone())))
    }

    async fn list(&self, UserPage { after, page }: UserPage) -> Result<Vec<User>, StoreError> {
        let ids: Vec<i64> = {
            let order = read(&self.inner.user_order);
            let skip = usize::try_from(page.skip()).unwrap_or(usize::MAX);
            // Seek to the cursor in the ordered index, whatever lies below it.
            let lower = after.map_or(Bound::Unbounded, |after| Bound::Excluded(after.get()));
            order
                .range((lower, Bound::Unbounded))
                .skip(skip)
                .take(page.limit() as usize)
                .copied()
                .collect()
        };
        Ok(ids
            .into_iter()
            .filter_map(|id| self.inner.users.get(&id).map(|r| r.user.clone()))
            .collect())
    }

    async fn set_role(&self, id: UserId, role: Role) -> Result<KeepAdmin<User>, StoreError> {
        let mut admins = lock(&self.inner.admins);
        let Some(mut record) = self.inner.users.get_mut(&id.get()) else {
            return Ok(KeepAdmin::NotFound);
        };
        let demotes = record.user.is_admin() && role != Role::Admin;
        if demotes && admins.len() <= 1 {
            return Ok(KeepAdmin::LastAdmin);
        }
        record.user.role = role;
        if role == Role::Admin {
            admins.insert(id.get());
        } else {
            admins.remove(&id.get());
        }
        Ok(KeepAdmin::Done(record.user.clone()))
    }

    async fn set_password(
        &self,
        id: UserId,
        hash: PasswordHash,
        keep: SessionId,
    ) -> Result<bool, StoreError> {
        let Some(mut record) = self.inner.users.get_mut(&id.get()) else {
            return Ok(false);
        };
        record.hash = hash;
        drop(record);
        self.end_sessions(id, Some(keep));
        Ok(true)
    }

    async fn delete(&self, id: UserId) -> Result<KeepAdmin<()>, StoreError> {
        let inner = &self.inner;
        let record = {
            let mut admins = lock(&inner.admins);
            if admins.contains(&id.get()) && admins.len() <= 1 {
                return Ok(KeepAdmin::LastAdmin);
            }
            let Some((_, record)) = inner.users.remove(&id.get()) else {
                return Ok(KeepAdmin::NotFound);
            };
            admins.remove(&id.get());
            record
        };
        write(&inner.user_order).remove(&id.get());
        self.end_sessions(id, None);
        inner
            .emails
            .remove_if(record.user.email.as_str(), |_, owner| *owner == id.get());
        // Posts and votes created concurrently with this scan re-check the
        // owner after inserting, so none outlives the user.
        let owned: Vec<i64> = inner
            .posts
            .iter()
            .filter(|p| p.owner_id == id)
            .map(|p| *p.key())
            .collect();
        for post in owned {
            self.remove_post(post);
        }
        for mut post in inner.posts.iter_mut() {
            post.remove_voter(id);
        }
        Ok(KeepAdmin::Done(()))
    }
}
