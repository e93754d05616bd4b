//! Serving: start the HTTP server on the configured address with the
//! built service, and stop it gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Hashing, StartError, build};
use crate::config::Config;
use crate::ports::{Clock, PoolMonitor};
use crate::service::Service;

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
const GRACE: Duration = Duration::from_secs(30);

/// Builds everything and starts serving on `config.bind_addr`, hashing
/// passwords in process.
///
/// # Errors
/// [`StartError`] for bad settings, an unreachable store, or a busy port.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<RunningApp, StartError> {
    start_hashing(config, clock, &Hashing::InProcess).await
}

/// [`start`], hashing passwords where `hashing` says.
///
/// # Errors
/// [`StartError`] for bad settings, an unreachable store, or a busy port.
pub async fn start_hashing(
    config: &Config,
    clock: Arc<dyn Clock>,
    hashing: &Hashing,
) -> Result<RunningApp, StartError> {
    let (service, pool) = build(config, clock, hashing).await?;
    serve(config, service, pool).await
}

/// Starts serving an already built service (without pool gauges: a second
/// server over the same memory store, in tests).
///
/// # Errors
/// [`StartError::Bind`] when the address cannot be bound.
pub async fn start_with(config: &Config, service: Service) -> Result<RunningApp, StartError> {
    serve(config, service, None).await
}

/// Binds `config.bind_addr` and serves `service` there.
async fn serve(
    config: &Config,
    service: Service,
    pool: Option<Arc<dyn PoolMonitor>>,
) -> Result<RunningApp, StartError> {
    let bind_error = |source| StartError::Bind {
        addr: config.bind_addr.clone(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.bind_addr.as_str())
        .await
        .map_err(bind_error)?;
    let addr = listener.local_addr().map_err(bind_error)?;
    let endpoint: BoxEndpoint<'static> = crate::http::endpoint(service.clone(), config, pool);
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
