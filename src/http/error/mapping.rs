//! From what went wrong to what the client is told: the domain's errors
//! (per operation) and poem's own (missing auth, unknown path, parse
//! failures, broken bodies) as an [`ApiError`]. Every status decision for
//! an error lives here.

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError};
use poem::http::StatusCode;
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use super::{ApiError, id_range};
use crate::domain::{
    AuthError, FieldError, LIMIT_RULE, LoginError, PasswordChangeError, PostError, ReadPostError,
    RefreshError, RegisterError, SKIP_RULE, SessionError, StoreError, UserError, VoteError,
};
use crate::http::limits::is_too_large;

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
            PasswordChangeError::Auth(e) => e.into(),
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
            // The cursors' only validator is the id range.
            "before" | "after" => id_range(e.name),
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
