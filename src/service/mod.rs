//! The use cases, over the ports. Each takes an authenticated caller where
//! it needs one and asks `domain::policy` whether the caller may act.

mod auth;
pub mod demo;
mod posts;
mod sessions;
mod users;
mod votes;

pub use auth::{Caller, LoginOutcome};

use crate::domain::StoreError;
use crate::ports::Ports;

/// The application's use cases, cheap to clone.
#[derive(Clone)]
pub struct Service {
    ports: Ports,
}

impl Service {
    /// A service over these ports.
    pub fn new(ports: Ports) -> Self {
        Self { ports }
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
