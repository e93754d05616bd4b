//! Restarts and several instances on one database: everything lives in
//! PostgreSQL (users, posts, votes, sessions, login attempts), so a
//! restarted instance, or another one, sees it all: connected directly,
//! and behind PgBouncer in transaction mode (`DATABASE_POOLER=transaction`),
//! where the instances share a few server connections.

mod postgres_support;

use postgres_support::{Http, PASSWORD, TestDb, Via};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_the_same_database_keeps_everything() {
    a_restart_keeps_everything(Via::Direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_behind_pgbouncer_keeps_everything() {
    a_restart_keeps_everything(Via::Pgbouncer).await;
}

/// An instance reached `via`, stopped, and another started on its
/// database.
async fn a_restart_keeps_everything(via: Via) {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let Some(url) = via.prepare(&db).await else {
        db.drop().await;
        return;
    };
    let first = via.start_app(&url).await;
    let http = Http::new(&first);
    let alice_id = http.register("alice@example.com").await;
    http.register("bob@example.com").await;
    let kept = http.login("alice@example.com").await;
    let revoked = http.login("alice@example.com").await;
    let bob = http.login("bob@example.com").await;
    let post = http.create_post(&kept, "survives restarts", true).await;
    let draft = http.create_post(&kept, "a draft", false).await;
    assert_eq!(
        http.post("/vote", Some(&bob), json!({ "post_id": post, "dir": 1 }))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        http.post("/logout", Some(&revoked), json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    first.stop().await.expect("a clean stop");

    let second = via.start_app(&url).await;
    let http = Http::new(&second);
    let (status, profile) = http.get("/profile", Some(&kept)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a token from before the restart: {profile}"
    );
    assert_eq!(profile["user"]["id"], alice_id);
    assert_eq!(
        http.get("/profile", Some(&revoked)).await.0,
        StatusCode::UNAUTHORIZED,
        "a revoked token stays revoked"
    );
    let (status, seen) = http.get(&format!("/posts/{post}"), Some(&bob)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (seen["title"].as_str(), seen["votes"].as_i64()),
        (Some("survives restarts"), Some(1))
    );
    assert_eq!(
        http.get(&format!("/posts/{draft}"), Some(&bob)).await.0,
        StatusCode::NOT_FOUND,
        "still a draft"
    );
    assert_eq!(
        http.get(&format!("/posts/{draft}"), Some(&kept)).await.0,
        StatusCode::OK
    );
    // Passwords survive too, and ids go on where they were.
    let again = http.login("alice@example.com").await;
    assert!(http.create_post(&again, "after the restart", true).await > draft);
    let (status, _) = http
        .post("/vote", Some(&bob), json!({ "post_id": post, "dir": 1 }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "the vote is still there");
    second.stop().await.expect("a clean stop");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_users_tokens_logouts_and_data() {
    two_instances_share_everything(Via::Direct).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_pgbouncer_share_users_tokens_logouts_and_data() {
    two_instances_share_everything(Via::Pgbouncer).await;
}

/// Two instances reached `via`: what one does, the other sees.
async fn two_instances_share_everything(via: Via) {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let Some(url) = via.prepare(&db).await else {
        db.drop().await;
        return;
    };
    // Started together: directly, they take turns migrating; behind the
    // pooler both check the schema.
    let (one, two) = tokio::join!(via.start_app(&url), via.start_app(&url));
    let (a, b) = (Http::new(&one), Http::new(&two));

    a.register("carol@example.com").await;
    let token = a.login("carol@example.com").await;
    let (status, profile) = b.get("/profile", Some(&token)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a token issued by one instance works on the other: {profile}"
    );
    let (status, _) = b
        .post(
            "/users",
            None,
            json!({ "email": "CAROL@example.com", "password": "another password" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one user table");

    let post = b.create_post(&token, "written through b", true).await;
    let (status, seen) = a.get(&format!("/posts/{post}"), Some(&token)).await;
    assert_eq!(
        (status, seen["title"].as_str()),
        (StatusCode::OK, Some("written through b"))
    );
    b.register("dave@example.com").await;
    let dave = b.login("dave@example.com").await;
    assert_eq!(
        a.post("/vote", Some(&dave), json!({ "post_id": post, "dir": 1 }))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        b.get(&format!("/posts/{post}"), Some(&token)).await.1["votes"],
        1
    );
    assert_eq!(
        b.post("/vote", Some(&dave), json!({ "post_id": post, "dir": 1 }))
            .await
            .0,
        StatusCode::CONFLICT
    );

    assert_eq!(
        a.post("/logout", Some(&token), json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = b.get("/profile", Some(&token)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a logout on one instance is honoured by the other: {body}"
    );
    assert_eq!(body, json!({ "detail": "Could not validate credentials" }));
    assert_eq!(
        b.get("/profile", Some(&dave)).await.0,
        StatusCode::OK,
        "other tokens still work"
    );

    // One login limit (5 failures per email and address) over both.
    for http in [&a, &b, &a, &b, &a] {
        let (status, _, _) = http.try_login("dave@example.com", "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for http in [&a, &b] {
        let (status, retry_after, _) = http.try_login("dave@example.com", PASSWORD).await;
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "five failures over two instances reach the limit"
        );
        assert!(retry_after.is_some(), "with a Retry-After");
    }
    one.stop().await.expect("a clean stop");
    two.stop().await.expect("a clean stop");
    db.drop().await;
}
