//! The security schemes: a bearer paste box and the OAuth2 password flow
//! against `/login`, both checked by the same verifier.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, Request, RequestBody, Response};
use poem_openapi::auth::Bearer;
use poem_openapi::error::AuthorizationError;
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions, SecurityScheme};

use super::error::ApiError;
use crate::ports::TokenClaims;
use crate::service::{Caller, Service};

/// The token of a request's `Authorization: Bearer` header, borrowed:
/// what poem-openapi's `Bearer` extractor reads (the first `Authorization`
/// header, its scheme in any case, then a space, the token after any more
/// spaces, visible ASCII only) without copying it into a `String` on every
/// request. `AuthorizationError` (401) when there is none, as `Bearer`.
pub fn bearer_token(req: &Request) -> poem::Result<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(token_of)
        .ok_or_else(|| AuthorizationError.into())
}

/// The bearer token of one `Authorization` header value, if it is one.
fn token_of(value: &HeaderValue) -> Option<&str> {
    const SCHEME: &[u8] = b"Bearer";
    let b = value.as_bytes();
    let bearer = b.len() > SCHEME.len()
        && b[SCHEME.len()] == b' '
        && b[..SCHEME.len()].eq_ignore_ascii_case(SCHEME);
    bearer
        .then(|| value.to_str().ok())
        .flatten()
        .map(|v| v[SCHEME.len() + 1..].trim_start())
}

/// The service and the token of a request's `Authorization: Bearer`
/// header (401 when it is missing or blank).
fn bearer(req: &Request) -> poem::Result<(&Service, &str)> {
    let token = bearer_token(req)?.trim();
    if token.is_empty() {
        return Err(ApiError::not_authenticated().into());
    }
    let service = req.data::<Service>().ok_or_else(ApiError::invalid_token)?;
    Ok((service, token))
}

/// Checks a bearer token through the service: signature, expiry,
/// revocation, and that the user still exists (read now, with their role).
async fn check(req: &Request, _token: Bearer) -> poem::Result<Caller> {
    authenticate(req).await
}

/// [`check`] on the request's own header.
async fn authenticate(req: &Request) -> poem::Result<Caller> {
    let (service, token) = bearer(req)?;
    Ok(service.authenticate(token).await.map_err(ApiError::from)?)
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
    flows(password(token_url = "/login", refresh_url = "/login")),
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

/// A bearer token that verifies (signature, algorithm, expiry), not yet
/// checked against the store: for the one route that asks the store about
/// the token and its data in a single call (`GET /posts/{id}`).
pub struct VerifiedToken(TokenClaims);

impl VerifiedToken {
    /// The token's claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.0
    }
}

/// Both extractors carry the same two schemes (one `Authorization: Bearer`
/// header) and run their check once.
macro_rules! bearer_extractor {
    ($ty:ident, |$req:ident| $check:expr) => {
        impl<'a> ApiExtractor<'a> for $ty {
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
                $req: &'a Request,
                _body: &mut RequestBody,
                _param_opts: ExtractParamOptions<Self::ParamType>,
            ) -> poem::Result<Self> {
                Ok(Self($check))
            }
        }
    };
}

bearer_extractor!(Auth, |req| authenticate(req).await?);
bearer_extractor!(VerifiedToken, |req| {
    let (service, token) = bearer(req)?;
    service.verify_token(token).map_err(ApiError::from)?
});

/// The `transform` of every route that takes a [`VerifiedToken`] and has
/// the store check it in the route's own call: authentication is checked
/// first (API.md) on those routes too. An answer that the request's shape
/// caused before that call (a parameter, path or body refused: 400, 413,
/// 415, 422) becomes 401 when the token does not authenticate; the check
/// costs a store call on those answers only.
pub fn auth_first<E: Endpoint<Output = Response>>(ep: E) -> AuthFirst<E> {
    AuthFirst(ep)
}

/// See [`auth_first`].
pub struct AuthFirst<E>(E);

impl<E: Endpoint<Output = Response>> Endpoint for AuthFirst<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        // The header value is shared bytes: cheaper to keep than the token
        // copied (or even read), on every request, for the rare answer that
        // needs it.
        let checked = req
            .headers()
            .get(header::AUTHORIZATION)
            .cloned()
            .zip(req.data::<Service>().cloned());
        let answer = self.0.call(req).await;
        let status = match &answer {
            Ok(resp) => resp.status(),
            Err(err) => err.status(),
        };
        let shape = [
            StatusCode::BAD_REQUEST,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            StatusCode::UNPROCESSABLE_ENTITY,
        ];
        let checked = checked.filter(|_| shape.contains(&status));
        if let Some((value, service)) = checked
            && let Some(token) = token_of(&value)
        {
            // A blank token was refused (401) before any of these.
            service
                .authenticate(token.trim())
                .await
                .map_err(ApiError::from)?;
        }
        answer
    }
}
