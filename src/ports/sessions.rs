//! The sessions port: who presents an access token (read from the store on
//! every request), and the life of a session: start, refresh with
//! rotation and reuse detection, list, end.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::domain::{
    NewSession, Page, PostId, PostView, RefreshHash, Search, Session, SessionId, StoreError, User,
    UserId,
};

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The presented token was current: it is spent, the next one stands,
    /// the session goes on (as it is now) for its user (read now).
    Rotated {
        /// The session after the refresh.
        session: Session,
        /// Its user, as stored now.
        user: User,
    },
    /// Unknown, expired or spent, or its session or user is gone. A spent
    /// token's session has been ended (reuse is theft).
    Invalid,
}

/// Sessions and the bearers of access tokens.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The user `user` if `session` is one of theirs and active at `now`:
    /// what every authenticated request needs, in one call.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn bearer(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError>;

    /// The hot read in one call: what [`Self::bearer`] answers, with the
    /// post `post` if it exists, whoever may see it (the caller applies
    /// the policy). One round trip on a database.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn bearer_with_post(
        &self,
        user: UserId,
        session: SessionId,
        post: PostId,
        now: OffsetDateTime,
    ) -> Result<Option<(User, Option<PostView>)>, StoreError>;

    /// A list page in one call: what [`Self::bearer`] answers, with the
    /// page of posts the bearer may see (`policy::visibility_for`), as
    /// `PostStore::list` answers it for that filter. One round trip on a
    /// database for the plain first page at least.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn bearer_with_posts(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
        search: Option<&Search>,
        before: Option<PostId>,
        page: Page,
    ) -> Result<Option<(User, Vec<PostView>)>, StoreError>;

    /// Starts a session with its first refresh token, unless the user is
    /// gone or `new.verified` is no longer their password hash (`None`):
    /// decided atomically with `UserStore::set_password`, whose ending of
    /// the other sessions then covers every session it did not refuse.
    /// Drops expired sessions, and the user's least recently used ones
    /// beyond `MAX_SESSIONS_PER_USER`, so nothing grows without bound.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn start(&self, new: NewSession) -> Result<Option<Session>, StoreError>;

    /// Spends the refresh token `presented` and makes `next` its session's
    /// current one, valid until `expires_at`; atomically, so of concurrent
    /// refreshes with one token exactly one rotates. A spent token ends its
    /// session.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn refresh(
        &self,
        presented: RefreshHash,
        next: RefreshHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Refreshed, StoreError>;

    /// The user's sessions active at `now`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(&self, user: UserId, now: OffsetDateTime) -> Result<Vec<Session>, StoreError>;

    /// Ends `session` if it is one of `user`'s, active at `now`; whether
    /// it was.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn end(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Ends every session of `user` but `keep`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn end_all(&self, user: UserId, keep: Option<SessionId>) -> Result<(), StoreError>;

    /// Ends every session of `user` (an admin's kill switch); `false` when
    /// there is no such user. One statement on a database.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn end_all_of_user(&self, user: UserId) -> Result<bool, StoreError>;
}
