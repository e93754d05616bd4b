//! The composition root: builds the ports for the configured store, the
//! service, the HTTP endpoint, and runs the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use poem::endpoint::BoxEndpoint;
use time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::adapters::bcrypt::BcryptHasher;
use crate::adapters::jwt::{JwtTokens, random_token_ids};
use crate::adapters::memory::{MemoryStore, MemoryThrottle};
use crate::adapters::postgres::{PgSettings, PgStore, PostgresThrottle};
use crate::config::{Config, StoreKind};
use crate::domain::{EmailAddress, EnsureAdminError, Password};
use crate::ports::{Clock, Ports, ThrottleLimits};
use crate::service::Service;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// The store could not be reached or prepared.
    #[error("store: {0}")]
    Store(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

impl From<EnsureAdminError> for StartError {
    fn from(e: EnsureAdminError) -> Self {
        match e {
            EnsureAdminError::NotTheOwner(_) => Self::Config(format!("ADMIN_EMAIL: {e}")),
            EnsureAdminError::Store(e) => Self::Store(e.to_string()),
        }
    }
}

/// The shortest signing key accepted, in bytes: HS256's own output size,
/// below which a key is easier to guess than the MAC.
pub const MIN_SECRET_BYTES: usize = 32;

/// The signing key: configured (at least [`MIN_SECRET_BYTES`]), or random
/// for the memory store only.
fn jwt_secret(config: &Config) -> Result<String, StartError> {
    match (&config.jwt_secret, config.store) {
        (Some(secret), _) if !secret.trim().is_empty() => {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(StartError::Config(format!(
                    "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (it has {}); \
                     generate one with `openssl rand -hex 32`",
                    secret.len()
                )));
            }
            for old in config.previous_secrets() {
                if old.len() < MIN_SECRET_BYTES {
                    // Still accepted, so that a weak key can be rotated out
                    // without logging everybody out at once.
                    tracing::warn!(
                        "JWT_PREVIOUS_SECRETS holds a key shorter than {MIN_SECRET_BYTES} bytes: \
                         remove it once the tokens it signed have expired"
                    );
                }
            }
            Ok(secret.clone())
        }
        (_, StoreKind::Memory) => {
            tracing::warn!("JWT_SECRET is not set: using a random key; tokens die with this process");
            let mut bytes = [0u8; MIN_SECRET_BYTES];
            getrandom::fill(&mut bytes).map_err(|e| StartError::Config(format!("no randomness for a JWT key: {e}")))?;
            Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
        }
        (_, StoreKind::Postgres) => Err(StartError::Config(
            "JWT_SECRET is required with STORE=postgres, so that tokens survive restarts and work on every instance".into(),
        )),
    }
}

/// Builds every port for the configured store.
///
/// # Errors
/// [`StartError`] for bad settings or an unreachable store.
pub async fn build_ports(config: &Config, clock: Arc<dyn Clock>) -> Result<Ports, StartError> {
    let secret = jwt_secret(config)?;
    let lifetime = Duration::minutes(i64::from(config.access_token_expire_minutes));
    let tokens = Arc::new(JwtTokens::new(
        &secret,
        &config.previous_secrets(),
        lifetime,
        clock.clone(),
        random_token_ids(),
    ));
    let hasher = BcryptHasher::new(config.bcrypt_cost).map_err(StartError::Config)?;
    let limits = ThrottleLimits {
        max_failures: config.login_max_failures,
        max_failures_per_addr: config.login_max_failures_per_addr,
        window_seconds: config.login_window_seconds,
    };
    match config.store {
        StoreKind::Memory => {
            let store = MemoryStore::new(clock.clone());
            Ok(Ports {
                users: Arc::new(store.clone()),
                bearers: Arc::new(store.clone()),
                posts: Arc::new(store.clone()),
                votes: Arc::new(store),
                token_issuer: tokens.clone(),
                token_verifier: tokens,
                passwords: Arc::new(hasher),
                throttle: Arc::new(MemoryThrottle::new(limits)),
                clock,
                pool: None,
            })
        }
        StoreKind::Postgres => {
            let store = connect_postgres(config, clock.clone()).await?;
            migrate_postgres(&store).await?;
            Ok(Ports {
                users: Arc::new(store.clone()),
                bearers: Arc::new(store.clone()),
                posts: Arc::new(store.clone()),
                votes: Arc::new(store.clone()),
                token_issuer: tokens.clone(),
                token_verifier: tokens,
                passwords: Arc::new(hasher),
                // In the database: every instance enforces one limit.
                throttle: Arc::new(PostgresThrottle::new(store.clone(), limits)),
                clock,
                pool: Some(Arc::new(store)),
            })
        }
    }
}

