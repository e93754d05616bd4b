//! The logs and metrics keep no secrets: the real binary, logging JSON at
//! debug level, is taken through every route (successes and failures of
//! registration, login, tokens, refresh tokens and sessions, posts, votes
//! and administration), and then everything it printed and everything
//! `/metrics` shows is searched for the emails, passwords, tokens (whole or
//! any segment), refresh tokens (issued, rotated, spent and presented
//! again, or made up), password hashes and `Authorization` headers it saw. Also checks the access log line itself:
//! one JSON object per request with method, route template, status, latency
//! and request id.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, Stdio};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const ADMIN_EMAIL: &str = "Root.Admin@Example.com";
const ADMIN_PASSWORD: &str = "admin-Secret-Pass-42";
const EMAIL: &str = "Alice.Secret@Example.org";
const PASSWORD: &str = "alice-Secret-Pass-17";
const WRONG_PASSWORD: &str = "not-alice-Pass-99";
const NEW_PASSWORD: &str = "alice-New-Secret-Pass-23";
/// A refresh token nobody issued, presented anyway.
const MADE_UP: &str = "made-up-Refresh-Secret-0123456789abcdef";

/// The binary, logging JSON at debug level to a pipe, its log reader
/// (past the ready line, which it also returns) and its base URL.
// The caller waits for the child; only a failed test leaves it behind.
#[allow(clippy::zombie_processes)]
fn start() -> (Child, BufReader<ChildStdout>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_posts-api"))
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .env("JWT_SECRET", "log-test-signing-key-0123456789abcdef")
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut seen = String::new();
    loop {
        let before = seen.len();
        if stdout.read_line(&mut seen).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the binary exited before it was ready:\n{seen}");
        }
        if let Some(rest) = seen[before..].split("listening on http://").nth(1) {
            let addr = rest
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .expect("an address");
            let base = format!("http://{addr}");
            return (child, stdout, seen, base);
        }
    }
}

struct Session {
    client: Client,
    base: String,
    /// Every token the service handed out.
    tokens: Vec<String>,
    /// Every refresh token the service handed out.
    refresh: Vec<String>,
}

impl Session {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("x-request-id", "log-test-request");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("a response");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn login(&mut self, email: &str, password: &str) -> (StatusCode, Option<String>) {
        let response = self
            .client
            .post(format!("{}/login", self.base))
            .form(&[("username", email), ("password", password)])
            .send()
            .await
            .expect("a response");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        self.keep(&body);
        (status, body["access_token"].as_str().map(str::to_owned))
    }

    /// Remembers the tokens of a token answer, if it is one.
    fn keep(&mut self, body: &Value) {
        if let Some(t) = body["access_token"].as_str() {
            self.tokens.push(t.to_owned());
        }
        if let Some(t) = body["refresh_token"].as_str() {
            self.refresh.push(t.to_owned());
        }
    }

