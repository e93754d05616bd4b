//! The PostgreSQL store: `UserStore`, `PostStore` and `VoteStore` over a
//! deadpool-postgres pool of tokio-postgres connections, the shared login
//! throttle ([`PostgresThrottle`]), and the pool's state for the metrics
//! (`PoolMonitor`).
//!
//! - Every use case is one statement, one round trip; the SQL and its
//!   parameter types live in [`queries`]. Connected directly, a statement
//!   is prepared once per connection (`prepare_typed_cached`), and
//!   PostgreSQL's plan cache soon plans lookups by key once for all.
//!   Behind a transaction pooler (`DATABASE_POOLER=transaction`) nothing
//!   may outlive a transaction, named statements included: every
//!   statement is sent unnamed with its types (`query_typed`: parse, bind
//!   and execute in one round trip), planned at each execution.
//! - Every call checks a connection out and gets its answer within the
//!   configured timeout, or fails with `StoreError::Unavailable` (503):
//!   a dead or unreachable database never hangs a request.
//! - Driver errors stop here ([`errors`]): SQLSTATEs on named constraints
//!   become business outcomes, the rest `StoreError::Unavailable`.
//! - The schema is plain SQL in `migrations/`, embedded and applied at
//!   start-up ([`PgStore::migrate`]), or, behind a pooler, applied by
//!   `posts-api migrate` over a direct connection and only checked at
//!   start-up ([`PgStore::check_schema`]).

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

use deadpool_postgres::{GenericClient, Object, Pool};
use tokio::time::{Instant, timeout_at};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};

pub use errors::ConnectError;
#[doc(hidden)]
pub use migrate::{embedded_names, migrate_to};
pub use pool::{PgSettings, mask_password};
pub use throttle::PostgresThrottle;

