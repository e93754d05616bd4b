//! The black-box test harness shared by every test file.
//!
//! [`TestApp`] starts the real service on `127.0.0.1:0` with the chosen
//! store, bcrypt cost 4, a known JWT secret, a start-up admin and a
//! [`ManualClock`], and talks to it over HTTP with `reqwest`.
//!
//! [`store_tests!`] turns plain `async fn name(app: TestApp)` functions into
//! `memory::name` and `postgres::name` test cases, so every behaviour is
//! written once and runs on both stores. The Postgres variant gets a fresh
//! database per test from `tests/support/db.rs`, which also decides the
//! skip: without `DATABASE_URL` it prints "skipped: DATABASE_URL not set"
//! and passes, unless `REQUIRE_POSTGRES=1`, when it fails. With
//! `TEST_POOLER=pgbouncer` the Postgres variant runs behind PgBouncer in
//! transaction mode (`DATABASE_POOLER=transaction`, the database migrated
//! directly first): CI runs the Postgres half of the suite so too.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

#[path = "../support/mod.rs"]
pub mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use posts_api::adapters::clock::ManualClock;
use posts_api::adapters::jwt::key_id;
use posts_api::app::{self, RunningApp};
use posts_api::config::{Config, StoreKind};
pub use reqwest::{Method, StatusCode, header::HeaderMap};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use support::db::TestDb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The signing key every test app uses (unless a test overrides it).
pub const SECRET: &str = "test-secret-for-posts-api-0123456789abcdef";
/// The start-up admin's email.
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The start-up admin's password.
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// The password [`TestApp::user`] registers with.
pub const PASSWORD: &str = "correct horse battery";
/// 1 MiB, the largest request body accepted.
pub const MIB: usize = 1_048_576;

/// The messages of API.md.
pub const NOT_AUTHENTICATED: &str = "Not authenticated";
/// Any token that does not verify.
pub const BAD_TOKEN: &str = "Could not validate credentials";
/// Forbidden, wherever it applies.
pub const FORBIDDEN: &str = "Not authorized to perform requested action";

/// A change to the test configuration, applied before start-up.
pub type Tweak = fn(&mut Config);

/// The tweak that changes nothing.
pub fn no_tweak(_: &mut Config) {}

/// Generates a `memory` and a `postgres` test module with one test per
/// listed `async fn name(app: TestApp)`; `name with |c| ...` tweaks the
/// configuration first.
macro_rules! store_tests {
    ($($name:ident $(with $tweak:expr)?),* $(,)?) => {
        mod memory {
            // For the tweaks, which may name the test file's items.
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let tweak: $crate::common::Tweak = $crate::common::pick_tweak!($($tweak)?);
                    $crate::common::run(posts_api::config::StoreKind::Memory, tweak, super::$name).await;
                }
            )*
        }
        mod postgres {
            // For the tweaks, which may name the test file's items.
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let tweak: $crate::common::Tweak = $crate::common::pick_tweak!($($tweak)?);
                    $crate::common::run(posts_api::config::StoreKind::Postgres, tweak, super::$name).await;
                }
            )*
        }
    };
}
pub(crate) use store_tests;

/// The tweak given to [`store_tests!`], or [`no_tweak`].
macro_rules! pick_tweak {
    () => {
        $crate::common::no_tweak
    };
    ($tweak:expr) => {
        $tweak
    };
}
pub(crate) use pick_tweak;

/// Starts an app on `store` (tweaked), runs `test` against it, then drops
/// its database (Postgres, best effort, even when the test fails). Returns
/// at once when the store is not available for testing (see
/// [`TestApp::spawn_with`]).
pub async fn run<F, Fut>(store: StoreKind, tweak: Tweak, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(app) = TestApp::spawn_with(store, tweak).await else {
        return;
    };
    let database = app.database.clone();
    // In its own task, so that a failing test still gets its database
    // dropped; dropping the app at the end of the test stops its server.
    let outcome = tokio::spawn(test(app)).await;
    if let Some(db) = database {
        db.drop().await;
    }
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("the test task did not finish: {e}"),
        }
    }
}

/// Points `config` (on `db`) at the shared PgBouncer with
/// `DATABASE_POOLER=transaction`, after migrating `db` directly, as
/// production does (`posts-api migrate`, then the service through the
/// pooler).
async fn through_pgbouncer(config: &mut Config, db: &TestDb) {
    let clock = Arc::new(support::whole_second_clock());
    app::migrate(config, clock)
        .await
        .unwrap_or_else(|e| panic!("the direct migration: {e}"));
    let bouncer = support::pgbouncer::shared().expect("DATABASE_URL is set");
    config.database_url = Some(bouncer.url(&db.url).into());
    config.database_pooler = posts_api::config::DatabasePooler::Transaction;
}

