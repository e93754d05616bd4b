//! Helpers for the Postgres-only tests (`tests/postgres_*.rs`): a fresh
//! database per test on the server at `DATABASE_URL`, the store or the
//! whole app over it, and a small HTTP client.
//!
//! Without `DATABASE_URL` the tests print "skipped" and pass, unless
//! `REQUIRE_POSTGRES=1`, when they fail (as in `tests/common`).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub mod proxy;

use std::sync::Arc;
use std::time::Duration;

use posts_api::adapters::clock::ManualClock;
use posts_api::adapters::postgres::{PgSettings, PgStore};
use posts_api::app::{self, RunningApp};
use posts_api::config::{Config, StoreKind};
use posts_api::domain::{
    EmailAddress, NewPost, NewUser, PasswordHash, PostContent, PostTitle, Role, UserId,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The signing key of every app started here.
pub const SECRET: &str = "postgres-tests-secret-0123456789abcdef";
/// The password users register with.
pub const PASSWORD: &str = "correct horse battery";

/// A fresh database on the test server, dropped by [`TestDb::drop`].
#[derive(Debug, Clone)]
pub struct TestDb {
    /// The server's URL (`DATABASE_URL`).
    pub admin_url: String,
    /// The database's name.
    pub name: String,
    /// The database's URL.
    pub url: String,
}

impl TestDb {
    /// Creates `posts_test_<uuid>`; `None` (skip) without `DATABASE_URL`.
    pub async fn create() -> Option<Self> {
        let admin_url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                assert!(
                    std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "REQUIRE_POSTGRES=1 but DATABASE_URL is not set"
                );
                println!("skipped: DATABASE_URL not set");
                return None;
            }
        };
        let name = format!("posts_test_{}", uuid::Uuid::new_v4().simple());
        let client = connect(&admin_url).await;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    /// A direct connection to this database.
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// Drops the database (disconnecting everyone), ignoring failures.
    pub async fn drop(self) {
        let client = connect(&self.admin_url).await;
        let _ = client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

/// A connection to `url` whose driver task runs in the background.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test server: {e}"));
    tokio::spawn(connection);
    client
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let start = url
        .find("://")
        .map(|i| i + 3)
        .expect("DATABASE_URL must be a postgres:// URL");
    let rest = &url[start..];
    let (location, query) = rest.split_at(rest.find('?').unwrap_or(rest.len()));
    let authority = location.split('/').next().unwrap_or(location);
    format!("{}{authority}/{database}{query}", &url[..start])
}

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

/// A manual clock at the current second (the store keeps microseconds).
pub fn clock() -> ManualClock {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns is valid");
    ManualClock::new(now)
}

/// Store settings for `url` with a short timeout.
pub fn settings(url: &str) -> PgSettings {
    PgSettings {
        url: url.to_owned(),
        pool_size: 4,
        timeout: Duration::from_secs(2),
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
        store: StoreKind::Postgres,
        database_url: Some(url.into()),
        database_pool_size: 4,
        database_timeout_seconds: 2,
        bind_addr: "127.0.0.1:0".into(),
        jwt_secret: Some(SECRET.into()),
        bcrypt_cost: 4,
        rust_log: "warn".into(),
        ..Config::default()
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

/// A tiny HTTP client for one app.
#[derive(Clone)]
pub struct Http {
    base: String,
    client: reqwest::Client,
}

impl Http {
    /// A client for the app at `running`.
    pub fn new(running: &RunningApp) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
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
        let form = [("username", email), ("password", PASSWORD)];
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .form(&form)
            .send()
            .await
            .expect("a login response");
        assert_eq!(response.status(), StatusCode::OK, "login {email}");
        let body: Value = response.json().await.expect("a JSON login body");
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
