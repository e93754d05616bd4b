//! `SessionStore` over the in-memory tables.
//!
//! Sessions live in a `DashMap` read lock-free by every authenticated
//! request; every change goes through the `Tables` mutex, which also holds
//! the refresh tokens (by hash) and each user's sessions. One lock for all
//! changes makes a refresh's check-and-spend atomic: of concurrent
//! refreshes with one token, exactly one rotates. Nothing grows without
//! bound: ended sessions go at once with their tokens, expired ones are
//! swept as sessions start, a user keeps at most `MAX_SESSIONS_PER_USER`,
//! and a session remembers at most [`SPENT_KEPT`] spent tokens.

use std::collections::{BTreeSet, HashMap, VecDeque};

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{MemoryStore, lock, next_id};
use crate::domain::policy;
use crate::domain::{
    MAX_SESSIONS_PER_USER, NewSession, Page, PostFilter, PostId, PostView, RefreshHash, Search,
    Session, SessionId, StoreError, User, UserId,
};
use crate::ports::{PostStore, Refreshed, SessionStore};

/// Spent refresh tokens a session remembers for reuse detection; older
/// ones are forgotten (presenting one is then merely invalid).
pub const SPENT_KEPT: usize = 64;

/// A refresh token's record.
struct Refresh {
    session: i64,
    expires_at: OffsetDateTime,
    spent: bool,
}

/// Everything about sessions but the sessions themselves.
#[derive(Default)]
pub(super) struct Tables {
    refresh: HashMap<RefreshHash, Refresh>,
    /// Each session's token hashes, oldest first (the last is current).
    tokens: HashMap<i64, VecDeque<RefreshHash>>,
    by_user: HashMap<UserId, BTreeSet<i64>>,
    /// Sessions after the last sweep of expired ones.
    after_sweep: usize,
}

impl MemoryStore {
    /// Ends session `id` with its tokens; must hold `tables`.
    fn drop_session(&self, tables: &mut Tables, id: i64) {
        if let Some((_, session)) = self.inner.sessions.remove(&id)
            && let Some(ids) = tables.by_user.get_mut(&session.user_id)
        {
            ids.remove(&id);
            if ids.is_empty() {
                tables.by_user.remove(&session.user_id);
            }
        }
        for hash in tables.tokens.remove(&id).unwrap_or_default() {
            tables.refresh.remove(&hash);
        }
    }

    /// Ends every session of `user` but `keep`.
    pub(super) fn end_sessions(&self, user: UserId, keep: Option<SessionId>) {
        let mut tables = lock(&self.inner.session_tables);
        let ids: Vec<i64> = tables
            .by_user
            .get(&user)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default();
        for id in ids {
            if keep.map(SessionId::get) != Some(id) {
                self.drop_session(&mut tables, id);
            }
        }
    }

