//! The outermost layer: times each request, counts it in the metrics, and
//! writes one access log line (`target: "access"`) with the method, route
//! template, status, latency and request id.

use std::sync::Arc;
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Result};

use super::{labels, request_id::REQUEST_ID};
use crate::http::allow::AllowTable;
use crate::http::error;
use crate::http::metrics::Metrics;

/// See the module documentation.
pub struct AccessLog {
    /// Where to count.
    pub metrics: Metrics,
    /// The documented routes, for the route label.
    pub allow: Arc<AllowTable>,
}

impl<E: Endpoint> Middleware<E> for AccessLog {
    type Output = AccessLogEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AccessLogEndpoint {
            inner,
            metrics: self.metrics.clone(),
            allow: self.allow.clone(),
        }
    }
}

/// See [`AccessLog`].
pub struct AccessLogEndpoint<E> {
    inner: E,
    metrics: Metrics,
    allow: Arc<AllowTable>,
}

/// Milliseconds rounded to the microsecond: `0.371`, not
/// `0.37135100000000004`.
fn millis(elapsed: std::time::Duration) -> f64 {
    elapsed.as_micros() as f64 / 1e3
}

impl<E: Endpoint> Endpoint for AccessLogEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let method = labels::method(req.method());
        // The layers inside answer every error; this only keeps the type total.
        let resp = match self.inner.call(req).await {
            Ok(resp) => resp.into_response(),
            Err(err) => error::reshape(err).into_response(),
        };
        let route = labels::route(&self.allow, resp.data::<PathPattern>());
        let status = resp.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics
            .observe(method, route, status, elapsed.as_secs_f64());
        // Set by the request-id layer, which keeps only plain ASCII.
        let request_id = resp
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        tracing::info!(target: "access", %request_id, %method, %route, status, latency_ms = millis(elapsed), "request");
        Ok(resp)
    }
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
