//! The security schemes: a bearer paste box and the OAuth2 password flow
//! against `/login`, both checked by the same verifier.

use poem::{Request, RequestBody};
use poem_openapi::auth::{Bearer, BearerAuthorization};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

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

// The two schemes below are only registered in the document (by `Auth`);
// routes never extract them, hence the unread fields.

/// Paste a token from `POST /login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check")]
pub struct BearerToken(#[allow(dead_code)] Caller);

/// Log in with email (as username) and password.
#[derive(SecurityScheme)]
#[oai(
    ty = "oauth2",
    flows(password(token_url = "/login")),
    checker = "check"
)]
pub struct PasswordFlow(#[allow(dead_code)] Caller);

/// Either scheme: a route that takes `Auth` needs a valid token.
///
/// Written by hand rather than derived as an enum of the two schemes: both
/// carry the same `Authorization: Bearer` header, and the derived enum would
/// run the checker once per scheme, so a refused token would cost two
/// store round trips (two wait timeouts when the database is down).
pub struct Auth(Caller);

impl Auth {
    /// The authenticated caller.
    pub fn caller(&self) -> &Caller {
        &self.0
    }
}

impl<'a> ApiExtractor<'a> for Auth {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        BearerToken::register(registry);
        PasswordFlow::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        let mut schemes = BearerToken::security_schemes();
        schemes.extend(PasswordFlow::security_schemes());
        schemes
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bearer = <Bearer as BearerAuthorization>::from_request(req)?;
        Ok(Self(check(req, bearer).await?))
    }
}