    /// The refresh grant with `token`, as a form or as JSON: the status
    /// and the new tokens (access, refresh), if any.
    async fn refresh(&mut self, token: &str, json: bool) -> (StatusCode, Option<(String, String)>) {
        let request = self.client.post(format!("{}/login", self.base));
        let request = if json {
            request.json(&json!({ "grant_type": "refresh_token", "refresh_token": token }))
        } else {
            request.form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        };
        let response = request.send().await.expect("a response");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        self.keep(&body);
        let pair = body["access_token"]
            .as_str()
            .zip(body["refresh_token"].as_str())
            .map(|(a, r)| (a.to_owned(), r.to_owned()));
        (status, pair)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_or_a_metric_label() {
    use reqwest::Method;
    let (mut child, mut stdout, mut log, base) = start();
    let mut s = Session {
        client: Client::new(),
        base,
        tokens: Vec::new(),
        refresh: Vec::new(),
    };

    // Registration: success, duplicate, invalid email, short password.
    let (status, alice) = s
        .send(
            Method::POST,
            "/users",
            None,
            Some(json!({ "email": EMAIL, "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let alice_id = alice["id"].as_i64().expect("an id");
    for body in [
        json!({ "email": EMAIL, "password": PASSWORD }),
        json!({ "email": "no-at-sign.secret", "password": PASSWORD }),
        json!({ "email": "bob.secret@example.org", "password": "short" }),
    ] {
        let (status, _) = s.send(Method::POST, "/users", None, Some(body)).await;
        assert!(status.is_client_error());
    }

    // Logins: wrong password, unknown email, JSON, form.
    assert_eq!(
        s.login(EMAIL, WRONG_PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.login("nobody.secret@example.org", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = s
        .send(
            Method::POST,
            "/login",
            None,
            Some(json!({ "username": EMAIL, "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["refresh_token"].is_string(), "{body}");
    s.keep(&body);
    let token = s.login(EMAIL, PASSWORD).await.1.expect("a token");
    let admin = s
        .login(ADMIN_EMAIL, ADMIN_PASSWORD)
        .await
        .1
        .expect("a token");

    // Posts and votes, including failures.
    let (status, post) = s
        .send(
            Method::POST,
            "/posts",
            Some(&token),
            Some(json!({ "title": "t", "content": "c" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = post["id"].as_i64().expect("an id");
    let calls = [
        (Method::GET, format!("/posts/{id}"), None),
        (Method::GET, "/posts?search=secret&limit=5".to_owned(), None),
        (
            Method::PUT,
            format!("/posts/{id}"),
            Some(json!({ "title": "t2", "content": "c2" })),
        ),
        (
            Method::POST,
            "/vote".to_owned(),
            Some(json!({ "post_id": id, "dir": 1 })),
        ),
        (
            Method::POST,
            "/vote".to_owned(),
            Some(json!({ "post_id": id, "dir": 1 })),
        ),
        (Method::GET, "/profile".to_owned(), None),
        (Method::GET, "/posts/999".to_owned(), None),
        (
            Method::POST,
            "/posts".to_owned(),
            Some(json!({ "title": "", "content": "c" })),
        ),
    ];
    for (method, path, body) in calls {
        s.send(method, &path, Some(&token), body).await;
    }

    // Administration.
    s.send(Method::GET, "/users", Some(&admin), None).await;
    s.send(
        Method::PATCH,
        &format!("/users/{alice_id}/role"),
        Some(&admin),
        Some(json!({ "role": "admin" })),
    )
    .await;

    // Sessions: refresh (form and JSON), reuse of a spent refresh token
    // (which ends the session), a made-up one, listing, ending one,
    // password changes (wrong and right), logout everywhere.
    let (_, first) = s.login(EMAIL, PASSWORD).await;
    let first = first.expect("a token");
    let spent = s.refresh.last().expect("a refresh token").clone();
    let (status, pair) = s.refresh(&spent, false).await;
    assert_eq!(status, StatusCode::OK);
    let (access, rotated) = pair.expect("new tokens");
    let (status, pair) = s.refresh(&rotated, true).await;
    assert_eq!(status, StatusCode::OK);
    let (_, rotated) = pair.expect("new tokens");
    for (token, json) in [
        (&spent, false),
        (&rotated, true),
        (&MADE_UP.to_owned(), false),
    ] {
        assert_eq!(s.refresh(token, json).await.0, StatusCode::UNAUTHORIZED);
    }
    for dead in [&first, &access] {
        assert_eq!(
            s.send(Method::GET, "/profile", Some(dead), None).await.0,
            StatusCode::UNAUTHORIZED,
            "reuse ended the session"
        );
    }
    let (status, listed) = s.send(Method::GET, "/sessions", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    let other = listed
        .as_array()
        .expect("a list")
        .iter()
        .find(|x| x["current"] == false)
        .and_then(|x| x["id"].as_i64())
        .expect("another session");
    s.send(Method::GET, "/users/me", Some(&token), None).await;
    s.send(
        Method::DELETE,
        &format!("/sessions/{other}"),
        Some(&token),
        None,
    )
    .await;
    let cur = s.login(EMAIL, PASSWORD).await.1.expect("a token");
    let cur_refresh = s.refresh.last().expect("a refresh token").clone();
    let change =
        |current: &str| json!({ "current_password": current, "new_password": NEW_PASSWORD });
    assert_eq!(
        s.send(
            Method::PUT,
            "/users/me/password",
            Some(&cur),
            Some(change(WRONG_PASSWORD))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.send(
            Method::PUT,
            "/users/me/password",
            Some(&cur),
            Some(change(PASSWORD))
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let (_, pair) = s.refresh(&cur_refresh, false).await;
    let (status, _) = s.login(EMAIL, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let (refreshed, _) = pair.expect("the current session goes on");
    assert_eq!(
        s.send(Method::POST, "/logout/all", Some(&refreshed), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    // The user logs in again (for what follows).
    let token = s.login(EMAIL, NEW_PASSWORD).await.1.expect("a token");

    // Bad, revoked and orphaned tokens.
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        s.send(Method::GET, "/posts", Some(&tampered), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.send(Method::POST, "/logout", Some(&token), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.send(Method::GET, "/posts", Some(&token), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let last = s.tokens[0].clone();
    s.send(
        Method::DELETE,
        &format!("/users/{alice_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        s.send(Method::GET, "/profile", Some(&last), None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let metrics = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");

    // Stop, and read everything the process printed.
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(stopped.success());
    stdout.read_to_string(&mut log).expect("the log");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("the log");
    let exit = child.wait().expect("exit");
    assert!(exit.success(), "{exit:?}");

    let mut secrets: Vec<String> = vec![
        EMAIL.into(),
        EMAIL.to_lowercase(),
        ADMIN_EMAIL.into(),
        ADMIN_EMAIL.to_lowercase(),
        "bob.secret@example.org".into(),
        "nobody.secret@example.org".into(),
        "no-at-sign.secret".into(),
        PASSWORD.into(),
        ADMIN_PASSWORD.into(),
        WRONG_PASSWORD.into(),
        NEW_PASSWORD.into(),
        MADE_UP.into(),
        "log-test-signing-key".into(),
        "$2b$".into(),
        "Bearer".into(),
    ];
    for token in s.tokens.iter().chain([&admin, &tampered]) {
        secrets.push(token.clone());
        // The payload and signature segments (the header is shared by all).
        secrets.extend(token.split('.').skip(1).map(str::to_owned));
    }
    assert!(s.refresh.len() >= 6, "{} refresh tokens", s.refresh.len());
    secrets.extend(s.refresh.iter().cloned());
    for (name, text) in [("the log", &log), ("/metrics", &metrics)] {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{name} holds a secret {secret:?}:\n{text}"
            );
        }
    }

    // The access log: one JSON object per request, with what operators need.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let access: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(access.len() >= 20, "{} access lines", access.len());
    for line in &access {
        for field in ["method", "route", "status", "latency_ms", "request_id"] {
            assert!(!line[field].is_null(), "no {field} in {line}");
        }
    }
    assert!(
        access
            .iter()
            .any(|l| l["route"] == "/posts/{id}" && l["request_id"] == "log-test-request"),
        "route templates and request ids are logged"
    );
    assert!(metrics.contains(r#"route="/posts/{id}""#), "{metrics}");
}
