//! `SessionStore` over PostgreSQL: the bearer check joins the session
//! (one statement, with the post for the hot read), and each change to a
//! session is one statement. A refresh is one statement that spends the
//! token only if it is still current (row-locked, so concurrent refreshes
//! with one token have one winner), and one more when it did not rotate,
//! to end the session if the token had been spent.

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::{PgStore, queries, rows};
use crate::domain::policy;
use crate::domain::{
    MAX_SESSIONS_PER_USER, NewSession, Page, PasswordHash, PostFilter, PostId, PostView,
    RefreshHash, Search, Session, SessionId, StoreError, User, UserId,
};
use crate::ports::{PostStore, Refreshed, SessionStore};

/// The session's foreign key to its user.
pub(super) const SESSION_USER_FKEY: &str = "sessions_user_id_fkey";

#[async_trait]
impl SessionStore for PgStore {
    async fn bearer(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        let row = self
            .query_opt(queries::ACTIVE_USER, &[&user.get(), &session.get(), &now])
            .await
            .map_err(|e| e.into_store("get active user"))?;
        row.map(|r| rows::user(&r, &rows::USER)).transpose()
    }

    async fn bearer_with_post(
        &self,
        user: UserId,
        session: SessionId,
        post: PostId,
        now: OffsetDateTime,
    ) -> Result<Option<(User, Option<PostView>)>, StoreError> {
        let row = self
            .query_opt(
                queries::BEARER_AND_POST,
                &[&user.get(), &session.get(), &post.get(), &now],
            )
            .await
            .map_err(|e| e.into_store("get post for bearer"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let bearer = rows::user(&row, &rows::USER)?;
        let post = rows::optional_post_view(&row)?;
        Ok(Some((bearer, post)))
    }

    async fn bearer_with_posts(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
        search: Option<&Search>,
        before: Option<PostId>,
        page: Page,
    ) -> Result<Option<(User, Vec<PostView>)>, StoreError> {
        let first = queries::bearer_first(page.limit())
            .filter(|_| search.is_none() && before.is_none() && page.skip() == 0);
        let Some(sql) = first else {
            // Other pages: the bearer's statement, then the page's (folded,
            // a cursor page planned longer than both cost together).
            let Some(bearer) = self.bearer(user, session, now).await? else {
                return Ok(None);
            };
            let filter = PostFilter {
                visibility: policy::visibility_for(&bearer),
                search: search.cloned(),
                before,
                page,
            };
            let posts = PostStore::list(self, &filter).await?;
            return Ok(Some((bearer, posts)));
        };
        // The plain first page: prepared per limit, a generic plan.
        let found = self.query(sql, &[&user.get(), &session.get(), &now]).await;
        let found = found.map_err(|e| e.into_store("list posts for bearer"))?;
        let Some(first) = found.first() else {
            return Ok(None);
        };
        let bearer = rows::user(first, &rows::USER)?;
        let mut posts = Vec::with_capacity(found.len());
        for row in &found {
            posts.extend(rows::optional_post_view(row)?);
        }
        // The statement leaves the order to us (see `bearer_tail!`).
        posts.sort_unstable_by_key(|p| std::cmp::Reverse(p.id));
        Ok(Some((bearer, posts)))
    }

    async fn start(&self, new: NewSession) -> Result<Option<Session>, StoreError> {
        let start = StartParams::new(&new);
        let row = self
            .query_opt(queries::START_SESSION, &start.params())
            .await;
        started(row)
    }

    async fn refresh(
        &self,
        presented: RefreshHash,
        next: RefreshHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Refreshed, StoreError> {
        let (old, new) = (presented.0.as_slice(), next.0.as_slice());
        let row = self
            .query_opt(queries::ROTATE_REFRESH, &[&old, &new, &now, &expires_at])
            .await
            .map_err(|e| e.into_store("refresh"))?;
        if let Some(row) = row {
            let session = rows::session(&row)?;
            let user = rows::user(&row, &rows::USER)?;
            return Ok(Refreshed::Rotated { session, user });
        }
        self.execute(queries::END_REUSED, &[&old])
            .await
            .map_err(|e| e.into_store("end a reused session"))?;
        Ok(Refreshed::Invalid)
    }

    async fn list(&self, user: UserId, now: OffsetDateTime) -> Result<Vec<Session>, StoreError> {
        let found = self
            .query(queries::LIST_SESSIONS, &[&user.get(), &now])
            .await
            .map_err(|e| e.into_store("list sessions"))?;
        found.iter().map(rows::session).collect()
    }

    async fn end(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let ended = self
            .execute(queries::END_SESSION, &[&session.get(), &user.get(), &now])
            .await
            .map_err(|e| e.into_store("end session"))?;
        Ok(ended > 0)
    }

    async fn end_all(&self, user: UserId, keep: Option<SessionId>) -> Result<(), StoreError> {
        let keep = keep.map(SessionId::get);
        self.execute(queries::END_SESSIONS, &[&user.get(), &keep])
            .await
            .map_err(|e| e.into_store("end sessions"))?;
        Ok(())
    }

    async fn end_all_of_user(&self, user: UserId) -> Result<bool, StoreError> {
        let row = self
            .query_opt(queries::END_USER_SESSIONS, &[&user.get()])
            .await
            .map_err(|e| e.into_store("end a user's sessions"))?
            .ok_or_else(|| StoreError::Unavailable("end a user's sessions: no row".into()))?;
        row.try_get("existed")
            .map_err(|e| super::errors::bad_row("sessions", e))
    }
}

/// The parameters of [`queries::START_SESSION`], with which
/// [`queries::RELEASE_AND_START_SESSION`] begins too.
pub(super) struct StartParams<'a> {
    user: i64,
    refresh: &'a [u8],
    created_at: &'a OffsetDateTime,
    expires_at: &'a OffsetDateTime,
    user_agent: &'a Option<String>,
    cap: i64,
    verified: Option<&'a str>,
}

impl<'a> StartParams<'a> {
    /// `new`'s, with the cap on a user's sessions.
    pub(super) fn new(new: &'a NewSession) -> Self {
        Self {
            user: new.user_id.get(),
            refresh: new.refresh.0.as_slice(),
            created_at: &new.created_at,
            expires_at: &new.expires_at,
            user_agent: &new.user_agent,
            cap: MAX_SESSIONS_PER_USER as i64,
            verified: new.verified.as_ref().map(PasswordHash::expose),
        }
    }

    /// `$1` to `$7`, in order.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.user,
            &self.refresh,
            self.created_at,
            self.expires_at,
            self.user_agent,
            &self.cap,
            &self.verified,
        ]
    }
}

/// The answer of a statement that starts a session ([`queries::START_SESSION`]
/// or the login's [`queries::RELEASE_AND_START_SESSION`]): no row, or a
/// user deleted under it, is a session not started.
pub(super) fn started(
    row: Result<Option<tokio_postgres::Row>, super::errors::DbFailure>,
) -> Result<Option<Session>, StoreError> {
    match row {
        Ok(Some(row)) => rows::session(&row).map(Some),
        Ok(None) => Ok(None),
        Err(e) if e.violates(&SqlState::FOREIGN_KEY_VIOLATION, SESSION_USER_FKEY) => Ok(None),
        Err(e) => Err(e.into_store("start session")),
    }
}
