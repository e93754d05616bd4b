//! The guards that answer in the handler's stead: 431 for oversized
//! headers, 408 or 503 at the deadline, 500 for a panic. They run as the
//! current request, so their log lines name the request id.

use std::any::Any;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::task::Poll;

use futures_util::FutureExt;
use poem::http::StatusCode;
use poem::{IntoResponse, Request, Response};
use tokio::time::{Instant, Sleep};

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

/// Runs `answer` (the handler's response) until `deadline`, catching its
/// panics. Past the deadline: 408 if the handler is waiting for the
/// client's body (`body_wait`, the client's fault; hyper then closes the
/// connection, the body being unread), else 503 (the service or its store
/// is slow). A panic is a 500 ([`panic_response`]).
///
/// The timer is armed only once `answer` first waits: an answer ready at
/// its first poll (most, on the memory store) costs no timer.
pub async fn deadline(
    deadline: Instant,
    body_wait: Option<&BodyWait>,
    answer: impl Future<Output = Response>,
) -> Response {
    let mut caught = pin!(AssertUnwindSafe(answer).catch_unwind());
    let mut timer = pin!(None::<Sleep>);
    let outcome = poll_fn(|cx| {
        if let Poll::Ready(done) = caught.as_mut().poll(cx) {
            return Poll::Ready(Some(done));
        }
        if timer.is_none() {
            timer.set(Some(tokio::time::sleep_until(deadline)));
        }
        match timer.as_mut().as_pin_mut() {
            Some(sleep) => sleep.poll(cx).map(|()| None),
            None => Poll::Pending,
        }
    })
    .await;
    match outcome {
        Some(Ok(resp)) => resp,
        Some(Err(panic)) => panic_response(panic),
        None if body_wait.is_some_and(BodyWait::is_waiting) => {
            tracing::debug!("request body timed out");
            let status = StatusCode::REQUEST_TIMEOUT;
            ApiError::new(status, error::REQUEST_TIMEOUT).into_response()
        }
        None => {
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
