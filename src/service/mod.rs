//! The use cases, over the ports. Each takes an authenticated caller where
//! it needs one and asks `domain::policy` whether the caller may act.

mod auth;
pub mod demo;
mod posts;
mod sessions;
mod users;
mod votes;

pub use auth::{Caller, LoginOutcome};

use std::sync::Arc;

use crate::domain::StoreError;
use crate::ports::Ports;

/// The application's use cases, cheap to clone: one reference count (a
/// clone goes into every request's data), not one per port.
#[derive(Clone)]
pub struct Service {
    ports: Arc<Ports>,
}

impl Service {
    /// A service over these ports.
    pub fn new(ports: Ports) -> Self {
        Self {
            ports: Arc::new(ports),
        }
    }

    /// Whether the store answers now (a round trip on a database): the
    /// readiness check.
    ///
    /// # Errors
    /// [`StoreError`] when it does not.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.ports.users.ping().await
    }
}
