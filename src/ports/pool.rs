//! The connection pool port: what the metrics may know of the store's
//! database connections, without knowing the pool's crate.

/// A snapshot of a connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Connections checked out, serving a call.
    pub in_use: usize,
    /// Connections open and free.
    pub idle: usize,
    /// Calls waiting for a connection.
    pub waiting: usize,
    /// The most connections the pool opens.
    pub max_size: usize,
}

/// Reports the state of the store's connection pool.
pub trait PoolMonitor: Send + Sync + 'static {
    /// The pool now. Cheap and non-blocking: it is read at every scrape.
    fn stats(&self) -> PoolStats;
}
