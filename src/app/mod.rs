//! The composition root: builds the ports for the configured store and
//! the service, runs the start-up tasks, and hands the HTTP layer what it
//! shows beside the service (the pool's gauges); [`run`] serves it.

mod error;
mod run;

pub use error::StartError;
pub use run::{RunningApp, shutdown_signal, start, start_hashing, start_with};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use secrecy::{ExposeSecret, SecretString};
use time::Duration;

use crate::adapters::bcrypt::BcryptHasher;
use crate::adapters::hash_worker::WorkerHasher;
use crate::adapters::jwt::{JwtTokens, random_token_ids};
use crate::adapters::memory::{MemoryStore, MemoryThrottle};
use crate::adapters::postgres::{PgSettings, PgStore, PostgresThrottle};
use crate::adapters::stepwise::Stepwise;
use crate::config::{Config, DatabasePooler, StoreKind};
use crate::domain::{EmailAddress, Password};
use crate::ports::{Clock, PasswordHasher, PoolMonitor, Ports, ThrottleLimits};
use crate::service::Service;

/// The shortest signing key accepted, in bytes: HS256's own output size,
/// below which a key is easier to guess than the MAC.
pub const MIN_SECRET_BYTES: usize = 32;

/// The signing key: configured (at least [`MIN_SECRET_BYTES`]), or random
/// for the memory store only.
fn jwt_secret(config: &Config) -> Result<SecretString, StartError> {
    let configured = config
        .jwt_secret
        .as_ref()
        .filter(|s| !s.expose_secret().trim().is_empty());
    match (configured, config.store) {
        (Some(secret), _) => {
            let len = secret.expose_secret().len();
            if len < MIN_SECRET_BYTES {
                return Err(StartError::ShortJwtSecret(len));
            }
            let short = config
                .previous_secrets()
                .iter()
                .any(|old| old.expose_secret().len() < MIN_SECRET_BYTES);
            if short {
                // Still accepted, so that a weak key can be rotated out
                // without logging everybody out at once.
                tracing::warn!(
                    "JWT_PREVIOUS_SECRETS holds a key shorter than {MIN_SECRET_BYTES} bytes: \
                     remove it once the tokens it signed have expired"
                );
            }
            Ok(secret.clone())
        }
        (None, StoreKind::Memory) => {
            tracing::warn!(
                "JWT_SECRET is not set: using a random key; tokens die with this process"
            );
            let mut bytes = [0u8; MIN_SECRET_BYTES];
            getrandom::fill(&mut bytes).map_err(StartError::NoRandomness)?;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Ok(hex.into())
        }
        (None, StoreKind::Postgres) => Err(StartError::MissingJwtSecret),
    }
}

/// Where password hashes are computed. The binary's `serve` chooses
/// ([`crate::config::PasswordHashing`]); everything else (tests, other
/// embedders, `create-admin`) hashes in process, since the worker is the
/// `posts-api` binary itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hashing {
    /// On this process's blocking threads ([`BcryptHasher`]).
    InProcess,
    /// In a child process running `PROGRAM hash-worker` ([`WorkerHasher`]),
    /// in process where it cannot start.
    Worker(PathBuf),
}

/// The password hasher `hashing` asks for, at the configured cost.
async fn build_hasher(
    config: &Config,
    hashing: &Hashing,
) -> Result<Arc<dyn PasswordHasher>, StartError> {
    let local = BcryptHasher::new(config.bcrypt_cost)?;
    let Hashing::Worker(program) = hashing else {
        return Ok(Arc::new(local));
    };
    match WorkerHasher::start(local, program).await {
        Ok((worker, scheduling)) => {
            // Not awaited inside the macro: its arguments are not `Send`.
            let pid = worker.worker_pid().await;
            tracing::info!(pid, %scheduling, "password hashing in a worker process");
            Ok(Arc::new(worker))
        }
        Err((local, e)) => {
            tracing::warn!("password hashing in process: the worker did not start: {e}");
            Ok(Arc::new(local))
        }
    }
}

/// The ports and, with a database, its pool for the metrics.
type Stores = (Ports, Option<Arc<dyn PoolMonitor>>);

/// Builds every port for the configured store.
///
/// # Errors
/// [`StartError`] for bad settings or an unreachable store.
pub async fn build_ports(config: &Config, clock: Arc<dyn Clock>) -> Result<Ports, StartError> {
    Ok(build_stores(config, clock, &Hashing::InProcess).await?.0)
}

