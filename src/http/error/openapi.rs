//! How the error responses look in the OpenAPI document: [`Errors`] lists
//! the statuses an operation can answer (a mask of [`status`] bits), each
//! with the `{"detail"}` schema, [`ErrorBody`], and the headers some carry.
//! Describes; decides nothing (that is [`super::mapping`]).

use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

use super::ApiError;

/// The body of every error response.
#[derive(Debug, Object)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub detail: String,
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

/// Each status bit: its code and its description in the document.
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
