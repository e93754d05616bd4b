//! The per-request work around the application, as small middlewares with
//! one purpose each; [`around`] is the one place that decides their order.
//!
//! Outermost first:
//!
//! 1. [`access::AccessLog`]: times the request, counts it in the metrics and
//!    writes the access log line (outside the request's span, so the line
//!    reads the same as before the span existed).
//! 2. [`request_id::RequestSpan`]: takes the client's `X-Request-Id` (when
//!    sane) or makes one, runs everything inside in a `request` span naming
//!    it, and echoes it on the response.
//! 3. [`headers::JsonCsp`] and poem's `SetHeader`: the security headers.
//! 4. [`headers::AllowOn405`]: the `Allow` header on 405 answers.
//! 5. `catch_all_error`: any error still unanswered becomes `{"detail"}`, so
//!    the layers above always see a response (poem's `SetHeader` passes
//!    errors through untouched).
//! 6. [`guards::HeaderLimit`]: 431 for headers over [`MAX_HEADER_BYTES`].
//! 7. [`guards::Deadline`]: 408 (body still arriving) or 503 (slow service)
//!    at `REQUEST_TIMEOUT_SECONDS`.
//! 8. poem's `CatchPanic` with [`guards::panic_response`]: a panic is a 500
//!    `{"detail": "Internal Server Error"}`.
//!
//! No layer logs a path value, query, header or body: only the route
//! template, so no id, email or token reaches the logs.

mod access;
mod guards;
mod headers;
mod labels;
mod request_id;

use std::sync::Arc;
use std::time::Duration;

use poem::http::header;
use poem::middleware::{CatchPanic, SetHeader};
use poem::{Endpoint, EndpointExt, IntoResponse, Response};

use super::allow::AllowTable;
use super::error;
use super::metrics::Metrics;

pub use guards::MAX_HEADER_BYTES;
pub use request_id::REQUEST_ID;

/// What the layers need from the composition.
pub struct Observe {
    /// Where to count.
    pub metrics: Metrics,
    /// How long a request may take before it is answered 408 or 503.
    pub timeout: Duration,
    /// The documented routes: templates for labels, methods for 405 answers.
    pub allow: Arc<AllowTable>,
}

/// Wraps `app` in every layer, in the order the module documentation
/// gives (written here innermost first, as `with` nests them).
pub fn around<E>(app: E, observe: Observe) -> impl Endpoint<Output = Response>
where
    E: Endpoint + 'static,
{
    let Observe {
        metrics,
        timeout,
        allow,
    } = observe;
    app.with(CatchPanic::new().with_handler(guards::panic_response))
        .with(guards::Deadline(timeout))
        .with(guards::HeaderLimit(MAX_HEADER_BYTES))
        .catch_all_error(|err| async move { error::reshape(err).into_response() })
        .with(headers::AllowOn405(allow.clone()))
        .with(SetHeader::new().overriding(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .with(headers::JsonCsp)
        .with(request_id::RequestSpan(allow.clone()))
        .with(access::AccessLog { metrics, allow })
}

#[cfg(test)]
mod tests;