/// A running service and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// A client that follows no redirects and uses no proxy.
    pub client: reqwest::Client,
    /// The service's clock.
    pub clock: ManualClock,
    /// The signing key.
    pub secret: String,
    /// The configuration it was started with.
    pub config: Config,
    /// The store behind it.
    pub store: StoreKind,
    database: Option<TestDb>,
    running: Option<RunningApp>,
    next_user: Arc<AtomicUsize>,
    /// The session of each user's latest login through [`Self::login_ok`]:
    /// forged claims name it, so that only what a test changes is wrong.
    sessions: Arc<std::sync::Mutex<std::collections::HashMap<i64, i64>>>,
}

/// A registered, logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The user's id.
    pub id: i64,
    /// The (normalised) email.
    pub email: String,
    /// The password.
    pub password: String,
    /// A valid access token.
    pub token: String,
}

impl TestApp {
    /// Starts the app on `store` with the test defaults.
    pub async fn spawn(store: StoreKind) -> Option<Self> {
        Self::spawn_with(store, no_tweak).await
    }

    /// Starts the app on `store`, with `tweak` applied to the test
    /// configuration. `None` when `store` is Postgres and `DATABASE_URL` is
    /// not set (and `REQUIRE_POSTGRES` is not `1`).
    pub async fn spawn_with(store: StoreKind, tweak: Tweak) -> Option<Self> {
        let database = match store {
            StoreKind::Memory => None,
            StoreKind::Postgres => Some(TestDb::create().await?),
        };
        let mut config = Config {
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.into()),
            ..support::config(store, database.as_ref().map(|db| db.url.clone()), SECRET)
        };
        if let Some(db) = database
            .as_ref()
            .filter(|_| support::pgbouncer::requested())
        {
            through_pgbouncer(&mut config, db).await;
        }
        tweak(&mut config);
        let clock = support::whole_second_clock();
        let running = match app::start(&config, Arc::new(clock.clone())).await {
            Ok(running) => running,
            Err(e) => {
                if let Some(db) = &database {
                    db.drop().await;
                }
                panic!("the app did not start on {store:?}: {e}");
            }
        };
        let addr = running.addr();
        // No redirects: a test asserts the answer itself.
        let client = support::http_client(reqwest::redirect::Policy::none());
        Some(Self {
            base: format!("http://{addr}"),
            addr,
            client,
            clock,
            secret: config
                .jwt_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned())
                .unwrap_or_default(),
            config,
            store,
            database,
            running: Some(running),
            next_user: Arc::new(AtomicUsize::new(1)),
            sessions: Arc::default(),
        })
    }

    /// Another instance sharing this one's store (and clock): on Postgres
    /// a second app started on the same database (what a restart or a
    /// second replica sees), in memory a second server over the same
    /// service. `tweak` changes its configuration; start-up tasks (the
    /// configured admin) run only on Postgres.
    pub async fn spawn_sibling(&self, tweak: Tweak) -> TestApp {
        self.try_spawn_sibling(tweak)
            .await
            .unwrap_or_else(|e| panic!("the sibling did not start on {:?}: {e}", self.store))
    }

    /// [`Self::spawn_sibling`], or why it refused to start.
    pub async fn try_spawn_sibling(&self, tweak: Tweak) -> Result<TestApp, app::StartError> {
        let mut config = self.config.clone();
        tweak(&mut config);
        let running = match (self.store, &self.running) {
            (StoreKind::Memory, Some(running)) => {
                app::start_with(&config, running.service().clone()).await
            }
            _ => app::start(&config, Arc::new(self.clock.clone())).await,
        }?;
        let addr = running.addr();
        Ok(TestApp {
            base: format!("http://{addr}"),
            addr,
            client: self.client.clone(),
            clock: self.clock.clone(),
            secret: config
                .jwt_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned())
                .unwrap_or_default(),
            config,
            store: self.store,
            // The first instance owns the database.
            database: None,
            running: Some(running),
            next_user: self.next_user.clone(),
            sessions: self.sessions.clone(),
        })
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("the server stops cleanly");
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request builder for `method` on `path`.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends a request and reads the whole response.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        send_request(request).await
    }

    /// Sends all `requests` at once (each from its own task, released
    /// together by a barrier); the responses in the same order.
    pub async fn send_concurrently(&self, requests: Vec<reqwest::RequestBuilder>) -> Vec<Resp> {
        let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|request| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    send_request(request).await
                })
            })
            .collect();
        let mut responses = Vec::with_capacity(tasks.len());
        for task in tasks {
            responses.push(task.await.expect("request task"));
        }
        responses
    }

    /// `GET path` without a token.
    pub async fn get_anon(&self, path: &str) -> Resp {
        self.send(self.request(Method::GET, path)).await
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::GET, path).bearer_auth(token))
            .await
    }

    /// `POST path` with a JSON body and a bearer token.
    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(
            self.request(Method::POST, path)
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `PUT path` with a JSON body and a bearer token.
    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(
            self.request(Method::PUT, path)
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `PATCH path` with a JSON body and a bearer token.
    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.send(
            self.request(Method::PATCH, path)
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(self.request(Method::DELETE, path).bearer_auth(token))
            .await
    }

    /// `POST /users`.
    pub async fn register(&self, email: &str, password: &str) -> Resp {
        let body = json!({ "email": email, "password": password });
        self.send(self.request(Method::POST, "/users").json(&body))
            .await
    }

    /// `POST /users`, which must answer 201; the `UserOut`.
    pub async fn register_ok(&self, email: &str, password: &str) -> Value {
        let user = self.register(email, password).await.json_status(201);
        assert_user_out(&user);
        user
    }

    /// `POST /login` with the OAuth2 password form.
    pub async fn login(&self, email: &str, password: &str) -> Resp {
        let form = [("username", email), ("password", password)];
        self.send(self.request(Method::POST, "/login").form(&form))
            .await
    }

    /// `POST /login` with a JSON body.
    pub async fn login_json(&self, email: &str, password: &str) -> Resp {
        let body = json!({ "username": email, "password": password });
        self.send(self.request(Method::POST, "/login").json(&body))
            .await
    }

    /// Logs in (form), which must succeed; the access token.
    pub async fn login_ok(&self, email: &str, password: &str) -> String {
        let body = self.login(email, password).await.json_status(200);
        let token = body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access_token in {body}"))
            .to_owned();
        let (_, claims) = decode_unverified(&token);
        let id = |name: &str| -> i64 {
            claims[name]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0)
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.insert(id("sub"), id("sid"));
        token
    }

    /// Registers `<name>-<n>@example.com` with [`PASSWORD`] and logs in.
    pub async fn user(&self, name: &str) -> TestUser {
        let n = self.next_user.fetch_add(1, Ordering::Relaxed);
        let email = format!("{name}-{n}@example.com");
        let user = self.register_ok(&email, PASSWORD).await;
        let token = self.login_ok(&email, PASSWORD).await;
        TestUser {
            id: id_of(&user),
            email,
            password: PASSWORD.into(),
            token,
        }
    }

    /// The start-up admin, logged in.
    pub async fn admin(&self) -> TestUser {
        let token = self.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let profile = self.get("/profile", &token).await.json_status(200);
        assert_eq!(
            profile["user"]["role"], "admin",
            "the start-up admin: {profile}"
        );
        TestUser {
            id: id_of(&profile["user"]),
            email: ADMIN_EMAIL.into(),
            password: ADMIN_PASSWORD.into(),
            token,
        }
    }

    /// `POST /posts`, which must answer 201; the post.
    pub async fn create_post(
        &self,
        token: &str,
        title: &str,
        content: &str,
        published: bool,
    ) -> Value {
        let body = json!({ "title": title, "content": content, "published": published });
        let post = self
            .post_json("/posts", token, &body)
            .await
            .json_status(201);
        assert_post(&post);
        assert_eq!(post["title"], title);
        assert_eq!(post["published"], published);
        post
    }

    /// A published post's id.
    pub async fn post(&self, token: &str, title: &str) -> i64 {
        id_of(&self.create_post(token, title, "some content", true).await)
    }

    /// A draft's id.
    pub async fn draft(&self, token: &str, title: &str) -> i64 {
        id_of(&self.create_post(token, title, "draft content", false).await)
    }

    /// `POST /vote`.
    pub async fn vote(&self, token: &str, post_id: i64, dir: i64) -> Resp {
        self.post_json("/vote", token, &json!({ "post_id": post_id, "dir": dir }))
            .await
    }

    /// `GET /posts/{id}`'s vote count, seen by `token`.
    pub async fn votes_of(&self, token: &str, post_id: i64) -> i64 {
        let post = self
            .get(&format!("/posts/{post_id}"), token)
            .await
            .json_status(200);
        post["votes"]
            .as_i64()
            .unwrap_or_else(|| panic!("no votes in {post}"))
    }

    /// The ids `GET path` lists, in order.
    pub async fn list_ids(&self, path: &str, token: &str) -> Vec<i64> {
        let list = self.get(path, token).await.json_status(200);
        list.as_array()
            .unwrap_or_else(|| panic!("{path} is not a list: {list}"))
            .iter()
            .map(id_of)
            .collect()
    }

    /// Walks a list from `first` by its `Link: <...>; rel="next"` headers
    /// as a client would, asserting that exactly the full pages (`limit`
    /// items) carry one; every id seen, in order.
    pub async fn walk_links(&self, first: &str, token: &str, limit: usize) -> Vec<i64> {
        let mut seen = Vec::new();
        let mut next = Some(first.to_owned());
        while let Some(path) = next.take() {
            let resp = self.get(&path, token).await;
            let page = resp.json_status(200);
            let page = page
                .as_array()
                .unwrap_or_else(|| panic!("{path} is not a list: {page}"));
            seen.extend(page.iter().map(id_of));
            next = resp.next_link();
            assert_eq!(
                next.is_some(),
                page.len() == limit,
                "{path}: {} items, Link {:?}",
                page.len(),
                resp.header("link")
            );
            assert!(seen.len() <= 10_000, "the walk does not end");
        }
        seen
    }

    /// The clock's time as a Unix timestamp.
    pub fn now(&self) -> i64 {
        self.clock_now().unix_timestamp()
    }

    /// The clock's time.
    pub fn clock_now(&self) -> OffsetDateTime {
        use posts_api::ports::Clock;
        self.clock.now()
    }

    /// Claims for `user_id` that the service would issue now.
    pub fn claims(&self, user_id: i64) -> Value {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let session = sessions.get(&user_id).copied().unwrap_or(1);
        json!({
            "sub": user_id.to_string(),
            "sid": session.to_string(),
            "iat": self.now(),
            "exp": self.now() + 1800,
            "jti": uuid::Uuid::new_v4().simple().to_string(),
        })
    }

    /// A token over `claims`, signed like the service signs (HS256, this
    /// app's secret, its `kid`).
    pub fn forge(&self, claims: &Value) -> String {
        sign(claims, &self.secret, Algorithm::HS256)
    }

    /// Sends raw bytes over a fresh connection (for exact sizes and chunked
    /// bodies), `Connection: close`.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        chunked: bool,
    ) -> Resp {
        raw_request(self.addr, method, path, headers, body, chunked).await
    }
}

