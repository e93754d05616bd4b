//! `/login` and `/logout`.

use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Form;
use poem_openapi::{ApiRequest, ApiResponse, OpenApi};

use super::ApiTags;
use super::error::{Errors, status::*};
use super::json::{JsonOut, StrictJson};
use super::metrics::Metrics;
use super::models::{LoginBody, LoginForm, TokenOut};
use super::security::Auth;
use crate::domain::LoginError;
use crate::service::Service;

/// The authentication routes.
pub struct AuthApi;

/// Credentials, as the OAuth2 password form or as JSON.
#[derive(ApiRequest)]
enum LoginRequest {
    /// The OAuth2 password form; `grant_type`, `scope`, `client_id` and
    /// `client_secret` are accepted and ignored.
    Form(Form<LoginForm>),
    /// The same two fields as JSON.
    Json(StrictJson<LoginBody>),
}

/// A token.
#[derive(ApiResponse)]
enum LoginResponse {
    /// Logged in.
    #[oai(status = 200)]
    Ok(JsonOut<TokenOut>),
}

/// A revocation.
#[derive(ApiResponse)]
enum LogoutResponse {
    /// The presented token no longer works.
    #[oai(status = 204)]
    NoContent,
}

/// The client's IP address; throttling counts per address.
fn client_ip(remote: &RemoteAddr) -> std::net::IpAddr {
    remote
        .as_socket_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip())
}

#[OpenApi(tag = "ApiTags::Authentication")]
impl AuthApi {
    /// Log in
    ///
    /// `username` is the email. Unknown emails and wrong passwords get the
    /// same answer in about the same time. Failures are throttled per email
    /// and address.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        service: Data<&Service>,
        metrics: Data<&Metrics>,
        remote: &RemoteAddr,
        body: LoginRequest,
    ) -> Result<LoginResponse, Errors<{ BODY | UNAUTHORIZED | THROTTLED | UNAVAILABLE }>> {
        let (username, password) = match body {
            LoginRequest::Form(Form(f)) => (f.username, f.password),
            LoginRequest::Json(StrictJson(j)) => (j.username, j.password),
        };
        let issued = service
            .login(&username, &password, client_ip(remote))
            .await
            .inspect_err(|e| match e {
                LoginError::InvalidCredentials => metrics.login_failed(),
                LoginError::Throttled { .. } => metrics.login_throttled(),
                LoginError::Store(_) => {}
            })?;
        Ok(LoginResponse::Ok(JsonOut(TokenOut {
            access_token: issued.token,
            token_type: "bearer".into(),
            expires_in: issued.expires_in,
        })))
    }

    /// Log out
    ///
    /// Revokes the presented token everywhere the store is shared.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        auth: Auth,
        service: Data<&Service>,
    ) -> Result<LogoutResponse, Errors<AUTHED>> {
        service.logout(auth.caller()).await?;
        Ok(LogoutResponse::NoContent)
    }
}
