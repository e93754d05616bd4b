//! The layers that answer in the handler's stead: 431 for oversized
//! headers, 408 or 503 at the deadline, 500 for a panic. Their log lines
//! fall inside the request's span, so they name the request id.

use std::any::Any;
use std::time::Duration;

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use crate::domain::message::UNAVAILABLE;
use crate::http::error::{self, ApiError};
use crate::http::limits::BodyWait;

/// Largest total size of request headers accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// 431 `{"detail"}` when the request's headers exceed the limit it holds.
pub struct HeaderLimit(pub usize);

impl<E: Endpoint> Middleware<E> for HeaderLimit {
    type Output = HeaderLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        HeaderLimitEndpoint { inner, max: self.0 }
    }
}

/// See [`HeaderLimit`].
pub struct HeaderLimitEndpoint<E> {
    inner: E,
    max: usize,
}

/// The headers' size as counted against the limit: names, values, and
/// the `: ` and CRLF of each line.
fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

impl<E: Endpoint> Endpoint for HeaderLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if header_bytes(&req) > self.max {
            let status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
            return Ok(ApiError::new(status, error::HEADERS_TOO_LARGE).into_response());
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// The request deadline it holds: past it, 408 if the handler is waiting
/// for the client's body (the client's fault; hyper then closes the
/// connection, the body being unread), else 503 (the service or its store
/// is slow). Puts the [`BodyWait`] that tells the two apart in the request.
pub struct Deadline(pub Duration);

impl<E: Endpoint> Middleware<E> for Deadline {
    type Output = DeadlineEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        DeadlineEndpoint {
            inner,
            timeout: self.0,
        }
    }
}

/// See [`Deadline`].
pub struct DeadlineEndpoint<E> {
    inner: E,
    timeout: Duration,
}

impl<E: Endpoint> Endpoint for DeadlineEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let body_wait = BodyWait::default();
        req.set_data(body_wait.clone());
        match tokio::time::timeout(self.timeout, self.inner.call(req)).await {
            Ok(answer) => answer.map(IntoResponse::into_response),
            Err(_elapsed) if body_wait.is_waiting() => {
                tracing::debug!("request body timed out");
                let status = StatusCode::REQUEST_TIMEOUT;
                Ok(ApiError::new(status, error::REQUEST_TIMEOUT).into_response())
            }
            Err(_elapsed) => {
                tracing::warn!("request timed out");
                let status = StatusCode::SERVICE_UNAVAILABLE;
                Ok(ApiError::new(status, UNAVAILABLE).into_response())
            }
        }
    }
}

/// poem's `CatchPanic` handler: 500 `{"detail": "Internal Server Error"}`,
/// logged; the panic message is not (it may hold request data).
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
}