/// Sends a request and reads the whole response.
pub async fn send_request(request: reqwest::RequestBuilder) -> Resp {
    let response = request.send().await.expect("the request gets a response");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response
        .text()
        .await
        .expect("the response body is readable");
    Resp {
        status,
        headers,
        text,
    }
}

/// A token over `claims`, signed with `secret` by `alg`, with that key's `kid`.
pub fn sign(claims: &Value, secret: &str, alg: Algorithm) -> String {
    sign_with_kid(claims, secret, alg, Some(key_id(secret)))
}

/// A token over `claims`, signed with `secret` by `alg`, with header `kid`.
pub fn sign_with_kid(claims: &Value, secret: &str, alg: Algorithm, kid: Option<String>) -> String {
    let header = Header {
        kid,
        ..Header::new(alg)
    };
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing a test token")
}

/// A JWT's header and claims, unverified.
pub fn decode_unverified(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    let part = |s: &str| -> Value {
        let bytes = URL_SAFE_NO_PAD.decode(s).expect("base64url JWT part");
        serde_json::from_slice(&bytes).expect("JSON JWT part")
    };
    (part(parts[0]), part(parts[1]))
}

/// Base64url without padding, as JWTs use.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `"id"` of a JSON object.
#[track_caller]
pub fn id_of(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no integer id in {value}"))
}

