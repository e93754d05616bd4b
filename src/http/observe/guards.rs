//! The guards that answer in the handler's stead: 431 for oversized
//! headers, 408 or 503 at the deadline, 500 for a panic. They run inside
//! the request's span, so their log lines name the request id.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use poem::http::StatusCode;
use poem::{IntoResponse, Request, Response};

use crate::domain::message::UNAVAILABLE;
use crate::http::error::{self, ApiError};
use crate::http::limits::BodyWait;

/// Largest total size of request headers accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The headers' size as counted against the limit: names, values, and
/// the `: ` and CRLF of each line.
fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

/// 431 `{"detail"}` when the request's headers exceed `max` bytes.
pub fn header_limit(req: &Request, max: usize) -> Option<Response> {
    (header_bytes(req) > max).then(|| {
        let status = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        ApiError::new(status, error::HEADERS_TOO_LARGE).into_response()
    })
}

/// Runs `answer` (the handler's response) within `timeout` and catching
/// its panics. Past the deadline: 408 if the handler is waiting for the
/// client's body (`body_wait`, the client's fault; hyper then closes the
/// connection, the body being unread), else 503 (the service or its store
/// is slow). A panic is a 500 ([`panic_response`]).
pub async fn deadline(
    timeout: Duration,
    body_wait: &BodyWait,
    answer: impl Future<Output = Response>,
) -> Response {
    let caught = AssertUnwindSafe(answer).catch_unwind();
    match tokio::time::timeout(timeout, caught).await {
        Ok(Ok(resp)) => resp,
        Ok(Err(panic)) => panic_response(panic),
        Err(_elapsed) if body_wait.is_waiting() => {
            tracing::debug!("request body timed out");
            let status = StatusCode::REQUEST_TIMEOUT;
            ApiError::new(status, error::REQUEST_TIMEOUT).into_response()
        }
        Err(_elapsed) => {
            tracing::warn!("request timed out");
            let status = StatusCode::SERVICE_UNAVAILABLE;
            ApiError::new(status, UNAVAILABLE).into_response()
        }
    }
}

/// A panic's answer: 500 `{"detail": "Internal Server Error"}`, logged;
/// the panic message is not (it may hold request data).
fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
}
