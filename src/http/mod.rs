//! The HTTP edge: poem-openapi routes (one struct per tag), the security
//! schemes, strict JSON bodies, error mapping, limits, CORS and metrics.

mod allow;
mod auth;
mod docs;
pub mod error;
pub mod json;
mod json_value;
pub mod limits;
mod meta;
pub mod metrics;
mod models;
pub mod observe;
mod paging;
mod posts;
mod routes;
pub mod security;
pub mod server;
mod sessions;
mod users;
mod votes;

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::Either;

use poem::endpoint::{BoxEndpoint, DynEndpoint, make_sync};
use poem::http::{Method, StatusCode, header};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, IntoResponse, Middleware, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::config::Config;
use crate::domain::{PostId, SessionId, UserId};
use crate::ports::PoolMonitor;
use crate::service::Service;
use allow::AllowTable;
use error::ApiError;
use routes::{Named, api_routes};

/// The tags grouping operations in the document and Swagger UI.
#[derive(Tags)]
enum ApiTags {
    /// Log in and out.
    Authentication,
    /// Registration, profiles and administration.
    Users,
    /// Sessions: list them, end one or all.
    Sessions,
    /// Posts and drafts.
    Posts,
    /// Votes on posts.
    Votes,
    /// Health and readiness.
    Service,
}

/// The API's operations, one struct per tag.
type Apis = (
    auth::AuthApi,
    users::UsersApi,
    sessions::SessionsApi,
    posts::PostsApi,
    votes::VotesApi,
    meta::MetaApi,
);

fn openapi_service() -> OpenApiService<Named<Apis>, ()> {
    OpenApiService::new(
        Named(Apis::default()),
        "Posts API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Users register, log in at `/login` (OAuth2 password form or JSON) and send \
             `Authorization: Bearer <token>`. Posts, drafts, votes and roles.",
    )
}

/// The OpenAPI document, as committed in `openapi/openapi.json`.
pub fn openapi_json() -> String {
    document(&openapi_service())
}

/// The document of `api`, with its `Link` response headers named as they
/// are sent: poem-openapi's derive writes a header it declares in capitals
/// (`LINK`), where the headers built in `error::openapi` keep their case.
fn document(api: &OpenApiService<Named<Apis>, ()>) -> String {
    api.spec().replace("\"LINK\": {", "\"Link\": {")
}

/// A path id as a user id (`1..=i64::MAX`), or 422.
fn user_id(raw: i64) -> Result<UserId, ApiError> {
    UserId::new(raw).ok_or_else(|| ApiError::invalid(error::id_range("id")))
}

/// The client's IP address; login throttling counts per address.
fn client_ip(remote: &poem::web::RemoteAddr) -> std::net::IpAddr {
    remote
        .as_socket_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip())
}

/// A path id as a session id (`1..=i64::MAX`), or 422.
fn session_id(raw: i64) -> Result<SessionId, ApiError> {
    SessionId::new(raw).ok_or_else(|| ApiError::invalid(error::id_range("id")))
}

/// A path or body id as a post id (`1..=i64::MAX`), or 422.
fn post_id(raw: i64) -> Result<PostId, ApiError> {
    PostId::new(raw).ok_or_else(|| ApiError::invalid(error::id_range("id")))
}

/// An error as a `{"detail"}` response.
fn error_response(err: poem::Error) -> poem::Response {
    error::reshape(err).into_response()
}

/// Refused origins: a preflight gets 403; any other request is served
/// without CORS headers (the browser then withholds the answer), as
/// non-browser clients that send `Origin` expect.
struct CorsGate {
    allowed: Option<Vec<String>>,
}

impl<E: Endpoint> Middleware<E> for CorsGate {
    type Output = CorsGateEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CorsGateEndpoint {
            inner,
            allowed: self.allowed.clone(),
        }
    }
}

struct CorsGateEndpoint<E> {
    inner: E,
    allowed: Option<Vec<String>>,
}

impl<E: Endpoint> Endpoint for CorsGateEndpoint<E> {
    type Output = poem::Response;