/// The Postgres settings from `DATABASE_URL`, `DATABASE_POOL_SIZE` and
/// `DATABASE_TIMEOUT_SECONDS`.
fn postgres_settings(config: &Config) -> Result<PgSettings, StartError> {
    let url = config
        .database_url
        .as_deref()
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .ok_or_else(|| {
            StartError::Config(
                "DATABASE_URL is required with STORE=postgres, e.g. postgres://postgres@127.0.0.1:5432/posts".into(),
            )
        })?;
    Ok(PgSettings {
        url: url.to_owned(),
        pool_size: usize::try_from(config.database_pool_size).unwrap_or(usize::MAX),
        timeout: StdDuration::from_secs(config.database_timeout_seconds),
    })
}

/// Opens the Postgres store and checks a connection out: an unreachable
/// database fails start-up within `DATABASE_TIMEOUT_SECONDS`.
async fn connect_postgres(config: &Config, clock: Arc<dyn Clock>) -> Result<PgStore, StartError> {
    let settings = postgres_settings(config)?;
    PgStore::connect(&settings, clock)
        .await
        .map_err(|e| StartError::Store(e.to_string()))
}

/// Applies pending migrations, logging what was applied; their names.
async fn migrate_postgres(store: &PgStore) -> Result<Vec<String>, StartError> {
    let applied = store
        .migrate()
        .await
        .map_err(|e| StartError::Store(e.to_string()))?;
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
/// [`StartError`] when `DATABASE_URL` is missing, unreachable, or a
/// migration fails.
pub async fn migrate(config: &Config, clock: Arc<dyn Clock>) -> Result<Vec<String>, StartError> {
    let store = connect_postgres(config, clock).await?;
    migrate_postgres(&store).await
}

/// Builds the service and runs the start-up tasks: the configured admin
/// and, with `--demo`, the demo data.
///
/// # Errors
/// [`StartError`] for bad settings or an unreachable store.
pub async fn build_service(config: &Config, clock: Arc<dyn Clock>) -> Result<Service, StartError> {
    let service = Service::new(build_ports(config, clock).await?);
    match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(password)) => {
            let email = EmailAddress::parse(email)
                .map_err(|e| StartError::Config(format!("ADMIN_EMAIL: {e}")))?;
            let password = Password::parse(password)
                .map_err(|e| StartError::Config(format!("ADMIN_PASSWORD: {}", e.reason)))?;
            let admin = service.ensure_admin(email, password).await?;
            tracing::info!(user_id = admin.id.get(), "start-up admin is ready");
        }
        (None, None) => {}
        _ => {
            return Err(StartError::Config(
                "ADMIN_EMAIL and ADMIN_PASSWORD go together".into(),
            ));
        }
    }
    if config.demo {
        service
            .seed_demo()
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        println!("Demo data loaded. Log in at /docs (Authorize) with:");
        for (email, password, admin) in crate::service::demo::ACCOUNTS {
            let role = if admin { "  (admin)" } else { "" };
            println!("  {email} / {password}{role}");
        }
    }
    if config.seed_posts > 0 {
        service
            .seed_posts(config.seed_posts)
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        tracing::info!(posts = config.seed_posts, "seeded posts");
    }
    Ok(service)
}

/// A server running in this process.
pub struct RunningApp {
    addr: SocketAddr,
    service: Service,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningApp {
    /// The address it listens on (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service behind it.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Stops accepting, lets requests in flight finish, and waits.
    ///
    /// # Errors
    /// The server's I/O error, if it failed.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Runs until `signal` completes, then stops gracefully.
    ///
    /// # Errors
    /// The server's I/O error, if it failed.
    pub async fn run_until(self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        signal.await;
        self.stop().await
    }
}

/// How long requests in flight may take to finish at shutdown.
const GRACE: StdDuration = StdDuration::from_secs(30);

/// Builds everything and starts serving on `config.bind_addr`.
///
/// # Errors
/// [`StartError`] for bad settings, an unreachable store, or a busy port.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<RunningApp, StartError> {
    let service = build_service(config, clock).await?;
    start_with(config, service).await
}

/// Starts serving an already built service.
///
/// # Errors
/// [`StartError::Bind`] when the address cannot be bound.
pub async fn start_with(config: &Config, service: Service) -> Result<RunningApp, StartError> {
    let bind_error = |source| StartError::Bind {
        addr: config.bind_addr.clone(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.bind_addr.as_str())
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let endpoint: BoxEndpoint<'static> = crate::http::endpoint(service.clone(), config);
    let settings = crate::http::server::Settings::new(config, GRACE);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(crate::http::server::serve(
        listener,
        endpoint,
        settings,
        async move {
            let _ = rx.await;
        },
    ));
    Ok(RunningApp {
        addr,
        service,
        shutdown: Some(tx),
        task,
    })
}

/// Resolves on SIGTERM or Ctrl-C.
///
/// The handlers are installed when this is called, not when the future is
/// first polled, so call it before announcing readiness: a signal that
/// arrives right after the "listening" line is never missed.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = int.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
