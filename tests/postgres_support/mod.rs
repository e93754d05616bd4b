//! Helpers for the Postgres-only tests (`tests/postgres_*.rs`): the store
//! or the whole app over a fresh database, a small HTTP client, and a
//! fault proxy.
//!
//! The fresh database and the skip rule are `tests/support/db.rs`'s
//! ([`TestDb`]): without `DATABASE_URL` the tests print "skipped" and
//! pass, unless `REQUIRE_POSTGRES=1`, when they fail.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod proxy;
#[path = "../support/mod.rs"]
mod support;

pub use support::db::TestDb;
/// A manual clock at the current whole second (the store keeps
/// microseconds, so times read back compare equal).
// Like the helpers below, unused by some of the test binaries.
#[allow(unused_imports)]
pub use support::whole_second_clock as clock;

use std::sync::Arc;
use std::time::Duration;

use posts_api::adapters::clock::ManualClock;
use posts_api::adapters::postgres::{PgSettings, PgStore};
use posts_api::app::{self, RunningApp};
use posts_api::config::{Config, DatabasePooler, StoreKind};
use posts_api::domain::{
    EmailAddress, NewPost, NewUser, PasswordHash, PostContent, PostTitle, Role, UserId,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The signing key of every app started here.
pub const SECRET: &str = "postgres-tests-secret-0123456789abcdef";
/// The password users register with.
pub const PASSWORD: &str = "correct horse battery";

/// The TCP address of the server at `url` (for the fault proxy).
pub fn server_addr(url: &str) -> std::net::SocketAddr {
    let config: tokio_postgres::Config = url.parse().expect("a valid DATABASE_URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = if host == "localhost" {
        "127.0.0.1".to_owned()
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .expect("DATABASE_URL names a TCP host by IP or localhost")
}

/// `url` with its port replaced by `port` (for the fault proxy).
pub fn with_port(url: &str, port: u16) -> String {
    let start = url.find("://").map(|i| i + 3).expect("a postgres:// URL");
    let rest = &url[start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_port = &authority[host_start..];
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host);
    format!(
        "{}{}{host}:{port}{}",
        &url[..start],
        &authority[..host_start],
        &rest[end..]
    )
}

/// A user to create (role `user`, a dummy hash).
pub fn new_user(email: &str) -> NewUser {
    NewUser {
        email: EmailAddress::parse(email).expect("a valid email"),
        password_hash: PasswordHash::new("$2b$04$hash".into()),
        role: Role::User,
    }
}

/// A post to create.
pub fn new_post(owner: UserId, title: &str, published: bool) -> NewPost {
    NewPost {
        owner_id: owner,
        title: PostTitle::parse(title).expect("a valid title"),
        content: PostContent::parse("content").expect("valid content"),
        published,
    }
}

/// Store settings for `url` with a short timeout.
pub fn settings(url: &str) -> PgSettings {
    PgSettings {
        url: url.to_owned(),
        pool_size: 4,
        timeout: Duration::from_secs(2),
        transaction_pooler: false,
    }
}

/// The store over `url`, migrated.
pub async fn open_store(url: &str, clock: &ManualClock) -> PgStore {
    let store = PgStore::connect(&settings(url), Arc::new(clock.clone()))
        .await
        .expect("the store connects");
    store.migrate().await.expect("the migrations apply");
    store
}

/// A fresh migrated database holding `seed` (SQL), analysed, and a direct
/// connection to it: what a plan test reads its `EXPLAIN`s on. `None`
/// (skip) without `DATABASE_URL`.
pub async fn seeded_and_analysed(seed: &str) -> Option<(TestDb, tokio_postgres::Client)> {
    let db = TestDb::create().await?;
    drop(open_store(&db.url, &clock()).await);
    let client = db.client().await;
    client.batch_execute(seed).await.expect("seed");
    client
        .batch_execute("VACUUM ANALYZE")
        .await
        .expect("VACUUM ANALYZE");
    Some((db, client))
}

/// The app on Postgres at `url`: bcrypt cost 4, a 2 s database timeout.
pub async fn start_app(url: &str) -> RunningApp {
    app::start(
        &config(url),
        Arc::new(posts_api::adapters::clock::SystemClock),
    )
    .await
    .unwrap_or_else(|e| panic!("the app did not start: {e}"))
}

/// The configuration of the test apps on Postgres at `url`.
fn config(url: &str) -> Config {
    Config {
        database_pool_size: 4,
        database_timeout_seconds: 2,
        ..support::config(StoreKind::Postgres, Some(url.to_owned()), SECRET)
    }
}

/// The app on Postgres at `url` as [`start_app`] starts it, but on `clock`
/// and with `tweak` applied to its configuration first.
pub async fn start_app_with(
    url: &str,
    clock: &ManualClock,
    tweak: impl FnOnce(&mut Config),
) -> RunningApp {
    let mut config = config(url);
    tweak(&mut config);
    app::start(&config, Arc::new(clock.clone()))
        .await
        .unwrap_or_else(|e| panic!("the app did not start: {e}"))
}

/// How the apps of a test reach the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Connected to PostgreSQL; each app migrates at start-up.
    Direct,
    /// Through the shared PgBouncer in transaction mode, with
    /// `DATABASE_POOLER=transaction`; the database is migrated directly
    /// first (what `posts-api migrate` does in production).
    Pgbouncer,
}

impl Via {
    /// Readies `db` for apps reached this way: the URL they connect to;
    /// `None` (skip) when PgBouncer is not installed (see
    /// `support::pgbouncer::shared`).
    pub async fn prepare(self, db: &TestDb) -> Option<String> {
        match self {
            Via::Direct => Some(db.url.clone()),
            Via::Pgbouncer => {
                let bouncer = support::pgbouncer::shared()?;
                open_store(&db.url, &clock()).await;
                Some(bouncer.url(&db.url))
            }
        }
    }

    /// The app on `url` (from [`Self::prepare`]), as [`start_app`] starts it.
    pub async fn start_app(self, url: &str) -> RunningApp {
        let pooler = match self {
            Via::Direct => DatabasePooler::None,
            Via::Pgbouncer => DatabasePooler::Transaction,
        };
        let mut config = config(url);
        config.database_pooler = pooler;
        app::start(&config, Arc::new(posts_api::adapters::clock::SystemClock))
            .await
            .unwrap_or_else(|e| panic!("the app did not start {self:?}: {e}"))
    }
}

/// A tiny HTTP client for one app.
#[derive(Clone)]
pub struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    /// A client for the app at `running`.
    pub fn new(running: &RunningApp) -> Self {
        // Redirects followed (reqwest's default), as these tests always had.
        let client = support::http_client(reqwest::redirect::Policy::default());
        Self {
            base: format!("http://{}", running.addr()),
            client,
        }
    }

    /// Sends `method path` with an optional token and JSON body; the
    /// status and the body as JSON (`Null` when empty).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: no response: {e}"));
        let status = response.status();
        let text = response.text().await.expect("a readable body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, token, Some(&body))
            .await
    }

    /// Registers `email` (must succeed); the user's id.
    pub async fn register(&self, email: &str) -> i64 {
        let (status, user) = self
            .post(
                "/users",
                None,
                json!({ "email": email, "password": PASSWORD }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {email}: {user}");
        user["id"].as_i64().expect("an id")
    }

    /// Logs `email` in (must succeed); the token.
    pub async fn login(&self, email: &str) -> String {
        let (status, _, body) = self.try_login(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "login {email}: {body}");
        body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Tries to log `email` in with `password` (a form): the status, the
    /// `Retry-After` header and the body as JSON.
    pub async fn try_login(
        &self,
        email: &str,
        password: &str,
    ) -> (StatusCode, Option<String>, Value) {
        let form = [("username", email), ("password", password)];
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .form(&form)
            .send()
            .await
            .expect("a login response");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("an ASCII Retry-After").to_owned());
        let text = response.text().await.expect("a readable body");
        (
            status,
            retry_after,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// `GET path`: the status and the body as text.
    pub async fn get_text(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: no response: {e}"));
        let status = response.status();
        (status, response.text().await.expect("a readable body"))
    }

    /// Creates a post (must succeed); its id.
    pub async fn create_post(&self, token: &str, title: &str, published: bool) -> i64 {
        let body = json!({ "title": title, "content": "content", "published": published });
        let (status, post) = self.post("/posts", Some(token), body).await;
        assert_eq!(status, StatusCode::CREATED, "create post: {post}");
        post["id"].as_i64().expect("an id")
    }
}
