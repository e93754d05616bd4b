//! The clock port: time is injected so expiry can be tested without sleeping.

use time::OffsetDateTime;

/// Tells the time.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}
