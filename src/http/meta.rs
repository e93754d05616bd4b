//! Service routes: `/`, `/healthz`, `/readyz`.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use super::error::{ApiError, Errors, status::*};
use super::json::JsonOut;
use super::models::{RootOut, StatusOut};
use crate::service::Service;

/// The service routes.
#[derive(Default)]
pub struct MetaApi;

/// A greeting.
#[derive(ApiResponse)]
enum RootResponse {
    /// Where to start.
    #[oai(status = 200)]
    Ok(JsonOut<RootOut>),
}

/// A status.
#[derive(ApiResponse)]
enum StatusResponse {
    /// `{"status": "ok"}`.
    #[oai(status = 200)]
    Ok(JsonOut<StatusOut>),
}

fn ok() -> StatusResponse {
    StatusResponse::Ok(JsonOut(StatusOut {
        status: "ok".into(),
    }))
}

#[OpenApi(tag = "ApiTags::Service")]
impl MetaApi {
    /// Welcome
    #[oai(path = "/", method = "get")]
    async fn root(&self) -> RootResponse {
        RootResponse::Ok(JsonOut(RootOut {
            message: "Welcome to the posts API; see /docs".into(),
            docs: "/docs".into(),
        }))
    }

    /// Liveness
    ///
    /// 200 while the process runs.
    #[oai(path = "/healthz", method = "get")]
    async fn healthz(&self) -> StatusResponse {
        ok()
    }

    /// Readiness
    ///
    /// 200 when the store answers, else 503.
    #[oai(path = "/readyz", method = "get")]
    async fn readyz(&self, service: Data<&Service>) -> Result<StatusResponse, Errors<UNAVAILABLE>> {
        service.ready().await.map_err(ApiError::from)?;
        Ok(ok())
    }
}
