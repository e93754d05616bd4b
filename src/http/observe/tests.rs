//! The layers together, around stand-in handlers, with the log captured:
//! each line a request causes, however deep, names its request id.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use poem::endpoint::make;
use poem::http::StatusCode;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

use super::{Observe, REQUEST_ID, around};
use crate::domain::StoreError;
use crate::http::allow::AllowTable;
use crate::http::error::ApiError;
use crate::http::metrics::Metrics;

/// Log output, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The layers around a store that is down, a handler that panics and one
/// that never answers, on documented paths.
fn app(timeout: Duration) -> impl Endpoint<Output = Response> {
    let routes = Route::new()
        .at(
            "/posts/:id",
            make(|_| async { ApiError::from(StoreError::Unavailable("db down".into())) }),
        )
        .at(
            "/users/:id",
            make(|_| async {
                if true {
                    panic!("boom");
                }
                ""
            }),
        )
        .at(
            "/profile",
            make(|_| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                ""
            }),
        );
    let observe = Observe {
        metrics: Metrics::default(),
        timeout,
        allow: Arc::new(AllowTable::from_spec(&crate::http::openapi_json())),
    };
    around(routes.map_to_response(), observe)
}

/// A deadline no stand-in handler reaches, but the one that never answers.
const LONG: Duration = Duration::from_secs(30);

/// Sends `path` with a request id; the status, and the captured lines
/// (JSON, as the binary writes them with `LOG_FORMAT=json`).
async fn send(path: &str, id: &str, timeout: Duration) -> (StatusCode, String, Vec<Value>) {
    let captured = Captured::default();
    // The binary's JSON lines (`telemetry::init`).
    let subscriber = tracing_subscriber::fmt()
        .json()
        .event_format(crate::telemetry::JsonEvents::default())
        .with_writer(captured.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let req = Request::builder()
        .uri_str(path)
        .header(REQUEST_ID, id)
        .finish();
    let resp = app(timeout).call(req).await.unwrap().into_response();
    let echoed = resp.headers()[REQUEST_ID].to_str().unwrap().to_owned();
    assert_eq!(echoed, id, "the id is echoed");
    let status = resp.status();
    let body = resp.into_body().into_string().await.unwrap();
    (status, body, captured.lines())
}

/// The one line with this message; it names `id` in its (`request`) span.
fn line_in_span<'a>(lines: &'a [Value], message: &str, id: &str, route: &str) -> &'a Value {
    let found: Vec<&Value> = lines.iter().filter(|l| l["message"] == message).collect();
    assert_eq!(found.len(), 1, "one {message:?} line in {lines:?}");
    let line = found[0];
    assert_eq!(line["span"]["request_id"], id, "{line}");
    assert_eq!(line["span"]["route"], route, "{line}");
    assert_eq!(line["span"]["method"], "GET", "{line}");
    line
}

/// The access line, outside the span, with its own fields as before.
fn access_line(lines: &[Value], id: &str, status: u16) {
    let access: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(access.len(), 1, "{lines:?}");
    assert_eq!(access[0]["request_id"], id);
    assert_eq!(access[0]["status"], status);
    assert!(access[0].get("span").is_none(), "{}", access[0]);
}

#[tokio::test]
async fn a_store_warning_deep_in_a_handler_names_the_request() {
    let (status, body, lines) = send("/posts/7", "store-warn-1", LONG).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, r#"{"detail":"Service temporarily unavailable"}"#);
    let line = line_in_span(&lines, "store unavailable", "store-warn-1", "/posts/{id}");
    assert_eq!(line["level"], "WARN");
    access_line(&lines, "store-warn-1", 503);
}

#[tokio::test]
async fn a_panic_is_a_500_detail_logged_in_the_request_span() {
    let (status, body, lines) = send("/users/3", "panic-1", LONG).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, r#"{"detail":"Internal Server Error"}"#);
    line_in_span(&lines, "handler panicked", "panic-1", "/users/{id}");
    access_line(&lines, "panic-1", 500);
}

#[tokio::test]
async fn a_timeout_is_a_503_logged_in_the_request_span() {
    // The handler never answers, so this short deadline always passes first.
    let short = Duration::from_millis(20);
    let (status, body, lines) = send("/profile", "slow-1", short).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, r#"{"detail":"Service temporarily unavailable"}"#);
    line_in_span(&lines, "request timed out", "slow-1", "/profile");
    access_line(&lines, "slow-1", 503);
}
