//! Upgrading a database from before sessions (Postgres only): a fresh
//! database is taken to the schema of migrations V1..V6 and filled the old
//! way, with SQL (users with bcrypt hashes, posts, votes, a revoked token);
//! the service then starts on it, migrates it to the latest schema, and
//! everything a client had is there through HTTP.

mod postgres_support;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use postgres_support::{Http, SECRET, TestDb, clock, start_app_with};
use posts_api::adapters::jwt::key_id;
use posts_api::adapters::postgres::migrate_to;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The old users' passwords.
const ALICE_PASSWORD: &str = "alice's old password";
const BOB_PASSWORD: &str = "bob's old password";
const ROOT_PASSWORD: &str = "root's old password";

/// Logs in with the form; the status and the body.
async fn login(http: &Http, email: &str, password: &str) -> (StatusCode, Value) {
    let (status, _, body) = http.try_login(email, password).await;
    (status, body)
}

/// Logs in (must succeed); the access token.
async fn token(http: &Http, email: &str, password: &str) -> String {
    let (status, body) = login(http, email, password).await;
    assert_eq!(status, StatusCode::OK, "{email}: {body}");
    assert!(body["refresh_token"].is_string(), "{body}");
    body["access_token"].as_str().expect("a token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_sessions_is_upgraded_with_its_data() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let mut client = db.client().await;
    let applied = migrate_to(&mut client, 6).await.expect("V1..V6 apply");
    assert_eq!(
        applied,
        [
            "V1__users",
            "V2__posts",
            "V3__votes",
            "V4__revoked_tokens",
            "V5__login_failures",
            "V6__admins_index"
        ]
    );

    // The data, as the previous release stored it.
    let hash = |pw: &str| bcrypt::hash(pw, 4).expect("a bcrypt hash");
    let (alice, bob, root) = (
        hash(ALICE_PASSWORD),
        hash(BOB_PASSWORD),
        hash(ROOT_PASSWORD),
    );
    client
        .execute(
            "INSERT INTO users (email, password_hash, role) VALUES \
             ('alice@example.com', $1, 'user'), ('bob@example.com', $2, 'user'), \
             ('root@example.com', $3, 'admin')",
            &[&alice, &bob, &root],
        )
        .await
        .expect("users");
    client
        .batch_execute(
            "INSERT INTO posts (owner_id, title, title_lower, content, published) VALUES \
               (1, 'Alice''s First', 'alice''s first', 'hello', true), \
               (1, 'Alice''s Draft', 'alice''s draft', 'unfinished', false), \
               (2, 'Bob Writes', 'bob writes', 'more', true); \
             INSERT INTO votes (post_id, user_id) VALUES (1, 1), (1, 2), (1, 3), (3, 1); \
             INSERT INTO revoked_tokens (jti, user_id, expires_at) \
               VALUES ('0123456789abcdef0123456789abcdef', 1, now() + interval '1 hour'); \
             INSERT INTO login_failures (addr, email_sha256, failed_at) \
               VALUES ('10.0.0.1', sha256('bob@example.com'::bytea), now());",
        )
        .await
        .expect("posts, votes, a revoked token, a login failure");

    // The service starts on it and migrates it.
    let clock = clock();
    let app = start_app_with(&db.url, &clock, |_| {}).await;
    let http = Http::new(&app);

    let history: Vec<i32> = client
        .query(
            "SELECT version FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .expect("the history")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let embedded = posts_api::adapters::postgres::embedded_names().len();
    let every: Vec<i32> = (1..=i32::try_from(embedded).unwrap()).collect();
    assert_eq!(history, every, "every embedded migration, numbered from 1");
    let gone: Option<String> = client
        .query_one("SELECT to_regclass('revoked_tokens')::text", &[])
        .await
        .expect("to_regclass")
        .get(0);
    assert_eq!(gone, None, "revoked_tokens is dropped");
    let sessions: Option<String> = client
        .query_one("SELECT to_regclass('sessions')::text", &[])
        .await
        .expect("to_regclass")
        .get(0);
    assert_eq!(sessions.as_deref(), Some("sessions"));

    // The users log in with their passwords, and only with them.
    let alice = token(&http, "alice@example.com", ALICE_PASSWORD).await;
    let bob = token(&http, "Bob@Example.com", BOB_PASSWORD).await;
    let root = token(&http, "root@example.com", ROOT_PASSWORD).await;
    let (status, body) = login(&http, "alice@example.com", BOB_PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Who they are, with their roles.
    let (status, me) = http.get("/users/me", Some(&alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (me["id"].as_i64(), me["email"].as_str(), me["role"].as_str()),
        (Some(1), Some("alice@example.com"), Some("user"))
    );
    let (status, users) = http.get("/users", Some(&root)).await;
    assert_eq!(status, StatusCode::OK, "root is still an admin: {users}");
    let emails: Vec<&str> = users
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        ["alice@example.com", "bob@example.com", "root@example.com"]
    );
    let (status, _) = http.get("/users", Some(&bob)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Posts and vote counts are there, drafts still drafts.
    let (status, posts) = http.get("/posts", Some(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    let seen: Vec<(i64, i64)> = posts
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            (
                p["id"].as_i64().unwrap_or(0),
                p["votes"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(seen, [(3, 1), (1, 3)], "bob sees the published posts");
    let (status, draft) = http.get("/posts/2", Some(&alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (draft["published"].as_bool(), draft["votes"].as_i64()),
        (Some(false), Some(0))
    );
    let (status, _) = http.get("/posts/2", Some(&bob)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A vote already cast stays one.
    let (status, body) = http
        .post("/vote", Some(&alice), json!({ "post_id": 1, "dir": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = http
        .post("/vote", Some(&bob), json!({ "post_id": 3, "dir": 1 }))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // New rows carry on after the old ids.
    let carol = http.register("carol@example.com").await;
    assert_eq!(carol, 4);
    let carol_token = http.login("carol@example.com").await;
    assert_eq!(http.create_post(&carol_token, "Carol's", true).await, 4);

    // An access token of the old kind (no `sid`) no longer verifies.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let old_claims = json!({
        "sub": "1",
        "iat": now,
        "exp": now + 1800,
        "jti": "fedcba9876543210fedcba9876543210",
    });
    let header = Header {
        kid: Some(key_id(SECRET)),
        ..Header::new(Algorithm::HS256)
    };
    let old = jsonwebtoken::encode(
        &header,
        &old_claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token");
    let (status, body) = http.get("/profile", Some(&old)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body, json!({ "detail": "Could not validate credentials" }));

    app.stop().await.expect("the app stops");
    drop(client);
    db.drop().await;
}
