//! The use cases, over the ports. Each takes an authenticated caller where
//! it needs one and asks `domain::policy` whether the caller may act.

mod auth;
mod posts;
mod users;
mod votes;

pub use auth::{Caller, LoginOutcome};

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

    /// The ports, for the edges that need one directly (readiness).
    pub fn ports(&self) -> &Ports {
        &self.ports
    }
}
