//! The per-request work around the application, fused into one endpoint
//! ([`Observed`]): one future per request instead of one per layer, each
//! moving the next whole into its own state (`perf` showed 12 % of a
//! `/healthz` in `memmove`). The steps keep their homes in the submodules;
//! [`Observed::call`] is the one place that decides their order.
//!
//! Outermost first:
//!
//! 1. [`path`]: the path normalised (trailing slashes trimmed, runs of
//!    slashes merged), as everything below sees it.
//! 2. [`access`]: times the request, counts it in the metrics and writes
//!    the access log line (outside the request, so the line reads the same
//!    as before requests were named).
//! 3. [`request_id`]: takes the client's `X-Request-Id` (when sane) or makes
//!    one, runs everything below as the current request (its id, method and
//!    route; log lines name it as a `request` span would, see
//!    [`telemetry`]), and echoes it on the response.
//! 4. [`headers`]: `Allow` on 405 answers, `X-Content-Type-Options:
//!    nosniff`, and a Content-Security-Policy on JSON.
//! 5. Any error still unanswered becomes `{"detail"}` ([`error::reshape`]).
//! 6. [`guards::header_limit`]: 431 for headers over [`MAX_HEADER_BYTES`];
//!    then a request with a body has it cut at [`limits::MAX_BODY_BYTES`]
//!    ([`limits::limit_body`]) and its wait flagged ([`BodyWait`]).
//! 7. [`guards::deadline`]: 408 (body still arriving) or 503 (slow service)
//!    at `REQUEST_TIMEOUT_SECONDS`, and a panic is a 500
//!    `{"detail": "Internal Server Error"}`.
//!
//! No step logs a path value, query, header or body: only the route
//! template, so no id, email or token reaches the logs.

mod access;
mod guards;
mod headers;
mod labels;
mod path;
mod request_id;

use std::sync::Arc;
use std::time::{Duration, Instant};

use poem::endpoint::{BoxEndpoint, DynEndpoint};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Result};
use std::future::poll_fn;
use std::pin::pin;

use crate::telemetry::{self, RequestContext};

use super::allow::AllowTable;
use super::error;
use super::limits::{self, BodyWait};
use super::metrics::Metrics;

pub use guards::MAX_HEADER_BYTES;
pub use labels::is_undocumented;
pub use request_id::REQUEST_ID;

/// What the layer needs from the composition.
pub struct Observe {
    /// Where to count.
    pub metrics: Metrics,
    /// How long a request may take before it is answered 408 or 503.
    pub timeout: Duration,
    /// The documented routes: templates for labels, methods for 405 answers.
    pub allow: Arc<AllowTable>,
}

/// `app` with every step of the module documentation around it.
pub struct Observed {
    /// Boxed: the application's future is a pointer in this one's state.
    /// (Inline, it cost some 10,000 instructions more per `/healthz`, the
    /// larger future moved whole.)
    app: BoxEndpoint<'static, Response>,
    observe: Observe,
}

/// Wraps `app` in every step, in the order the module documentation gives.
pub fn around<E>(app: E, observe: Observe) -> Observed
where
    E: Endpoint<Output = Response> + 'static,
{
    Observed {
        app: app.boxed(),
        observe,
    }
}

impl Endpoint for Observed {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Response> {
        let Observe {
            metrics,
            timeout,
            allow,
        } = &self.observe;
        path::normalize(&mut req);
        let started = Instant::now();
        let method = labels::method(req.method());
        let id = request_id::request_id(&req);
        // Plain ASCII by construction (`request_id`).
        let id_str = id.to_str().unwrap_or_default();
        // The path's methods, for `Allow`: looked up with its route, rather
        // than the URI kept until the answer.
        let (route, allowed) = labels::of_path(allow, req.uri().path());
        let request = RequestContext {
            request_id: id_str,
            method,
            route,
        };
        let answer = async {
            if let Some(refused) = guards::header_limit(&req, MAX_HEADER_BYTES) {
                return refused;
            }
            // Only a request with a body can keep its handler waiting for
            // the client; the others need no flag (nor its allocations),
            // nor a limit on their body (looked for once, here).
            let body_wait = limits::has_body(&req).then(|| {
                let wait = BodyWait::default();
                req.set_data(wait.clone());
                limits::limit_body(&mut req, limits::MAX_BODY_BYTES);
                wait
            });
            // The box's own future (`Endpoint::call` on the box would add
            // two async layers, each moving the request).
            let app = DynEndpoint::call(&*self.app, req);
            let due = tokio::time::Instant::from_std(started) + *timeout;
            guards::deadline(due, body_wait.as_ref(), async {
                match app.await {
                    Ok(resp) => resp,
                    Err(err) => error::reshape(err).into_response(),
                }
            })
            .await
        };
        // Polled as the current request: its log lines name it.
        let mut answer = pin!(answer);
        let mut resp = poll_fn(|cx| telemetry::scope(&request, || answer.as_mut().poll(cx))).await;
        headers::add(&mut resp, allowed);
        access::record(metrics, method, route, started, &resp, id_str);
        resp.headers_mut()
            .insert(request_id::REQUEST_ID_NAME.clone(), id);
        Ok(resp)
    }
}

#[cfg(test)]
mod tests;
