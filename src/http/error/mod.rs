//! Every error the API answers: [`ApiError`], a status and a `{"detail"}`
//! message, and the HTTP-only messages. Status codes live under this module
//! only: [`mapping`] turns domain errors and poem's own (missing auth,
//! unknown path, parse failures) into an `ApiError`; [`openapi`] describes
//! the error responses in the OpenAPI document. Client messages shared with
//! the domain live in `crate::domain::message`.

mod mapping;
mod openapi;

use std::fmt;

use poem::error::ResponseError;
use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};

use crate::domain::message::{INVALID_TOKEN, NOT_AUTHENTICATED, UNAVAILABLE};
use crate::domain::{ID_RULE, StoreError};
pub use mapping::{read_body_error, reshape};
pub use openapi::{ErrorBody, Errors, status};

/// An error response: a status, a message, and the headers some need.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    retry_after: Option<u64>,
}

/// 408: the request body was still arriving at `REQUEST_TIMEOUT_SECONDS`.
pub const REQUEST_TIMEOUT: &str = "Request timeout";
/// 431: request headers over [`super::observe::MAX_HEADER_BYTES`], or more
/// than the HTTP parser takes.
pub const HEADERS_TOO_LARGE: &str = "Request header fields too large";
/// 400 from the HTTP parser: a request it cannot read (a bad method, URI,
/// version or header, an unparsable or conflicting Content-Length).
pub const MALFORMED_REQUEST: &str = "Bad Request: malformed HTTP request";
/// 414 from the HTTP parser: a request target too long to read.
pub const URI_TOO_LONG: &str = "URI Too Long";

/// The message for a path id outside `1..=i64::MAX`.
pub fn id_range(field: &str) -> String {
    format!("{field}: {ID_RULE}")
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 401: no usable `Authorization` header.
    pub fn not_authenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, NOT_AUTHENTICATED)
    }

    /// 401: a token that does not verify.
    pub fn invalid_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, INVALID_TOKEN)
    }

    /// 422 for a request value that failed validation.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 503, logging the cause (which the client never sees).
    pub fn unavailable(cause: &StoreError) -> Self {
        tracing::warn!(error = %cause, "store unavailable");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        let body = serde_json::json!({ "detail": self.detail }).to_string();
        let mut resp = Response::builder()
            .status(self.status)
            .header(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            )
            .body(body);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.as_response()
    }
}