/// The keys of a JSON object.
#[track_caller]
pub fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// A set of string literals.
pub fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// Asserts an RFC 3339 timestamp with an offset.
#[track_caller]
pub fn assert_timestamp(value: &Value) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {value}"));
    OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("{s:?} is not RFC 3339: {e}"));
}

/// Asserts the exact shape of a `UserOut`.
#[track_caller]
pub fn assert_user_out(user: &Value) {
    assert_eq!(keys(user), set(support::USER_FIELDS), "UserOut: {user}");
    assert!(
        user["id"].as_i64().is_some_and(|id| id > 0),
        "positive id: {user}"
    );
    assert!(user["email"].is_string(), "{user}");
    assert!(
        user["role"] == "user" || user["role"] == "admin",
        "role: {user}"
    );
    assert_timestamp(&user["created_at"]);
}

/// Asserts the exact shape of a `Post`.
#[track_caller]
pub fn assert_post(post: &Value) {
    assert_eq!(keys(post), set(support::POST_FIELDS), "Post: {post}");
    assert!(
        post["id"].as_i64().is_some_and(|id| id > 0),
        "positive id: {post}"
    );
    assert!(
        post["title"].is_string() && post["content"].is_string(),
        "{post}"
    );
    assert!(post["published"].is_boolean(), "{post}");
    assert!(post["votes"].as_i64().is_some_and(|v| v >= 0), "{post}");
    assert_timestamp(&post["created_at"]);
    assert_user_out(&post["owner"]);
    assert_eq!(
        post["owner_id"], post["owner"]["id"],
        "owner_id is the owner's id: {post}"
    );
}