    async fn call(&self, mut req: poem::Request) -> poem::Result<Self::Output> {
        let refused = match (&self.allowed, req.headers().get(header::ORIGIN)) {
            (Some(allowed), Some(origin)) => {
                !allowed.iter().any(|a| a.as_bytes() == origin.as_bytes())
            }
            _ => false,
        };
        if refused {
            let preflight = req.method() == Method::OPTIONS
                && req
                    .headers()
                    .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
            if preflight {
                let refusal = ApiError::new(StatusCode::FORBIDDEN, "Disallowed CORS origin");
                return Ok(refusal.into_response());
            }
            req.headers_mut().remove(header::ORIGIN);
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// The CORS rules: the configured origins, and only the methods the
/// service serves (poem would otherwise grant any, CONNECT and TRACE too).
fn cors(config: &Config, allow: &AllowTable) -> Cors {
    let cors = Cors::new()
        .allow_methods(allow.methods().iter().map(String::as_str))
        .expose_header("Link")
        .expose_header("Retry-After")
        .expose_header("WWW-Authenticate");
    match config.cors_allowed() {
        Some(origins) => cors.allow_origins(origins),
        None => cors,
    }
}

/// The application inside the observation layer (which also limits the
/// body): the request's data, then the routes. The routes served outside
/// the OpenAPI document (`observe::labels::UNDOCUMENTED_ROUTES`) have a router of
/// their own; every other path goes straight to the API's routes
/// ([`api_routes`]), as the root nest of one router did (the same route
/// patterns, without the nest's copy of the URI and its two boxed futures
/// per request).
struct Dispatch {
    api: Route,
    undocumented: Route,
    service: Service,
}

impl Endpoint for Dispatch {
    type Output = poem::Response;

    /// The router's own future, not one more around it (each async layer
    /// moves the request into its state).
    fn call(
        &self,
        mut req: poem::Request,
    ) -> impl Future<Output = poem::Result<Self::Output>> + Send {
        req.set_data(self.service.clone());
        let routes = if observe::is_undocumented(req.uri().path()) {
            &self.undocumented
        } else {
            &self.api
        };
        routes.call(req)
    }
}

/// [`Dispatch`] with every error answered `{"detail"}`, and CORS (the
/// configured rules, [`CorsGate`]'s refusals) for requests that carry an
/// `Origin`. Without one neither CORS layer does anything, so those
/// requests skip them (two layers, each moving the request and the
/// future below it).
struct App {
    plain: Arc<Dispatch>,
    cors: BoxEndpoint<'static>,
}

impl Endpoint for App {
    type Output = poem::Response;

    /// The future of the layer below, not one more around it.
    fn call(&self, req: poem::Request) -> impl Future<Output = poem::Result<Self::Output>> + Send {
        if req.headers().contains_key(header::ORIGIN) {
            return Either::Left(DynEndpoint::call(&*self.cors, req));
        }
        // `Dispatch`'s own `call`: the `Arc`'s would add an async layer.
        let plain = Endpoint::call(&*self.plain, req);
        Either::Right(plain.map(|answer| Ok(answer.unwrap_or_else(error_response))))
    }
}

/// The whole application as one endpoint; `pool`'s gauges (a database's)
/// join the metrics.
pub fn endpoint(
    service: Service,
    config: &Config,
    pool: Option<Arc<dyn PoolMonitor>>,
) -> BoxEndpoint<'static> {
    let api = openapi_service();
    let spec = document(&api);
    // Swagger UI embeds the document verbatim: embed the one served.
    let page = api.swagger_ui_html().replacen(&api.spec(), &spec, 1);
    let docs = docs::DocsPage {
        index: docs::StaticBody::new("text/html; charset=utf-8", page),
        rest: api.swagger_ui(),
    };
    let metrics = metrics::Metrics::with_pool(pool);
    let exporter = metrics.clone();
    let mut apis = Apis::default();
    apis.0.metrics = metrics.clone();
    let allow = Arc::new(allow::AllowTable::from_spec(&spec));
    let undocumented = Route::new()
        .nest("/docs", docs)
        .at(
            "/openapi.json",
            docs::StaticBody::new("application/json", spec),
        )
        .at("/metrics", make_sync(move |_| exporter.render()));
    let plain = Arc::new(Dispatch {
        api: api_routes(apis),
        undocumented,
        service,
    });
    let cors = plain
        .clone()
        .catch_all_error(|err| async move { error_response(err) })
        .with(cors(config, &allow))
        .with(CorsGate {
            allowed: config.cors_allowed(),
        })
        .boxed();
    let observe = observe::Observe {
        metrics,
        timeout: Duration::from_secs(config.request_timeout_seconds),
        allow,
    };
    observe::around(App { plain, cors }, observe).boxed()
}

#[cfg(test)]
mod tests {
    /// The committed document is what the code generates; regenerate it
    /// with `cargo run -- openapi > openapi/openapi.json`.
    #[test]
    fn committed_openapi_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
        let committed = std::fs::read_to_string(path).expect("openapi/openapi.json is committed");
        assert!(
            committed.trim_end() == super::openapi_json().trim_end(),
            "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
        );
    }

    #[test]
    fn protected_operations_declare_both_schemes() {
        let spec: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap();
        let public = ["/login", "/users:post", "/:get", "/healthz", "/readyz"];
        for (path, ops) in spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let name = format!("{path}:{method}");
                let is_public = public.iter().any(|p| *p == path || *p == name);
                let security = op["security"].as_array().map(Vec::len).unwrap_or(0);
                assert_eq!(
                    security == 2,
                    !is_public,
                    "{name}: security {}",
                    op["security"]
                );
                let responses = op["responses"].as_object().unwrap();
                if !is_public {
                    assert!(responses.contains_key("401"), "{name} documents 401");
                }
                for (code, resp) in responses {
                    if code.starts_with('4') || code.starts_with('5') {
                        let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/ErrorBody", "{name} {code}");
                    }
                }
            }
        }
    }
}
