//! The real binary behind PgBouncer in transaction mode
//! (`DATABASE_POOLER=transaction`): it does not migrate there, refuses to
//! start on a schema that is not current with a message naming
//! `posts-api migrate`, which (run directly) makes it start; and two
//! processes share the pooler's few server connections, which named
//! prepared statements would break (`prepared statement "s0" already
//! exists`).

mod support;

use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::json;
use support::db::TestDb;
use support::pgbouncer;

const SECRET: &str = "pooler-tests-secret-0123456789abcdef";

/// The settings of every run: the database at `url`, behind a pooler or not.
fn env(url: &str, pooler: &str) -> Vec<(&'static str, String)> {
    vec![
        ("STORE", "postgres".into()),
        ("DATABASE_URL", url.into()),
        ("DATABASE_POOLER", pooler.into()),
        ("DATABASE_TIMEOUT_SECONDS", "5".into()),
        ("JWT_SECRET", SECRET.into()),
        ("BCRYPT_COST", "4".into()),
        ("RUST_LOG", "warn,posts_api=info".into()),
    ]
}

/// Runs the binary with `args` and `env` to its end.
fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_posts-api"))
        .args(args)
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the binary runs")
}

/// A serving process, killed when dropped (a failing test leaves none).
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// The binary serving with `env`, and its base URL, once ready.
fn serve(env: &[(&str, String)]) -> (Serving, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (child, addr) = support::binary::start(&env);
    (Serving(child), format!("http://{addr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_pooler_it_starts_only_once_posts_api_migrate_ran() {
    let Some(bouncer) = pgbouncer::shared() else {
        return;
    };
    let Some(db) = TestDb::create().await else {
        return;
    };
    let pooled = bouncer.url(&db.url);

    let refused = run(&[], &env(&pooled, "transaction"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("run `posts-api migrate`"), "{stderr}");
    assert!(
        stderr.contains("pending migrations V1__users, "),
        "{stderr}"
    );

    let through_pooler = run(&["migrate"], &env(&pooled, "transaction"));
    let stderr = String::from_utf8_lossy(&through_pooler.stderr);
    assert_eq!(through_pooler.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("DATABASE_POOLER=none"), "{stderr}");

    let migrated = run(&["migrate"], &env(&db.url, "none"));
    let stdout = String::from_utf8_lossy(&migrated.stdout);
    assert!(migrated.status.success(), "{stdout}");
    assert!(stdout.contains("migration(s): V1__users, "), "{stdout}");

    let (serving, base) = serve(&env(&pooled, "transaction"));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    let registered = client
        .post(format!("{base}/users"))
        .json(&json!({ "email": "ivy@example.com", "password": "correct horse battery" }))
        .send()
        .await
        .unwrap();
    drop(serving);
    db.drop().await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(registered.status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_behind_the_pooler_serve_at_once() {
    let Some(bouncer) = pgbouncer::shared() else {
        return;
    };
    let Some(db) = TestDb::create().await else {
        return;
    };
    let pooled = bouncer.url(&db.url);
    assert!(run(&["migrate"], &env(&db.url, "none")).status.success());
    let (one, a) = serve(&env(&pooled, "transaction"));
    let (two, b) = serve(&env(&pooled, "transaction"));
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    // Interleaved, concurrent requests of both processes over the pooler's
    // four server connections: each statement of each process lands on
    // whichever connection is free.
    let requests = (0..24).map(|i| {
        let base = if i % 2 == 0 { &a } else { &b };
        let request = client.post(format!("{base}/users")).json(
            &json!({ "email": format!("u{i}@example.com"), "password": "correct horse battery" }),
        );
        async move { request.send().await.map(|r| r.status()) }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let login = client
        .post(format!("{b}/login"))
        .form(&[
            ("username", "u0@example.com"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await;
    let login_status = login.as_ref().map(|r| r.status()).ok();
    let token = match login {
        Ok(r) => r.json::<serde_json::Value>().await.ok(),
        Err(_) => None,
    }
    .and_then(|body| body["access_token"].as_str().map(str::to_owned))
    .unwrap_or_default();
    // A keyed title search (the search functions of migration V14, whose
    // plans live in the server connections) from both processes at once,
    // over a post and a draft written through one of them.
    let mut created = Vec::new();
    for (title, published) in [("Pooled kumquat", true), ("Pooled kumquat draft", false)] {
        let response = client
            .post(format!("{a}/posts"))
            .bearer_auth(&token)
            .json(&json!({ "title": title, "content": "c", "published": published }))
            .send()
            .await
            .map(|r| r.status());
        created.push(response.ok());
    }
    let searches = (0..12).map(|i| {
        let base = if i % 2 == 0 { &a } else { &b };
        let request = client
            .get(format!("{base}/posts?search=kumquat"))
            .bearer_auth(&token);
        async move {
            let response = request.send().await.ok()?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.ok()?;
            Some((status, body.as_array().map_or(0, Vec::len)))
        }
    });
    let found = futures_util::future::join_all(searches).await;
    drop((one, two));
    db.drop().await;
    for status in statuses {
        assert_eq!(status.ok(), Some(StatusCode::CREATED));
    }
    assert_eq!(
        login_status,
        Some(StatusCode::OK),
        "registered on one, logged in on the other"
    );
    assert_eq!(created, [Some(StatusCode::CREATED); 2]);
    for answer in found {
        assert_eq!(
            answer,
            Some((StatusCode::OK, 2)),
            "the post and its owner's draft"
        );
    }
}
