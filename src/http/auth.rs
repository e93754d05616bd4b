//! `/login` (the password and refresh grants), `/logout` and
//! `/logout/all`.

use poem::http::header::USER_AGENT;
use poem::http::{HeaderMap, StatusCode};
use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Form;
use poem_openapi::{ApiRequest, ApiResponse, OpenApi};

use super::ApiTags;
use super::error::{ApiError, Errors, status::*};
use super::json::{JsonOut, StrictJson};
use super::metrics::Metrics;
use super::models::{LoginBody, LoginForm, TokenOut};
use super::security::Auth;
use crate::domain::{LoginError, RefreshToken};
use crate::service::Service;

/// The authentication routes, counting failed and throttled logins in
/// their own handle on the metrics (not one put in every request's data).
#[derive(Default)]
pub struct AuthApi {
    /// Where failed and throttled logins are counted.
    pub metrics: Metrics,
}

/// A token request, as the OAuth2 form or as JSON: the password grant or
/// the refresh grant; `scope`, `client_id` and `client_secret` are
/// accepted and ignored.
#[derive(ApiRequest)]
enum LoginRequest {
    /// The OAuth2 form.
    Form(Form<LoginForm>),
    /// The same fields as JSON.
    Json(StrictJson<LoginBody>),
}

/// Tokens.
#[derive(ApiResponse)]
enum LoginResponse {
    /// Logged in, or refreshed: an access token and the session's new
    /// refresh token.
    #[oai(status = 200)]
    Ok(JsonOut<TokenOut>),
}

/// A session ended.
#[derive(ApiResponse)]
enum LogoutResponse {
    /// The session's tokens no longer work.
    #[oai(status = 204)]
    NoContent,
}

/// What a token request asks for.
enum Grant {
    /// An email and password: a new session.
    Password { username: String, password: String },
    /// A refresh token: new tokens in its session.
    Refresh(RefreshToken),
}

impl Grant {
    /// The grant of a request's fields: `grant_type` absent or `password`
    /// needs `username` and `password`, `refresh_token` needs the token.
    fn parse(
        grant_type: Option<String>,
        username: Option<String>,
        password: Option<String>,
        refresh_token: Option<String>,
    ) -> Result<Self, ApiError> {
        let required = |field: &str| ApiError::invalid(format!("{field}: field required"));
        match grant_type.as_deref() {
            None | Some("password") => Ok(Self::Password {
                username: username.ok_or_else(|| required("username"))?,
                password: password.ok_or_else(|| required("password"))?,
            }),
            Some("refresh_token") => refresh_token
                .map(|t| Self::Refresh(RefreshToken::new(&t)))
                .ok_or_else(|| required("refresh_token")),
            Some(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Unsupported grant type",
            )),
        }
    }
}

#[OpenApi(tag = "ApiTags::Authentication")]
impl AuthApi {
    /// Log in, or refresh
    ///
    /// The password grant (`grant_type` absent or `password`): `username`
    /// is the email; a success starts a session. Unknown emails and wrong
    /// passwords get the same answer in about the same time; failures are
    /// throttled per email and address. The refresh grant
    /// (`grant_type=refresh_token`): spends the refresh token and answers
    /// new tokens in the same session; presenting a spent refresh token
    /// ends its session. Any other `grant_type`: 400.
    #[oai(path = "/login", method = "post")]
    async fn login(
        &self,
        service: Data<&Service>,
        remote: &RemoteAddr,
        headers: &HeaderMap,
        body: LoginRequest,
    ) -> Result<LoginResponse, Errors<{ BODY | UNAUTHORIZED | THROTTLED | UNAVAILABLE }>> {
        let grant = match body {
            LoginRequest::Form(Form(f)) => {
                Grant::parse(f.grant_type, f.username, f.password, f.refresh_token)
            }
            LoginRequest::Json(StrictJson(j)) => {
                Grant::parse(j.grant_type, j.username, j.password, j.refresh_token)
            }
        }?;
        let issued = match grant {
            Grant::Password { username, password } => {
                let agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok());
                service
                    .login(&username, &password, super::client_ip(remote), agent)
                    .await
                    .inspect_err(|e| match e {
                        LoginError::InvalidCredentials => self.metrics.login_failed(),
                        LoginError::Throttled { .. } => self.metrics.login_throttled(),
                        LoginError::Store(_) => {}
                    })?
            }
            Grant::Refresh(token) => service.refresh(&token).await?,
        };
        Ok(LoginResponse::Ok(JsonOut(TokenOut {
            access_token: issued.access.token,
            token_type: "bearer".into(),
            expires_in: issued.access.expires_in,
            refresh_token: issued.refresh.expose().to_owned(),
            refresh_expires_in: issued.refresh_expires_in,
        })))
    }

    /// Log out
    ///
    /// Ends the presented token's session everywhere the store is shared:
    /// its access tokens and its refresh token stop working.
    #[oai(path = "/logout", method = "post")]
    async fn logout(
        &self,
        auth: Auth,
        service: Data<&Service>,
    ) -> Result<LogoutResponse, Errors<AUTHED>> {
        service.logout(auth.caller()).await?;
        Ok(LogoutResponse::NoContent)
    }

    /// Log out everywhere
    ///
    /// Ends every session of the caller, the current one included.
    #[oai(path = "/logout/all", method = "post")]
    async fn logout_all(
        &self,
        auth: Auth,
        service: Data<&Service>,
    ) -> Result<LogoutResponse, Errors<AUTHED>> {
        service.logout_all(auth.caller()).await?;
        Ok(LogoutResponse::NoContent)
    }
}