/// A whole HTTP response.
#[derive(Debug)]
pub struct Resp {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
}

impl Resp {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The target of a `Link: <target>; rel="next"` header, if any.
    pub fn next_link(&self) -> Option<String> {
        let link = self.header("link")?;
        let target = link
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("not a next link: {link:?}"));
        Some(target.to_owned())
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "unexpected status; body: {}",
            self.text
        );
        self
    }

    /// Asserts the status and a JSON body; the body.
    #[track_caller]
    pub fn json_status(&self, expected: u16) -> Value {
        self.assert_status(expected);
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "Content-Type {content_type:?}; body: {}",
            self.text
        );
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts an error response of `status` in the contract's shape
    /// (JSON, exactly `{"detail": string}`, `WWW-Authenticate: Bearer` on
    /// 401); the detail.
    #[track_caller]
    pub fn error_detail(&self, status: u16) -> String {
        let body = self.json_status(status);
        assert_eq!(
            keys(&body),
            set(&["detail"]),
            "an error body has only `detail`: {body}"
        );
        if status == 401 {
            let challenge = self
                .header("www-authenticate")
                .unwrap_or_else(|| panic!("401 without WWW-Authenticate: {body}"));
            let scheme = challenge.split_whitespace().next().unwrap_or_default();
            assert!(
                scheme.eq_ignore_ascii_case("bearer"),
                "WWW-Authenticate {challenge:?}"
            );
        }
        body["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("detail is not a string: {body}"))
            .to_owned()
    }

    /// Asserts an error of `status` with exactly `detail`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, detail: &str) {
        assert_eq!(self.error_detail(status), detail);
    }

    /// Asserts a 422 whose detail names `field`.
    #[track_caller]
    pub fn assert_invalid(&self, field: &str) {
        let detail = self.error_detail(422);
        assert!(
            detail.contains(field),
            "the 422 detail {detail:?} should name `{field}`"
        );
    }
}

/// Sends one HTTP/1.1 request over a fresh TCP connection and reads the
/// response until the server closes it. The body is sent with a
/// `Content-Length`, or chunked (64 KiB chunks), from a separate task so a
/// server that answers early is not blocked by the client.
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    chunked: bool,
) -> Resp {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    }
    let write = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        if chunked {
            for chunk in body.chunks(64 * 1024) {
                writer
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                writer.write_all(chunk).await?;
                writer.write_all(b"\r\n").await?;
            }
            writer.write_all(b"0\r\n\r\n").await?;
        } else {
            writer.write_all(&body).await?;
        }
        writer.flush().await?;
        // Keep the write half open until the server closes the connection.
        std::future::pending::<()>().await;
        Ok::<(), std::io::Error>(())
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read = async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(StdDuration::from_secs(60), read)
        .await
        .expect("the server answers and closes in time");
    write.abort();
    parse_response(&raw)
}

/// Parses a raw HTTP/1.1 response (with a `Content-Length`, chunked, or
/// delimited by the close).
fn parse_response(raw: &[u8]) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| {
            panic!(
                "no complete response head in {:?}",
                String::from_utf8_lossy(raw)
            )
        });
    let head = std::str::from_utf8(&raw[..end]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
                .expect("header name");
            let value = reqwest::header::HeaderValue::from_str(value.trim()).expect("header value");
            headers.append(name, value);
        }
    }
    let mut body = raw[end + 4..].to_vec();
    let is_chunked = headers
        .get("transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    if is_chunked {
        body = dechunk(&body);
    } else if let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Resp {
        status: StatusCode::from_u16(code).expect("status code"),
        headers,
        text: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Decodes a chunked body.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&data[..eol]).unwrap_or("0");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let stop = (start + size).min(data.len());
        out.extend_from_slice(&data[start..stop]);
        data = &data[(stop + 2).min(data.len())..];
    }
    out
}
