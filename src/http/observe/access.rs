//! The access record of an answered request: counted in the metrics and
//! written as one access log line (`target: "access"`) with the method,
//! route template, status, latency and request id.

use std::time::Instant;

use poem::Response;

use crate::http::metrics::Metrics;

/// Milliseconds rounded to the microsecond: `0.371`, not
/// `0.37135100000000004`.
fn millis(elapsed: std::time::Duration) -> f64 {
    elapsed.as_micros() as f64 / 1e3
}

/// Counts and logs `resp`, the answer to a `method` request for `route`
/// (its label, `labels::of_path`) started at `started` with id
/// `request_id`, once it is no longer the current request: the line names
/// it in its own fields only, as it always has.
pub fn record(
    metrics: &Metrics,
    method: &'static str,
    route: &str,
    started: Instant,
    resp: &Response,
    request_id: &str,
) {
    let status = resp.status().as_u16();
    let elapsed = started.elapsed();
    metrics.observe(method, route, status, elapsed.as_secs_f64());
    tracing::info!(target: "access", %request_id, %method, %route, status, latency_ms = millis(elapsed), "request");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn latency_is_rounded_to_the_microsecond() {
        let ms = super::millis(Duration::from_nanos(371_351));
        assert_eq!(ms.to_string(), "0.371");
    }
}