/// [`build_ports`], and the pool monitor the HTTP layer shows.
async fn build_stores(
    config: &Config,
    clock: Arc<dyn Clock>,
    hashing: &Hashing,
) -> Result<Stores, StartError> {
    let secret = jwt_secret(config)?;
    let lifetime = Duration::minutes(i64::from(config.access_token_expire_minutes));
    let previous: Vec<String> = config
        .previous_secrets()
        .iter()
        .map(|s| s.expose_secret().to_owned())
        .collect();
    let refresh_lifetime = Duration::days(i64::from(config.refresh_token_expire_days));
    let tokens = Arc::new(
        JwtTokens::new(
            secret.expose_secret(),
            &previous,
            lifetime,
            clock.clone(),
            random_token_ids(),
        )
        .with_refresh_lifetime(refresh_lifetime),
    );
    let hasher = build_hasher(config, hashing).await?;
    let limits = ThrottleLimits {
        max_failures: config.login_max_failures,
        max_failures_per_addr: config.login_max_failures_per_addr,
        window_seconds: config.login_window_seconds,
    };
    match config.store {
        StoreKind::Memory => {
            let store = MemoryStore::new(clock.clone());
            let ports = Ports {
                users: Arc::new(store.clone()),
                sessions: Arc::new(store.clone()),
                posts: Arc::new(store.clone()),
                votes: Arc::new(store.clone()),
                token_issuer: tokens.clone(),
                token_verifier: tokens,
                passwords: hasher,
                logins: Arc::new(Stepwise::new(
                    Arc::new(store.clone()),
                    Arc::new(store),
                    Arc::new(MemoryThrottle::new(limits)),
                )),
                clock,
            };
            Ok((ports, None))
        }
        StoreKind::Postgres => {
            let store = connect_postgres(config, clock.clone()).await?;
            match config.database_pooler {
                DatabasePooler::None => drop(migrate_postgres(&store).await?),
                // Migrations need a session (their lock): run apart,
                // directly, by `posts-api migrate`.
                DatabasePooler::Transaction => store.check_schema().await?,
            }
            let ports = Ports {
                users: Arc::new(store.clone()),
                sessions: Arc::new(store.clone()),
                posts: Arc::new(store.clone()),
                votes: Arc::new(store.clone()),
                token_issuer: tokens.clone(),
                token_verifier: tokens,
                passwords: hasher,
                // In the database: every instance enforces one limit; a
                // login or password change is two statements.
                logins: Arc::new(PostgresThrottle::new(store.clone(), limits)),
                clock,
            };
            Ok((ports, Some(Arc::new(store))))
        }
    }
}

/// The Postgres settings from `DATABASE_URL`, `DATABASE_POOL_SIZE`,
/// `DATABASE_TIMEOUT_SECONDS` and `DATABASE_POOLER`.
fn postgres_settings(config: &Config) -> Result<PgSettings, StartError> {
    let url = config
        .database_url
        .as_ref()
        .map(|url| url.expose_secret().trim())
        .filter(|url| !url.is_empty())
        .ok_or(StartError::MissingDatabaseUrl)?;
    Ok(PgSettings {
        url: url.into(),
        pool_size: usize::try_from(config.database_pool_size).unwrap_or(usize::MAX),
        timeout: StdDuration::from_secs(config.database_timeout_seconds),
        transaction_pooler: config.database_pooler == DatabasePooler::Transaction,
    })
}

/// Opens the Postgres store and checks a connection out: an unreachable
/// database fails start-up within `DATABASE_TIMEOUT_SECONDS`.
async fn connect_postgres(config: &Config, clock: Arc<dyn Clock>) -> Result<PgStore, StartError> {
    let settings = postgres_settings(config)?;
    Ok(PgStore::connect(&settings, clock).await?)
}

/// Applies pending migrations, logging what was applied; their names.
async fn migrate_postgres(store: &PgStore) -> Result<Vec<String>, StartError> {
    let applied = store.migrate().await?;
    if applied.is_empty() {
        tracing::info!("the database schema is up to date");
    } else {
        tracing::info!(migrations = ?applied, "applied database migrations");
    }
    Ok(applied)
}

/// `posts-api migrate`: applies pending migrations to `DATABASE_URL`
/// (whatever `STORE` says) and returns their names.
///
/// # Errors
/// [`StartError`] when `DATABASE_URL` is missing, unreachable, behind a
/// transaction pooler (`DATABASE_POOLER=transaction`), or a migration
/// fails.
pub async fn migrate(config: &Config, clock: Arc<dyn Clock>) -> Result<Vec<String>, StartError> {
    let store = connect_postgres(config, clock).await?;
    migrate_postgres(&store).await
}

/// Builds the service and runs the start-up tasks: the configured admin
/// and, with `--demo` or `--seed-posts`, the demo data.
///
/// # Errors
/// [`StartError`] for bad settings or an unreachable store.
pub async fn build_service(config: &Config, clock: Arc<dyn Clock>) -> Result<Service, StartError> {
    Ok(build(config, clock, &Hashing::InProcess).await?.0)
}

/// [`build_service`], and the pool monitor the HTTP layer shows.
async fn build(
    config: &Config,
    clock: Arc<dyn Clock>,
    hashing: &Hashing,
) -> Result<(Service, Option<Arc<dyn PoolMonitor>>), StartError> {
    let (ports, pool) = build_stores(config, clock, hashing).await?;
    let service = Service::new(ports);
    match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(password)) => {
            let invalid = |var| move |source| StartError::Invalid { var, source };
            let email = EmailAddress::parse(email).map_err(invalid("ADMIN_EMAIL"))?;
            let password =
                Password::parse(password.expose_secret()).map_err(invalid("ADMIN_PASSWORD"))?;
            let admin = service.ensure_admin(email, password).await?;
            tracing::info!(user_id = admin.id.get(), "start-up admin is ready");
        }
        (None, None) => {}
        _ => return Err(StartError::AdminPair),
    }
    if config.demo {
        service.seed_demo().await?;
        println!("Demo data loaded. Log in at /docs (Authorize) with:");
        for (email, password, admin) in crate::service::demo::ACCOUNTS {
            let role = if admin { "  (admin)" } else { "" };
            println!("  {email} / {password}{role}");
        }
    }
    if config.seed_posts > 0 {
        service.seed_posts(config.seed_posts).await?;
        tracing::info!(posts = config.seed_posts, "seeded posts");
    }
    Ok((service, pool))
}
