//! Every error the API answers, and its `{"detail"}` JSON body: business
//! errors from the service, and poem's own (missing auth, unknown path,
//! parse failures) reshaped by [`reshape`]. Status codes live here only.

use std::fmt;

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError, ResponseError};
use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

use super::limits::is_too_large;
use crate::domain::message::{INVALID_TOKEN, NOT_AUTHENTICATED, UNAVAILABLE};
use crate::domain::{
    AuthError, FieldError, ID_RULE, LIMIT_RULE, LoginError, PasswordChangeError, PostError,
    ReadPostError, RefreshError, RegisterError, SKIP_RULE, SessionError, StoreError, UserError,
    VoteError,
};

/// The body of every error response.
#[derive(Debug, Object)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub detail: String,
}

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
            .content_type("application/json")
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::unavailable(&e)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::invalid(e.to_string())
    }
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::EmailTaken(_) => Self::new(StatusCode::CONFLICT, e.to_string()),
            RegisterError::Store(e) => e.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => Self::new(StatusCode::UNAUTHORIZED, e.to_string()),
            LoginError::Throttled { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
            },
            LoginError::Store(e) => e.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        match e {
            RefreshError::Invalid => Self::new(StatusCode::UNAUTHORIZED, e.to_string()),
            RefreshError::Store(e) => e.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            SessionError::Store(e) => e.into(),
        }
    }
}

impl From<PasswordChangeError> for ApiError {
    fn from(e: PasswordChangeError) -> Self {
        match e {
            PasswordChangeError::Incorrect => Self::new(StatusCode::FORBIDDEN, e.to_string()),
            PasswordChangeError::Throttled { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
            },
            PasswordChangeError::Store(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidToken => Self::invalid_token(),
            AuthError::Store(e) => e.into(),
        }
    }
}

impl From<PostError> for ApiError {
    fn from(e: PostError) -> Self {
        match e {
            PostError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            PostError::Forbidden => Self::new(StatusCode::FORBIDDEN, e.to_string()),
            PostError::Store(e) => e.into(),
        }
    }
}

impl From<ReadPostError> for ApiError {
    fn from(e: ReadPostError) -> Self {
        match e {
            ReadPostError::Auth(e) => e.into(),
            ReadPostError::Post(e) => e.into(),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            UserError::Forbidden => Self::new(StatusCode::FORBIDDEN, e.to_string()),
            UserError::LastAdmin => Self::new(StatusCode::CONFLICT, e.to_string()),
            UserError::Store(e) => e.into(),
        }
    }
}

impl From<VoteError> for ApiError {
    fn from(e: VoteError) -> Self {
        match e {
            VoteError::PostNotFound(_) | VoteError::VoteNotFound => {
                Self::new(StatusCode::NOT_FOUND, e.to_string())
            }
            VoteError::AlreadyVoted { .. } => Self::new(StatusCode::CONFLICT, e.to_string()),
            VoteError::Store(e) => e.into(),
        }
    }
}

/// Turns any error that reached the top into the `{"detail"}` shape.
pub fn reshape(err: poem::Error) -> ApiError {
    if let Some(e) = err.downcast_ref::<ApiError>() {
        return e.clone();
    }
    if err.is::<AuthorizationError>() {
        return ApiError::not_authenticated();
    }
    if err.is::<NotFoundError>() {
        return ApiError::new(StatusCode::NOT_FOUND, "Not Found");
    }
    if err.is::<MethodNotAllowedError>() {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    if err.is::<ParsePathError>() {
        // Every path parameter here is an id; poem-openapi names it `param0`.
        return ApiError::invalid(id_range("id"));
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return ApiError::invalid(match e.name {
            "limit" => FieldError::new("limit", LIMIT_RULE).to_string(),
            "skip" => FieldError::new("skip", SKIP_RULE).to_string(),
            // Its only validator is the documented no-NUL pattern.
            "search" => FieldError::nul("search").to_string(),
            name => format!("{name}: {}", e.reason),
        });
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return ApiError::invalid(format!("Invalid body: {}", e.reason));
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported Media Type: {e}"),
        );
    }
    if let Some(e) = err.downcast_ref::<ReadBodyError>() {
        return read_body_error(e);
    }
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(error = %err, "unhandled error");
        return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    ApiError::new(status, status.canonical_reason().unwrap_or("Error"))
}

/// 413 when the size limit cut the body, 400 for other broken bodies.
pub fn read_body_error(e: &ReadBodyError) -> ApiError {
    let too_large = match e {
        ReadBodyError::PayloadTooLarge => true,
        ReadBodyError::Io(io) => is_too_large(io),
        _ => false,
    };
    if too_large {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Invalid request body: {e}"),
        )
    }
}

