//! The security schemes: a bearer paste box and the OAuth2 password flow
//! against `/login`, both checked by the same verifier.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use super::error::ApiError;
use crate::service::{Caller, Service};

/// Checks a bearer token through the service: signature, expiry,
/// revocation, and that the user still exists (read now, with their role).
async fn check(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    if bearer.token.trim().is_empty() {
        return Err(ApiError::not_authenticated().into());
    }
    let service = req.data::<Service>().ok_or_else(ApiError::invalid_token)?;
    Ok(service
        .authenticate(bearer.token.trim())
        .await
        .map_err(ApiError::from)?)
}

/// Paste a token from `POST /login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check")]
pub struct BearerToken(Caller);

/// Log in with email (as username) and password.
#[derive(SecurityScheme)]
#[oai(
    ty = "oauth2",
    flows(password(token_url = "/login")),
    checker = "check"
)]
pub struct PasswordFlow(Caller);

/// Either scheme: a route that takes `Auth` needs a valid token.
#[derive(SecurityScheme)]
pub enum Auth {
    /// A pasted bearer token.
    Bearer(BearerToken),
    /// A token from the password flow.
    OAuth2(PasswordFlow),
}

impl Auth {
    /// The authenticated caller.
    pub fn caller(&self) -> &Caller {
        match self {
            Auth::Bearer(BearerToken(c)) | Auth::OAuth2(PasswordFlow(c)) => c,
        }
    }
}
