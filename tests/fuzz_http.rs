//! Fuzzing of the parsers, in process: arbitrary bytes and arbitrarily
//! typed JSON go to the body of every route that takes one, arbitrary
//! strings and mangled tokens go to the `Authorization` header, and
//! arbitrary query strings go to the list route. The app runs in this
//! process (no socket), so each case is cheap.
//!
//! Whatever arrives, the answer is never a 5xx or a panic; every refusal
//! is a 4xx whose body is exactly `{"detail": "<message>"}`; bodies that are
//! not JSON objects are always refused.
//!
//! `FUZZ_CASES` sets the cases per property (default 300, the CI run);
//! a longer run: `FUZZ_CASES=200000 cargo test --release --test fuzz_http`.

mod support;

use std::sync::Arc;

use poem::http::{Method, StatusCode, header};
use poem::{Endpoint, Request};
use posts_api::adapters::clock::ManualClock;
use posts_api::app;
use posts_api::config::{Config, StoreKind};
use posts_api::http;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};

const ADMIN_EMAIL: &str = "admin@example.com";
const ADMIN_PASSWORD: &str = "admin-password-1";
const PASSWORD: &str = "correct horse battery";

/// The app in process, a user's and the admin's tokens, and a post of the
/// user's.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    endpoint: poem::endpoint::BoxEndpoint<'static>,
    user_token: String,
    admin_token: String,
    post_id: i64,
    user_id: i64,
}

/// An answer: status and parsed body (`Value::Null` when empty or not JSON).
struct Answer {
    status: StatusCode,
    body: Value,
    raw: Vec<u8>,
}

impl Fixture {
    fn new() -> Self {
        let runtime = support::runtime();
        let config = Config {
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.into()),
            // Fuzzed logins must not lock the fixture's own logins out.
            login_max_failures: 0,
            login_max_failures_per_addr: 0,
            rust_log: "off".into(),
            ..support::config(
                StoreKind::Memory,
                None,
                "fuzz-secret-0123456789abcdef-0123456789",
            )
        };
        let endpoint = runtime.block_on(async {
            let service = app::build_service(&config, Arc::new(ManualClock::starting_now()))
                .await
                .expect("the service");
            http::endpoint(service, &config, None)
        });
        let mut fixture = Self {
            runtime,
            endpoint,
            user_token: String::new(),
            admin_token: String::new(),
            post_id: 0,
            user_id: 0,
        };
        let created = fixture.call(
            Method::POST,
            "/users",
            None,
            Some("application/json"),
            json!({ "email": "fuzz@example.com", "password": PASSWORD })
                .to_string()
                .into_bytes(),
        );
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        fixture.user_id = created.body["id"].as_i64().expect("an id");
        fixture.user_token = fixture.login("fuzz@example.com", PASSWORD);
        fixture.admin_token = fixture.login(ADMIN_EMAIL, ADMIN_PASSWORD);
        let token = fixture.user_token.clone();
        let post = fixture.call(
            Method::POST,
            "/posts",
            Some(&token),
            Some("application/json"),
            json!({ "title": "fuzzed", "content": "target" })
                .to_string()
                .into_bytes(),
        );
        assert_eq!(post.status, StatusCode::CREATED, "{}", post.body);
        fixture.post_id = post.body["id"].as_i64().expect("an id");
        fixture
    }

    fn login(&self, email: &str, password: &str) -> String {
        let form = format!("username={email}&password={password}").replace(' ', "+");
        let answer = self.call(
            Method::POST,
            "/login",
            None,
            Some("application/x-www-form-urlencoded"),
            form.into_bytes(),
        );
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["access_token"]
            .as_str()
            .expect("a token")
            .to_owned()
    }

    /// Sends one request through the whole app (middleware included).
    fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri_str(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request.body(body);
        self.runtime.block_on(async {
            let response = self.endpoint.get_response(request).await;
            let status = response.status();
            let raw = response
                .into_body()
                .into_vec()
                .await
                .expect("a readable body");
            let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            Answer { status, body, raw }
        })
    }
}

/// The routes that read a body: method, path, whose token, content type.
fn body_routes(f: &Fixture) -> Vec<(Method, String, Option<String>, &'static str)> {
    let user = Some(f.user_token.clone());
    let admin = Some(f.admin_token.clone());
    let json = "application/json";
    vec![
        (Method::POST, "/users".into(), None, json),
        (Method::POST, "/login".into(), None, json),
        (
            Method::POST,
            "/login".into(),
            None,
            "application/x-www-form-urlencoded",
        ),
        (Method::POST, "/posts".into(), user.clone(), json),
        (
            Method::PUT,
            format!("/posts/{}", f.post_id),
            user.clone(),
            json,
        ),
        (Method::POST, "/vote".into(), user, json),
        (
            Method::PATCH,
            format!("/users/{}/role", f.user_id),
            admin,
            json,
        ),
    ]
}

/// The field names each JSON route reads, so that typed values reach the
/// field parsers and not only the object check.
const FIELDS: &[&str] = &[
    "email",
    "password",
    "username",
    "title",
    "content",
    "published",
    "post_id",
    "dir",
    "role",
];

