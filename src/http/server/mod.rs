//! The HTTP server: our own accept loop over hyper, in place of
//! `poem::Server`, which offers neither a header-read timeout nor a
//! connection cap (and logs lines of its own; the binary logs the one
//! ready line).
//!
//! - At most [`Settings::max_connections`] connections are open: a permit
//!   is taken *before* `accept`, so connections past the cap wait in the
//!   kernel's listen queue and are served once a slot frees.
//! - Each connection runs HTTP/1.1 or h2c (prior knowledge) through
//!   [`conn::serve`], whose IO wrapper ([`io`]) enforces the header-read,
//!   keep-alive and write-stall timeouts and gives the parser's own error
//!   answers a `{"detail"}` body ([`protocol_error`]).
//! - Graceful shutdown: stop accepting, let requests in flight finish,
//!   close idle connections, and end everything within the grace period.

mod conn;
mod io;
mod protocol_error;

use std::sync::Arc;
use std::time::Duration;

use poem::endpoint::BoxEndpoint;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::config::Config;

/// The connection limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Open connections at most (`MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// How long a request's headers may take to arrive
    /// (`HEADER_READ_TIMEOUT_SECONDS`).
    pub header_read_timeout: Duration,
    /// How long a connection may stay idle between requests, and a write
    /// may make no progress (`KEEP_ALIVE_TIMEOUT_SECONDS`).
    pub keep_alive_timeout: Duration,
    /// How long requests in flight may take to finish at shutdown.
    pub grace: Duration,
}

impl Settings {
    /// The limits `config` sets, with this grace period at shutdown.
    pub fn new(config: &Config, grace: Duration) -> Self {
        Self {
            max_connections: config.max_connections.max(1),
            header_read_timeout: Duration::from_secs(config.header_read_timeout_seconds),
            keep_alive_timeout: Duration::from_secs(config.keep_alive_timeout_seconds),
            grace,
        }
    }
}

/// Where the server is in its life; each connection watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Serving.
    Running,
    /// Shutting down: finish what is in flight, close idle connections.
    Draining,
    /// The grace period is over: drop every connection now.
    Abort,
}

/// Serves `endpoint` on `listener` until `shutdown` completes, then shuts
/// down gracefully (see the module documentation).
///
/// # Errors
/// None today: accept errors (such as running out of file descriptors) are
/// retried, since a server that stops accepting is worse than a slow one.
pub async fn serve(
    listener: TcpListener,
    endpoint: BoxEndpoint<'static>,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let endpoint = Arc::new(endpoint);
    let slots = Arc::new(Semaphore::new(settings.max_connections as usize));
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    tokio::pin!(shutdown);
    loop {
        // The permit first: past the cap, connections stay in the kernel's
        // listen queue instead of being accepted and left unserved.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Per-connection failures (a reset before accept) and
                // EMFILE alike: pause briefly rather than spin.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let endpoint = endpoint.clone();
        let phase = phase_rx.clone();
        tokio::spawn(async move {
            conn::serve(stream, remote, endpoint, settings, phase).await;
            // The slot frees only when the connection is gone.
            drop(permit);
        });
    }
    drop(listener);
    drain(&slots, &phase_tx, settings).await;
    Ok(())
}

/// Tells every connection to finish, waits for them within the grace
/// period, then drops the rest.
async fn drain(slots: &Semaphore, phase: &watch::Sender<Phase>, settings: Settings) {
    phase.send_replace(Phase::Draining);
    // Every permit back means every connection has ended.
    let all = settings.max_connections;
    if tokio::time::timeout(settings.grace, slots.acquire_many(all))
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!("grace period over: dropping the connections still open");
    phase.send_replace(Phase::Abort);
    // Dropping a connection is immediate; this only waits for the tasks to
    // notice, and never for long.
    let _ = tokio::time::timeout(Duration::from_secs(1), slots.acquire_many(all)).await;
}
