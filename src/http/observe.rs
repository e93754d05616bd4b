//! The outermost per-request work: a request id (taken from `X-Request-Id`
//! when sane, else generated, and echoed), a deadline, panics turned into
//! 500s, security headers, metrics, and one access log line per request.
//! The log line carries no path values, query, header or body: only the
//! route template, so no id, email or token reaches the logs.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Result};

use super::allow::AllowTable;
use super::error::{self, ApiError};
use super::limits::BodyWait;
use super::metrics::Metrics;
use crate::domain::message::UNAVAILABLE;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";
/// Largest total size of request headers accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// See the module documentation.
pub struct Observe {
    /// Where to count.
    pub metrics: Metrics,
    /// How long a request may take before it is answered 408 or 503.
    pub timeout: Duration,
    /// The methods of each path, for 405 answers.
    pub allow: Arc<AllowTable>,
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
            timeout: self.timeout,
            allow: self.allow.clone(),
        }
    }
}

/// See [`Observe`].
pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Metrics,
    timeout: Duration,
    allow: Arc<AllowTable>,
}

/// A client's request id if it is short and plain; anything else could
/// forge log lines.
fn accepted_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    (plain && (1..=128).contains(&s.len())).then(|| s.to_owned())
}

/// The methods the service serves, as metric and log labels; any other
/// method is `other`, so a client cannot mint labels.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    }
}

/// Routes served outside the OpenAPI document, by poem's pattern (or its
/// prefix: Swagger UI's page and files are all `/docs`).
const UNDOCUMENTED_ROUTES: [&str; 3] = ["/docs", "/openapi.json", "/metrics"];

/// The route label: the documented template (`/posts/{id}`), one of the
/// [`UNDOCUMENTED_ROUTES`], or `unmatched`; never anything a client wrote.
fn route_label<'a>(allow: &'a AllowTable, pattern: Option<&'a PathPattern>) -> &'a str {
    let Some(pattern) = pattern else {
        return "unmatched";
    };
    allow
        .template(&pattern.0)
        .or_else(|| {
            UNDOCUMENTED_ROUTES.into_iter().find(|r| {
                pattern
                    .0
                    .strip_prefix(r)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        })
        .unwrap_or("unmatched")
}

fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let started = Instant::now();
        let request_id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(accepted_id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let method = method_label(req.method());
        let path = req.uri().path().to_owned();
        let body_wait = BodyWait::default();
        req.set_data(body_wait.clone());
        let mut resp = if header_bytes(&req) > MAX_HEADER_BYTES {
            ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                error::HEADERS_TOO_LARGE,
            )
            .into_response()
        } else {
            let call = AssertUnwindSafe(self.inner.call(req)).catch_unwind();
            match tokio::time::timeout(self.timeout, call).await {
                Ok(Ok(Ok(resp))) => resp.into_response(),
                Ok(Ok(Err(err))) => super::error::reshape(err).into_response(),
                Ok(Err(_panic)) => {
                    tracing::error!(%request_id, "handler panicked");
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                        .into_response()
                }
                // The client is late with its body: its fault, 408 (and
                // hyper closes the connection, the body being unread).
                Err(_elapsed) if body_wait.is_waiting() => {
                    tracing::debug!(%request_id, "request body timed out");
                    ApiError::new(StatusCode::REQUEST_TIMEOUT, error::REQUEST_TIMEOUT)
                        .into_response()
                }
                Err(_elapsed) => {
                    tracing::warn!(%request_id, "request timed out");
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE).into_response()
                }
            }
        };
        let is_405 = resp.status() == StatusCode::METHOD_NOT_ALLOWED;
        let headers = resp.headers_mut();
        let allow = self
            .allow
            .allowed(&path)
            .filter(|_| is_405)
            .and_then(|a| HeaderValue::from_str(a).ok());
        if let Some(allow) = allow {
            headers.insert(header::ALLOW, allow);
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            headers.insert(REQUEST_ID, v);
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        if is_json {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            );
        }
        let route = route_label(&self.allow, resp.data::<PathPattern>());
        let status = resp.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics
            .observe(method, route, status, elapsed.as_secs_f64());
        tracing::info!(target: "access", %request_id, %method, %route, status, latency_ms = elapsed.as_secs_f64() * 1e3, "request");
        Ok(resp)
    }
}
