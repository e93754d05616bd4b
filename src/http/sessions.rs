//! `/sessions` and `/users/{id}/sessions`: the caller's sessions, ending
//! one, and an admin ending all of a user's.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, OpenApi};

use super::error::{Errors, status::*};
use super::json::JsonOut;
use super::models::SessionOut;
use super::security::Auth;
use super::{ApiTags, session_id, user_id};
use crate::service::Service;

/// The session routes.
#[derive(Default)]
pub struct SessionsApi;

/// Sessions.
#[derive(ApiResponse)]
enum ListResponse {
    /// The caller's active sessions, newest first.
    #[oai(status = 200)]
    Ok(JsonOut<Vec<SessionOut>>),
}

/// Sessions ended.
#[derive(ApiResponse)]
enum EndedResponse {
    /// Their access tokens and refresh tokens no longer work.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// The caller's sessions
    ///
    /// Every active session of the caller, newest first; `current` marks
    /// the one of the token presented.
    #[oai(path = "/sessions", method = "get")]
    async fn list(
        &self,
        auth: Auth,
        service: Data<&Service>,
    ) -> Result<ListResponse, Errors<AUTHED>> {
        let caller = auth.caller();
        let current = caller.token.session_id;
        let sessions = service.sessions(caller).await?;
        let out = sessions
            .into_iter()
            .map(|s| SessionOut::new(s, current))
            .collect();
        Ok(ListResponse::Ok(JsonOut(out)))
    }

    /// End one of the caller's sessions
    #[oai(path = "/sessions/:id", method = "delete")]
    async fn end(
        &self,
        auth: Auth,
        service: Data<&Service>,
        /// The session's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
    ) -> Result<EndedResponse, Errors<{ AUTHED | NOT_FOUND | INVALID }>> {
        service
            .end_session(auth.caller(), session_id(id.0)?)
            .await?;
        Ok(EndedResponse::NoContent)
    }

    /// End every session of a user (admins)
    #[oai(path = "/users/:id/sessions", method = "delete")]
    async fn end_all_of_user(
        &self,
        auth: Auth,
        service: Data<&Service>,
        /// The user's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
    ) -> Result<EndedResponse, Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | INVALID }>> {
        service
            .end_user_sessions(auth.caller(), user_id(id.0)?)
            .await?;
        Ok(EndedResponse::NoContent)
    }
}