/// Asserts the contract's shape of an answer to fuzzed input.
fn check_shape(what: &str, answer: &Answer) -> Result<(), TestCaseError> {
    prop_assert!(
        !answer.status.is_server_error(),
        "{what}: {} {}",
        answer.status,
        String::from_utf8_lossy(&answer.raw)
    );
    if answer.status.is_client_error() {
        let detail = answer.body.get("detail").and_then(Value::as_str);
        prop_assert!(
            detail.is_some_and(|d| !d.is_empty())
                && answer.body.as_object().is_some_and(|o| o.len() == 1),
            "{what}: {} must be {{\"detail\": \"...\"}}, was {}",
            answer.status,
            String::from_utf8_lossy(&answer.raw)
        );
    }
    Ok(())
}

fn runner() -> TestRunner {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    TestRunner::new(RunnerConfig {
        cases,
        // Raw query text the http crate refuses is skipped, not failed.
        max_global_rejects: cases.max(1024),
        // Inputs are independent: nothing to persist between runs.
        failure_persistence: None,
        ..RunnerConfig::default()
    })
}

/// Any JSON value, nested a little, with strings that include NUL, control
/// characters and non-ASCII text, and numbers at and beyond `i64`'s range.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(1)),
        Just(json!(0)),
        Just(json!(-1)),
        ".{0,80}".prop_map(Value::String),
        "[a-z@.\\x00 ]{0,12}".prop_map(Value::String),
        Just(Value::String("a".repeat(301))),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object over the routes' field names with values of any type.
fn typed_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(FIELDS), any_json(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

#[test]
fn arbitrary_bytes_as_any_body_are_refused_with_detail() {
    let f = Fixture::new();
    let routes = body_routes(&f);
    let strategy = (
        prop::sample::select((0..routes.len()).collect::<Vec<_>>()),
        prop::collection::vec(any::<u8>(), 0..600),
    );
    runner()
        .run(&strategy, |(route, bytes)| {
            let (method, path, token, content_type) = &routes[route];
            let answer = f.call(
                method.clone(),
                path,
                token.as_deref(),
                Some(content_type),
                bytes.clone(),
            );
            let what = format!("{method} {path} with {} bytes", bytes.len());
            check_shape(&what, &answer)?;
            prop_assert!(
                answer.status.is_client_error(),
                "{what}: random bytes were accepted: {}",
                answer.status
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrarily_typed_json_never_breaks_a_route() {
    let f = Fixture::new();
    let routes = body_routes(&f);
    let json_routes: Vec<_> = routes
        .iter()
        .filter(|r| r.3 == "application/json")
        .cloned()
        .collect();
    let strategy = (
        prop::sample::select((0..json_routes.len()).collect::<Vec<_>>()),
        prop_oneof![3 => typed_object(), 1 => any_json()],
    );
    runner()
        .run(&strategy, |(route, body)| {
            let (method, path, token, content_type) = &json_routes[route];
            let answer = f.call(
                method.clone(),
                path,
                token.as_deref(),
                Some(content_type),
                body.to_string().into_bytes(),
            );
            check_shape(&format!("{method} {path} with {body}"), &answer)?;
            if !body.is_object() {
                prop_assert!(answer.status.is_client_error(), "{body} was accepted");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_and_mangled_tokens_are_401_with_detail() {
    let f = Fixture::new();
    let valid = f.user_token.clone();
    let token = prop_oneof![
        // Anything a header can carry.
        "[ -~]{0,200}",
        // The valid token with one byte replaced.
        (0..valid.len(), 0x21u8..0x7f).prop_filter_map("a change", {
            let valid = valid.clone();
            move |(at, byte)| {
                let mut bytes = valid.clone().into_bytes();
                (bytes[at] != byte).then(|| {
                    bytes[at] = byte;
                    String::from_utf8(bytes).expect("ASCII")
                })
            }
        }),
        // Its segments shuffled, dropped or repeated.
        prop::collection::vec(0..3usize, 0..5).prop_map({
            let valid = valid.clone();
            move |order| {
                let parts: Vec<&str> = valid.split('.').collect();
                order
                    .iter()
                    .map(|&i| parts[i])
                    .collect::<Vec<_>>()
                    .join(".")
            }
        }),
    ];
    runner()
        .run(&token, |token| {
            prop_assume!(token != valid);
            let answer = f.call(Method::GET, "/posts", Some(&token), None, Vec::new());
            check_shape(&format!("token {token:?}"), &answer)?;
            prop_assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "token {:?}", token);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_query_strings_never_break_the_list() {
    let f = Fixture::new();
    // Percent-encoded bytes of any value, and raw printable text.
    let query = prop_oneof![
        prop::collection::vec(
            (
                prop::sample::select(vec!["limit", "skip", "search", "other"]),
                prop::collection::vec(any::<u8>(), 0..20)
            ),
            0..4
        )
        .prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| {
                    let value: String = v.iter().map(|b| format!("%{b:02X}")).collect();
                    format!("{k}={value}")
                })
                .collect::<Vec<_>>()
                .join("&")
        }),
        "[!-~]{0,60}".prop_map(|s| s.replace('#', "")),
    ];
    runner()
        .run(&query, |query| {
            let uri = format!("/posts?{query}");
            // What the http crate refuses never reaches the app.
            prop_assume!(uri.parse::<poem::http::Uri>().is_ok());
            let answer = f.call(Method::GET, &uri, Some(&f.user_token), None, Vec::new());
            check_shape(&uri, &answer)?;
            prop_assert!(
                answer.status == StatusCode::OK || answer.status.is_client_error(),
                "{uri}: {}",
                answer.status
            );
            Ok(())
        })
        .unwrap();
}