use crate::ports::{Clock, PoolMonitor, PoolStats};
use errors::DbFailure;
use queries::Sql;

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
    /// Behind a transaction pooler: unnamed statements only.
    unnamed: bool,
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
            unnamed: settings.transaction_pooler,
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
    /// was edited since (refinery's divergent version check);
    /// [`ConnectError::MigrateThroughPooler`] behind a transaction pooler.
    pub async fn migrate(&self) -> Result<Vec<String>, ConnectError> {
        if self.unnamed {
            return Err(ConnectError::MigrateThroughPooler);
        }
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

    /// Checks, changing nothing, that the applied migrations are exactly
    /// this release's: how the service starts behind a transaction pooler,
    /// where it does not migrate (`posts-api migrate` does, directly).
    ///
    /// # Errors
    /// [`ConnectError::SchemaNotCurrent`], naming the pending migrations
    /// (all of them on an empty database) or an edited one.
    pub async fn check_schema(&self) -> Result<(), ConnectError> {
        let deadline = Instant::now() + self.timeout;
        let not_current = |reason: String| ConnectError::SchemaNotCurrent {
            url: self.masked_url.clone(),
            reason,
        };
        let client = self.checkout(deadline).await;
        let found = match client {
            Ok(client) => {
                let answer = timeout_at(deadline, client.query_typed(migrate::APPLIED, &[])).await;
                settle(client, answer)
            }
            Err(e) => Err(e),
        };
        let rows = match found {
            Ok(rows) => rows,
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Vec::new(),
            Err(e) => {
                return Err(ConnectError::Unreachable {
                    url: self.masked_url.clone(),
                    seconds: self.timeout.as_secs(),
                    reason: format!("cannot read refinery_schema_history: {e}"),
                });
            }
        };
        let applied = rows
            .iter()
            .map(|row| {
                let text = |name| {
                    row.try_get::<_, Option<String>>(name)
                        .map(Option::unwrap_or_default)
                };
                Ok((row.try_get("version")?, text("name")?, text("checksum")?))
            })
            .collect::<Result<Vec<migrate::Applied>, tokio_postgres::Error>>()
            .map_err(|e| not_current(format!("unreadable refinery_schema_history: {e}")))?;
        migrate::check(&applied).map_err(not_current)
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

    /// Runs a statement that returns rows: checkout, then one round trip
    /// (see [`rows`]), all within the timeout.
    async fn query(&self, sql: Sql, params: Params<'_>) -> Result<Vec<Row>, DbFailure> {
        let deadline = Instant::now() + self.timeout;
        let client = self.checkout(deadline).await?;
        let answer = timeout_at(deadline, rows(&client, self.unnamed, sql, params)).await;
        settle(client, answer)
    }

    /// Runs a statement planned for these parameters: always sent as the
    /// unnamed statement with its types (parse, bind and execute in one
    /// round trip), which PostgreSQL plans with the values. For pages,
    /// whose best plan depends on the limit, the cursor and the search,
    /// which a cached generic plan cannot know. (Keyed title searches are
    /// not planned so: their work is a function's, which keeps its plan,
    /// and their statements run through [`PgStore::query`]; see
    /// `queries::LIST_VISIBLE_SEARCH_KEYED`.)
    async fn query_planned(&self, sql: Sql, params: Params<'_>) -> Result<Vec<Row>, DbFailure> {
        let deadline = Instant::now() + self.timeout;
        let client = self.checkout(deadline).await?;
        let answer = timeout_at(deadline, rows(&client, true, sql, params)).await;
        settle(client, answer)
    }

    /// Runs a statement that returns at most one row.
    async fn query_opt(&self, sql: Sql, params: Params<'_>) -> Result<Option<Row>, DbFailure> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Runs a statement for its count of affected rows.
    async fn execute(&self, sql: Sql, params: Params<'_>) -> Result<u64, DbFailure> {
        let deadline = Instant::now() + self.timeout;
        let client = self.checkout(deadline).await?;
        let answer = timeout_at(deadline, async {
            if self.unnamed {
                client.execute_typed(sql.text, &typed(sql, params)).await
            } else {
                let statement = client.prepare_typed_cached(sql.text, sql.params).await?;
                client.execute(&statement, params).await
            }
        })
        .await;
        settle(client, answer)
    }
}

/// Runs `sql` on `client` (a connection or a transaction): `unnamed`, as
/// the unnamed statement with its declared types in one round trip; else
/// prepared once per connection (one more round trip the first time) and
/// executed by name.
async fn rows<C>(
    client: &C,
    unnamed: bool,
    sql: Sql,
    params: Params<'_>,
) -> Result<Vec<Row>, tokio_postgres::Error>
where
    C: Session,
{
    if unnamed {
        tokio_postgres::GenericClient::query_typed(client.driver(), sql.text, &typed(sql, params))
            .await
    } else {
        let statement = client.prepare_typed_cached(sql.text, sql.params).await?;
        GenericClient::query(client, &statement, params).await
    }
}

/// A pooled connection or a transaction on one: deadpool's wrapper, with
/// its statement cache, over the driver's.
trait Session: GenericClient {
    /// The driver's client or transaction underneath.
    fn driver(&self) -> &(impl tokio_postgres::GenericClient + Sync);
}

impl Session for Object {
    fn driver(&self) -> &(impl tokio_postgres::GenericClient + Sync) {
        &***self
    }
}

impl Session for deadpool_postgres::Transaction<'_> {
    fn driver(&self) -> &(impl tokio_postgres::GenericClient + Sync) {
        &**self
    }
}

/// `params` paired with `sql`'s declared types, for `query_typed`.
fn typed<'a>(sql: Sql, params: Params<'a>) -> Vec<(&'a (dyn ToSql + Sync), Type)> {
    debug_assert_eq!(params.len(), sql.params.len(), "{}", sql.text);
    params
        .iter()
        .copied()
        .zip(sql.params.iter().cloned())
        .collect()
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