/// Which error statuses an operation documents: bits of [`Errors`]' mask.
pub mod status {
    /// 400: malformed JSON.
    pub const BAD_REQUEST: u32 = 1;
    /// 401: missing or invalid token (and failed login).
    pub const UNAUTHORIZED: u32 = 1 << 1;
    /// 403: not allowed.
    pub const FORBIDDEN: u32 = 1 << 2;
    /// 404: not found.
    pub const NOT_FOUND: u32 = 1 << 3;
    /// 409: conflict.
    pub const CONFLICT: u32 = 1 << 4;
    /// 413: body over 1 MiB.
    pub const TOO_LARGE: u32 = 1 << 5;
    /// 415: not JSON.
    pub const UNSUPPORTED: u32 = 1 << 6;
    /// 422: invalid value.
    pub const INVALID: u32 = 1 << 7;
    /// 429: login throttled.
    pub const THROTTLED: u32 = 1 << 8;
    /// 503: store unavailable.
    pub const UNAVAILABLE: u32 = 1 << 9;
    /// 408: the body still arriving at `REQUEST_TIMEOUT_SECONDS`.
    pub const BODY_TIMEOUT: u32 = 1 << 10;
    /// What a route with a request body can answer besides its own errors.
    pub const BODY: u32 = BAD_REQUEST | BODY_TIMEOUT | TOO_LARGE | UNSUPPORTED | INVALID;
    /// What every authenticated route can answer.
    pub const AUTHED: u32 = UNAUTHORIZED | UNAVAILABLE;
}

const DOCUMENTED: [(u32, u16, &str); 11] = [
    (status::BAD_REQUEST, 400, "Malformed request body"),
    (status::UNAUTHORIZED, 401, "Missing or invalid credentials"),
    (
        status::FORBIDDEN,
        403,
        "Not authorized to perform requested action",
    ),
    (status::NOT_FOUND, 404, "Not found"),
    (
        status::BODY_TIMEOUT,
        408,
        "Request body still arriving after REQUEST_TIMEOUT_SECONDS",
    ),
    (status::CONFLICT, 409, "Conflict with the current state"),
    (status::TOO_LARGE, 413, "Request body over 1 MiB"),
    (status::UNSUPPORTED, 415, "Unsupported Content-Type"),
    (
        status::INVALID,
        422,
        "Invalid value; the message names the field",
    ),
    (status::THROTTLED, 429, "Too many failed logins"),
    (status::UNAVAILABLE, 503, "Service temporarily unavailable"),
];

/// An operation's error responses: the statuses in `MASK` (bits of
/// [`status`]) documented with the `{"detail"}` schema.
#[derive(Debug)]
pub struct Errors<const MASK: u32>(pub ApiError);

impl<const MASK: u32, E: Into<ApiError>> From<E> for Errors<MASK> {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl<const MASK: u32> From<Errors<MASK>> for poem::Error {
    fn from(e: Errors<MASK>) -> Self {
        e.0.into()
    }
}

impl<const MASK: u32> ApiResponse for Errors<MASK> {
    fn meta() -> MetaResponses {
        let string = <String as Type>::schema_ref;
        let responses = DOCUMENTED
            .iter()
            .filter(|(bit, _, _)| MASK & bit != 0)
            .map(|&(bit, code, description)| {
                let mut headers = Vec::new();
                if bit == status::UNAUTHORIZED {
                    headers.push(MetaHeader {
                        name: "WWW-Authenticate".into(),
                        description: Some("`Bearer`".into()),
                        required: true,
                        deprecated: false,
                        schema: string(),
                    });
                }
                if bit == status::THROTTLED {
                    headers.push(MetaHeader {
                        name: "Retry-After".into(),
                        description: Some("Seconds until another attempt is allowed".into()),
                        required: true,
                        deprecated: false,
                        schema: <u64 as Type>::schema_ref(),
                    });
                }
                MetaResponse {
                    description,
                    status: Some(code),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json",
                        schema: ErrorBody::schema_ref(),
                    }],
                    headers,
                }
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}
