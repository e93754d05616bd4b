//! The in-memory store: DashMap tables for demos and tests, the default.
//!
//! Locks are never held across `.await` (there is none inside) and never
//! taken in two orders: the order indexes, the admins and the session
//! tables are locked alone or before a map shard, never while a shard
//! guard is held.

mod checked;
mod post_index;
mod posts;
#[cfg(test)]
mod search_tests;
mod sessions;
mod throttle;
mod users;

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use dashmap::DashMap;
use time::OffsetDateTime;

pub use throttle::MemoryThrottle;

use crate::domain::{PasswordHash, PostContent, PostTitle, Session, User, UserId};
use crate::ports::Clock;

/// Users, posts, votes and sessions in process memory. Clones share
/// the same data.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct UserRecord {
    user: User,
    hash: PasswordHash,
}

/// A post, packed: at a million posts the per-post overhead is what
/// decides the memory footprint, so title and content share one
/// allocation, the time is kept as microseconds, and the voters' set is
/// allocated only once somebody votes.
struct PostRecord {
    owner_id: UserId,
    created_at_micros: i64,
    /// The title followed by the content.
    text: Box<str>,
    title_len: u32,
    published: bool,
    // Boxed on purpose: 8 bytes in every map slot instead of 48.
    #[allow(clippy::box_collection)]
    voters: Option<Box<HashSet<UserId>>>,
}

impl PostRecord {
    fn new(
        owner_id: UserId,
        title: &PostTitle,
        content: &PostContent,
        published: bool,
        created_at: OffsetDateTime,
    ) -> Self {
        let mut record = Self {
            owner_id,
            created_at_micros: (created_at.unix_timestamp_nanos() / 1_000) as i64,
            text: Box::from(""),
            title_len: 0,
            published,
            voters: None,
        };
        record.set_text(title, content);
        record
    }

    fn set_text(&mut self, title: &PostTitle, content: &PostContent) {
        let (title, content) = (title.as_str(), content.as_str());
        let mut text = String::with_capacity(title.len() + content.len());
        text.push_str(title);
        text.push_str(content);
        self.text = text.into_boxed_str();
        // Titles are at most 300 characters, so their length fits.
        self.title_len = title.len() as u32;
    }

    fn title(&self) -> &str {
        &self.text[..self.title_len as usize]
    }

    fn content(&self) -> &str {
        &self.text[self.title_len as usize..]
    }

    fn created_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.created_at_micros) * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn votes(&self) -> usize {
        self.voters.as_ref().map_or(0, |v| v.len())
    }

    /// Adds a voter; `false` if they had voted already.
    fn add_voter(&mut self, user: UserId) -> bool {
        self.voters.get_or_insert_with(Box::default).insert(user)
    }

    /// Removes a voter; `false` if they had not voted.
    fn remove_voter(&mut self, user: UserId) -> bool {
        self.voters.as_mut().is_some_and(|v| v.remove(&user))
    }
}

struct Inner {
    users: DashMap<i64, UserRecord>,
    /// Normalised email to user id: the unique index.
    emails: DashMap<String, i64>,
    user_order: RwLock<BTreeSet<i64>>,
    /// The admins' ids. Its lock is the gate of every change that could
    /// remove an admin, so the last one cannot be demoted or deleted by
    /// concurrent requests; it is taken before any map shard.
    admins: Mutex<BTreeSet<i64>>,
    posts: DashMap<i64, PostRecord>,
    /// Post ids by order, visibility and title n-grams, so a page looks
    /// only at posts it may return. Every change to a post's presence,
    /// title or flag takes its write lock, before the post's shard, so the
    /// index always agrees with the posts a reader sees under its read lock.
    posts_index: RwLock<post_index::PostIndex>,
    /// Sessions by id: read on every authenticated request.
    sessions: DashMap<i64, Session>,
    /// The rest of the session state; its lock orders every change to
    /// sessions (so a refresh has exactly one winner), taken before any
    /// map shard.
    session_tables: Mutex<sessions::Tables>,
    next_user_id: AtomicI64,
    next_post_id: AtomicI64,
    next_session_id: AtomicI64,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    /// An empty store; `clock` says when sessions have expired.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_index(clock, post_index::PostIndex::default())
    }

    fn with_index(clock: Arc<dyn Clock>, index: post_index::PostIndex) -> Self {
        Self {
            inner: Arc::new(Inner {
                users: DashMap::new(),
                emails: DashMap::new(),
                user_order: RwLock::default(),
                admins: Mutex::default(),
                posts: DashMap::new(),
                posts_index: RwLock::new(index),
                sessions: DashMap::new(),
                session_tables: Mutex::default(),
                next_user_id: AtomicI64::new(1),
                next_post_id: AtomicI64::new(1),
                next_session_id: AtomicI64::new(1),
                clock,
            }),
        }
    }
}

impl Inner {
    fn user(&self, id: UserId) -> Option<User> {
        self.users.get(&id.get()).map(|r| r.user.clone())
    }
}

/// Lock helpers: a panic while holding an index lock leaves a consistent
/// set (every mutation is a single insert or remove), so poison is ignored.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock<T>(lock: &Mutex<T>) -> MutexGuard<'_, T> {
    lock.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn next_id(counter: &AtomicI64) -> i64 {
    counter.fetch_add(1, Ordering::Relaxed)
}