    /// The session `session` of `user`, active at `now`.
    fn active(&self, user: UserId, session: SessionId, now: OffsetDateTime) -> bool {
        self.inner
            .sessions
            .get(&session.get())
            .is_some_and(|s| s.user_id == user && s.is_active(now))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn bearer(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        Ok(self
            .active(user, session, now)
            .then(|| self.inner.user(user))
            .flatten())
    }

    async fn bearer_with_post(
        &self,
        user: UserId,
        session: SessionId,
        post: PostId,
        now: OffsetDateTime,
    ) -> Result<Option<(User, Option<PostView>)>, StoreError> {
        let bearer = self.bearer(user, session, now).await?;
        Ok(bearer.map(|u| (u, self.view(post.get()))))
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
        Ok(Some((bearer, posts)))
    }

    async fn start(&self, new: NewSession) -> Result<Option<Session>, StoreError> {
        let now = new.created_at;
        let mut tables = lock(&self.inner.session_tables);
        if self.inner.sessions.len() > 2 * tables.after_sweep.max(1024) {
            let expired: Vec<i64> = self
                .inner
                .sessions
                .iter()
                .filter(|s| !s.is_active(now))
                .map(|s| *s.key())
                .collect();
            for id in expired {
                self.drop_session(&mut tables, id);
            }
            tables.after_sweep = self.inner.sessions.len();
        }
        // Room for the new one: the least recently used go first.
        let mut mine: Vec<(OffsetDateTime, i64)> = tables
            .by_user
            .get(&new.user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.inner.sessions.get(id).map(|s| (s.last_used_at, *id)))
            .collect();
        mine.sort_unstable();
        let excess = (mine.len() + 1).saturating_sub(MAX_SESSIONS_PER_USER);
        for (_, id) in mine.into_iter().take(excess) {
            self.drop_session(&mut tables, id);
        }
        // Read under the session tables' lock, which `set_password` and
        // `delete` take to end sessions after changing the user: a session
        // started on the old hash is one they end.
        let current = match self.inner.users.get(&new.user_id.get()) {
            Some(record) => new
                .verified
                .as_ref()
                .is_none_or(|hash| hash.expose() == record.hash.expose()),
            None => false,
        };
        if !current {
            return Ok(None);
        }
        let raw = next_id(&self.inner.next_session_id);
        let id = SessionId::new(raw)
            .ok_or_else(|| StoreError::Unavailable("session ids exhausted".into()))?;
        let session = Session {
            id,
            user_id: new.user_id,
            created_at: now,
            last_used_at: now,
            expires_at: new.expires_at,
            user_agent: new.user_agent,
        };
        tables.refresh.insert(
            new.refresh,
            Refresh {
                session: raw,
                expires_at: new.expires_at,
                spent: false,
            },
        );
        tables.tokens.insert(raw, VecDeque::from([new.refresh]));
        tables.by_user.entry(new.user_id).or_default().insert(raw);
        self.inner.sessions.insert(raw, session.clone());
        Ok(Some(session))
    }

    async fn refresh(
        &self,
        presented: RefreshHash,
        next: RefreshHash,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Refreshed, StoreError> {
        let mut tables = lock(&self.inner.session_tables);
        let Some(token) = tables.refresh.get(&presented) else {
            return Ok(Refreshed::Invalid);
        };
        let id = token.session;
        if token.spent {
            // Reuse is theft: the session ends for everybody.
            self.drop_session(&mut tables, id);
            return Ok(Refreshed::Invalid);
        }
        let current = token.expires_at > now;
        let session = self.inner.sessions.get(&id).map(|s| s.clone());
        let user = session.as_ref().and_then(|s| self.inner.user(s.user_id));
        let (Some(mut session), Some(user), true) = (session, user, current) else {
            return Ok(Refreshed::Invalid);
        };
        if !session.is_active(now) {
            return Ok(Refreshed::Invalid);
        }
        if let Some(token) = tables.refresh.get_mut(&presented) {
            token.spent = true;
        }
        tables.refresh.insert(
            next,
            Refresh {
                session: id,
                expires_at,
                spent: false,
            },
        );
        let kept = tables.tokens.entry(id).or_default();
        kept.push_back(next);
        let forgotten: Vec<RefreshHash> = kept
            .drain(..kept.len().saturating_sub(SPENT_KEPT + 1))
            .collect();
        for hash in forgotten {
            tables.refresh.remove(&hash);
        }
        session.last_used_at = now;
        session.expires_at = expires_at;
        self.inner.sessions.insert(id, session.clone());
        Ok(Refreshed::Rotated { session, user })
    }

    async fn list(&self, user: UserId, now: OffsetDateTime) -> Result<Vec<Session>, StoreError> {
        let tables = lock(&self.inner.session_tables);
        let mut found: Vec<Session> = tables
            .by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.inner.sessions.get(id).map(|s| s.clone()))
            .filter(|s| s.is_active(now))
            .collect();
        // Newest first; ids grow with time.
        found.sort_unstable_by_key(|s| std::cmp::Reverse(s.id));
        Ok(found)
    }

    async fn end(
        &self,
        user: UserId,
        session: SessionId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tables = lock(&self.inner.session_tables);
        let owned = self.active(user, session, now);
        if owned {
            self.drop_session(&mut tables, session.get());
        }
        Ok(owned)
    }

    async fn end_all(&self, user: UserId, keep: Option<SessionId>) -> Result<(), StoreError> {
        self.end_sessions(user, keep);
        Ok(())
    }

    async fn end_all_of_user(&self, user: UserId) -> Result<bool, StoreError> {
        // A user deleted meanwhile has no sessions left either way.
        self.end_sessions(user, None);
        Ok(self.inner.users.contains_key(&user.get()))
    }
}
