//! The PostgreSQL store: `UserStore`, `PostStore` and `VoteStore` over a
//! deadpool-postgres pool of tokio-postgres connections, the shared login
//! throttle ([`PostgresThrottle`]), and the pool's state for the metrics
//! (`PoolMonitor`).
//!
//! - Every use case is one statement, one round trip, prepared once per
//!   connection (`prepare_cached`); the SQL lives in [`queries`].
//! - Every call checks a connection out and gets its answer within the
//!   configured timeout, or fails with `StoreError::Unavailable` (503):
//!   a dead or unreachable database never hangs a request.
//! - Driver errors stop here ([`errors`]): SQLSTATEs on named constraints
//!   become business outcomes, the rest `StoreError::Unavailable`.
//! - The schema is plain SQL in `migrations/`, embedded and applied at
//!   start-up ([`PgStore::migrate`]).

mod checked;
mod errors;
mod migrate;
mod pool;
mod posts;
pub mod queries;
mod rows;
mod sessions;
mod throttle;
mod users;
mod votes;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use tokio::time::{Instant, timeout_at};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

pub use errors::ConnectError;
#[doc(hidden)]
pub use migrate::migrate_to;
pub use pool::{PgSettings, mask_password};
pub use throttle::PostgresThrottle;

use crate::ports::{Clock, PoolMonitor, PoolStats};
use errors::DbFailure;

/// Statement parameters.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Users, posts, votes and sessions in PostgreSQL. Clones share the
/// pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    /// `DATABASE_URL` with the password masked, for messages.
    masked_url: String,
}

impl PgStore {
    /// Builds the pool and checks a connection out, so that a wrong or
    /// unreachable `DATABASE_URL` fails now, within the timeout, and not
    /// at the first request. Does not migrate: see [`PgStore::migrate`].
    ///
    /// # Errors
    /// [`ConnectError`], naming `DATABASE_URL` with its password masked.
    pub async fn connect(
        settings: &PgSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectError> {
        let pool = pool::build(settings)?;
        let store = Self {
            pool,
            clock,
            timeout: settings.timeout,
            masked_url: mask_password(&settings.url),
        };
        store
            .ping_raw()
            .await
            .map_err(|e| ConnectError::Unreachable {
                url: store.masked_url.clone(),
                seconds: settings.timeout.as_secs(),
                reason: e.to_string(),
            })?;
        Ok(store)
    }

    /// Applies the migrations not yet applied; their names
    /// (`V1__users`, ...), none when the schema is up to date. Instances
    /// starting together take turns (an advisory lock).
    ///
    /// # Errors
    /// [`ConnectError::Migration`], for instance when an applied migration
    /// was edited since (refinery's divergent version check).
    pub async fn migrate(&self) -> Result<Vec<String>, ConnectError> {
        let failed = |reason: String| ConnectError::Migration {
            url: self.masked_url.clone(),
            reason,
        };
        let mut client = self
            .checkout(Instant::now() + self.timeout)
            .await
            .map_err(|e| failed(e.to_string()))?;
        migrate::run(&mut client).await.map_err(failed)
    }

    /// Checks out a connection and runs `SELECT 1`.
    async fn ping_raw(&self) -> Result<(), DbFailure> {
        self.query(queries::PING, &[]).await.map(drop)
    }

    /// A connection from the pool, by `deadline`.
    async fn checkout(&self, deadline: Instant) -> Result<Object, DbFailure> {
        match timeout_at(deadline, self.pool.get()).await {
            Ok(client) => Ok(client?),
            Err(_) => Err(DbFailure::TimedOut),
        }
    }

    /// Runs a statement that returns rows: checkout, prepare (cached per
    /// connection) and execute, all within the timeout.
    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, DbFailure> {
        let deadline = Instant::now() + self.timeout;
        let client = self.checkout(deadline).await?;
        let answer = timeout_at(deadline, async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        })
        .await;
        settle(client, answer)
    }

    /// Runs a statement planned for these parameters: sent as the unnamed
    /// statement with typed parameters (parse, bind and execute in one
    /// round trip), which PostgreSQL plans with the values. For pages, whose
    /// best plan depends on the limit and the search pattern (a rare word
    /// walks the trigram index, a common one the primary key), which a
    /// cached generic plan cannot know.
    async fn query_planned(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, DbFailure> {
        let deadline = Instant::now() + self.timeout;
        let client = self.checkout(deadline).await?;
        let answer = timeout_at(deadline, client.query_typed(sql, params)).await;
        settle(client, answer)
    }

    /// Runs `sql` in a transaction of its own after taking the
    /// transaction-level advisory lock `lock`. Callers with the same key,
    /// on any instance, run one after the other, and the statement sees
    /// everything the previous one committed (READ COMMITTED takes its
    /// snapshot once the lock is granted): how a check-then-write rule
    /// (the login limits) holds under concurrency; the last-admin rule needs
    /// no such transaction (`queries::SET_ROLE_LOCKED` locks rows instead).
    async fn query_locked(
        &self,
        lock: i64,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, DbFailure> {
        let deadline = Instant::now() + self.timeout;
        let mut client = self.checkout(deadline).await?;
        let answer = timeout_at(deadline, async {
            let tx = client.transaction().await?;
            let take = tx.prepare_cached(queries::ADVISORY_LOCK).await?;
            tx.execute(&take, &[&lock]).await?;
            let statement = tx.prepare_cached(sql).await?;
            let rows = tx.query(&statement, params).await?;
            tx.commit().await?;
            Ok(rows)
        })
        .await;
        settle(client, answer)
    }

    /// Runs a statement that returns at most one row.
    async fn query_opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, DbFailure> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs a statement for its count of affected rows.
    async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, DbFailure> {
        let deadline = Instant::now() + self.timeout;
        let client = self.checkout(deadline).await?;
        let answer = timeout_at(deadline, async {
            let statement = client.prepare_cached(sql).await?;
            client.execute(&statement, params).await
        })
        .await;
        settle(client, answer)
    }
}

impl PoolMonitor for PgStore {
    fn stats(&self) -> PoolStats {
        let status = self.pool.status();
        PoolStats {
            in_use: status.size.saturating_sub(status.available),
            idle: status.available,
            waiting: status.waiting,
            max_size: status.max_size,
        }
    }
}

/// The answer of a call on `client`. A connection whose call timed out may
/// still owe the server's answer, and one that failed in a way that
/// outlives the call ([`DbFailure::ends_connection`]: closed, server
/// shutting down or read-only after a failover) would fail the next
/// request too: either is taken out of the pool and closed rather than
/// handed out again.
fn settle<T>(
    client: Object,
    answer: Result<Result<T, tokio_postgres::Error>, tokio::time::error::Elapsed>,
) -> Result<T, DbFailure> {
    match answer {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            if DbFailure::ends_connection(&e) {
                drop(Object::take(client));
            }
            Err(e.into())
        }
        Err(_) => {
            drop(Object::take(client));
            Err(DbFailure::TimedOut)
        }
    }
}
