//! The store ports, shaped for a database: each use case is one call.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    EmailAddress, NewPost, NewUser, PasswordHash, PostFilter, PostId, PostUpdate, PostView, Role,
    SessionId, StoreError, User, UserId, UserPage,
};

/// The outcome of a change to a post asked by a user, checked by the
/// store in the same step as the change (`domain::policy`'s rules, in the
/// API's precedence: what the actor cannot see is missing, what they may
/// see but not change is forbidden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostChange<T> {
    /// Done.
    Done(T),
    /// No such post, or one the actor may not see (`policy::can_view_post`).
    NotFound,
    /// The actor sees it but may not change it (`policy::can_change_post`).
    Forbidden,
}

/// What a vote asked by a user did, checked by the store in the same
/// step as the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voted {
    /// The vote was added.
    Added,
    /// The vote was removed.
    Removed,
    /// No such post, or one the voter may not see (`policy::can_view_post`).
    PostNotFound,
    /// An added vote: the voter had voted on this post already.
    AlreadyVoted,
    /// A removed vote: the voter had not voted on this post.
    NoVote,
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The email is taken (compared without regard to case).
    #[error("email taken")]
    EmailTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of a change that must never leave the store without an
/// admin (a demotion, a deletion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeepAdmin<T> {
    /// Done.
    Done(T),
    /// No such user.
    NotFound,
    /// Refused: the user is the only admin.
    LastAdmin,
}

/// Users and their credentials.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Whether the store answers now (a round trip for a database).
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Stores a new user with the next id.
    ///
    /// # Errors
    /// [`CreateUserError::EmailTaken`] when the email exists.
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError>;

    /// The user with this id.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with this email and their password hash.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<(User, PasswordHash)>, StoreError>;

    /// A page of users in ascending id order, from above the page's
    /// `after` cursor (sought, not walked to) when it has one.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(&self, page: UserPage) -> Result<Vec<User>, StoreError>;

    /// Changes a role, unless that would demote the only admin; the user
    /// as changed. Atomic with every other demotion and deletion: however
    /// many run at once, at least one admin remains.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn set_role(&self, id: UserId, role: Role) -> Result<KeepAdmin<User>, StoreError>;

    /// Replaces `id`'s password hash and ends every session of theirs but
    /// `keep`, in one step; `false` when there is no such user.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn set_password(
        &self,
        id: UserId,
        hash: PasswordHash,
        keep: SessionId,
    ) -> Result<bool, StoreError>;

    /// Deletes a user with their posts, their votes, the votes on their
    /// posts and their sessions, unless they are the only admin; atomic
    /// as [`Self::set_role`] is.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn delete(&self, id: UserId) -> Result<KeepAdmin<()>, StoreError>;
}

/// Posts, read with their owner and vote count.
#[async_trait]
pub trait PostStore: Send + Sync + 'static {
    /// Stores a new post with the next id and `created_at`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn create(
        &self,
        post: NewPost,
        created_at: OffsetDateTime,
    ) -> Result<PostView, StoreError>;

    /// The post with its owner and vote count, whoever may see it.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn get(&self, id: PostId) -> Result<Option<PostView>, StoreError>;

    /// The posts the filter's visibility allows, matching its search,
    /// newest (highest id) first, from below its `before` cursor (sought,
    /// not walked to) when it has one, paged.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(&self, filter: &PostFilter) -> Result<Vec<PostView>, StoreError>;

    /// Replaces the editable fields, if `actor` may (checked with the
    /// change, atomically: one statement on a database); the post as
    /// changed. What the service calls.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn update_as(
        &self,
        actor: &User,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostChange<PostView>, StoreError>;

    /// Deletes a post and its votes, if `actor` may (checked with the
    /// change, atomically). What the service calls.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn delete_as(&self, actor: &User, id: PostId) -> Result<PostChange<()>, StoreError>;

    /// Replaces the editable fields, unchecked (seeding and store tests:
    /// the service uses [`Self::update_as`]); `None` when the post does
    /// not exist.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn update(&self, id: PostId, update: PostUpdate) -> Result<Option<PostView>, StoreError>;

    /// Deletes a post and its votes, unchecked (store tests: the service
    /// uses [`Self::delete_as`]); `false` when it did not exist.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn delete(&self, id: PostId) -> Result<bool, StoreError>;
}

/// What adding a vote did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddVote {
    /// The vote was added.
    Added,
    /// The user had voted on this post already.
    AlreadyVoted,
    /// The post does not exist (any more).
    PostMissing,
}

/// Votes: one per user and post, race-free.
#[async_trait]
pub trait VoteStore: Send + Sync + 'static {
    /// Adds (`up`) or removes `voter`'s vote on `post`, if the voter may
    /// see the post (checked with the change, atomically: one statement
    /// on a database). What the service calls.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn vote_as(&self, voter: &User, post: PostId, up: bool) -> Result<Voted, StoreError>;

    /// Adds `user`'s vote on `post`, atomically, whoever may see the post
    /// (store tests: the service uses [`Self::vote_as`]).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn add(&self, user: UserId, post: PostId) -> Result<AddVote, StoreError>;

    /// Removes the vote; `false` when there was none (store tests: the
    /// service uses [`Self::vote_as`]).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn remove(&self, user: UserId, post: PostId) -> Result<bool, StoreError>;
}
