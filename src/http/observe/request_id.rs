//! The request id and the request's span: the id is the client's
//! `X-Request-Id` when it is short and plain, else a fresh one; every log
//! line written while the request is served, however deep (a store warning
//! in `ApiError::unavailable`, a timeout, a panic), is written inside a
//! `request` span that names it, with the method and the route template.
//! The response echoes the id.

use std::sync::Arc;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;

use super::labels;
use crate::http::allow::AllowTable;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// See the module documentation; holds the documented routes, for the
/// span's route label.
pub struct RequestSpan(pub Arc<AllowTable>);

impl<E: Endpoint> Middleware<E> for RequestSpan {
    type Output = RequestSpanEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestSpanEndpoint {
            inner,
            allow: self.0.clone(),
        }
    }
}

/// See [`RequestSpan`].
pub struct RequestSpanEndpoint<E> {
    inner: E,
    allow: Arc<AllowTable>,
}

/// A fresh request id: 32 hex digits, a random per-process prefix and a
/// counter. Unique, which is all an id needs; a random one per request
/// cost a `getrandom` system call on every request.
fn new_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        // Without the OS's randomness, ids are still unique in-process.
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}{n:016x}")
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

impl<E: Endpoint> Endpoint for RequestSpanEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        let request_id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(accepted_id)
            .unwrap_or_else(new_request_id);
        // At ERROR level, so that the span is there whatever the filter lets
        // through: a warning under `RUST_LOG=warn` still names its request.
        let span = tracing::error_span!(
            "request",
            request_id = %request_id,
            method = %labels::method(req.method()),
            route = %labels::route_of_path(&self.allow, req.uri().path()),
        );
        let mut resp = self.inner.call(req).instrument(span).await?.into_response();
        if let Ok(v) = HeaderValue::try_from(request_id) {
            resp.headers_mut().insert(REQUEST_ID, v);
        }
        Ok(resp)
    }
}
