//! Votes through HTTP: every row of API.md's vote table, vote counts on
//! posts and lists, drafts, body validation, and concurrency (identical
//! votes racing give exactly one vote), each on both stores.

mod common;

use common::*;
use serde_json::{Value, json};

store_tests! {
    add_then_remove_a_vote,
    voting_twice_is_409,
    removing_a_missing_vote_is_404,
    voting_on_a_missing_post_is_404,
    vote_bodies_are_validated,
    vote_bodies_are_json,
    votes_are_counted_per_post,
    owners_vote_on_their_own_posts_and_drafts,
    drafts_of_others_cannot_be_voted_on,
    votes_need_a_token_first,
    concurrent_identical_votes_give_one_vote,
    concurrent_removals_remove_once,
    concurrent_votes_by_many_users_all_count,
}

/// Asserts a vote success message, exactly.
#[track_caller]
fn assert_message(r: &Resp, message: &str) {
    let body = r.json_status(201);
    assert_eq!(body, json!({ "message": message }));
}

async fn add_then_remove_a_vote(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.post(&alice.token, "vote on me").await;
    assert_message(
        &app.vote(&bob.token, post, 1).await,
        "Successfully added vote",
    );
    assert_eq!(app.votes_of(&alice.token, post).await, 1);
    assert_message(
        &app.vote(&bob.token, post, 0).await,
        "Successfully deleted vote",
    );
    assert_eq!(app.votes_of(&alice.token, post).await, 0);
    // A vote can be cast again after removal.
    assert_message(
        &app.vote(&bob.token, post, 1).await,
        "Successfully added vote",
    );
    assert_eq!(app.votes_of(&bob.token, post).await, 1);
}

async fn voting_twice_is_409(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.post(&alice.token, "popular").await;
    app.vote(&bob.token, post, 1).await.assert_status(201);
    let conflict = format!("User {} has already voted on post {post}", bob.id);
    app.vote(&bob.token, post, 1)
        .await
        .assert_error(409, &conflict);
    app.vote(&bob.token, post, 1)
        .await
        .assert_error(409, &conflict);
    assert_eq!(app.votes_of(&alice.token, post).await, 1);
}

async fn removing_a_missing_vote_is_404(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.post(&alice.token, "unloved").await;
    app.vote(&bob.token, post, 0)
        .await
        .assert_error(404, "Vote does not exist");
    // Alice's vote is not Bob's.
    app.vote(&alice.token, post, 1).await.assert_status(201);
    app.vote(&bob.token, post, 0)
        .await
        .assert_error(404, "Vote does not exist");
    assert_eq!(app.votes_of(&alice.token, post).await, 1);
}

async fn voting_on_a_missing_post_is_404(app: TestApp) {
    let alice = app.user("alice").await;
    let post = app.post(&alice.token, "the only post").await;
    let missing = post + 1;
    for dir in [1, 0] {
        app.vote(&alice.token, missing, dir)
            .await
            .assert_error(404, &format!("Post with id: {missing} does not exist"));
        app.vote(&alice.token, i64::MAX, dir)
            .await
            .assert_error(404, &format!("Post with id: {} does not exist", i64::MAX));
    }
    // Deleted posts are missing too.
    app.delete(&format!("/posts/{post}"), &alice.token)
        .await
        .assert_status(204);
    app.vote(&alice.token, post, 1)
        .await
        .assert_error(404, &format!("Post with id: {post} does not exist"));
}

async fn vote_bodies_are_validated(app: TestApp) {
    let alice = app.user("alice").await;
    let post = app.post(&alice.token, "target").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "post_id": post, "dir": 2 }), "dir"),
        (json!({ "post_id": post, "dir": -1 }), "dir"),
        (json!({ "post_id": post, "dir": "1" }), "dir"),
        (json!({ "post_id": post, "dir": true }), "dir"),
        (json!({ "post_id": post, "dir": 1.5 }), "dir"),
        (json!({ "post_id": post, "dir": null }), "dir"),
        (json!({ "post_id": post }), "dir"),
        (json!({ "post_id": 0, "dir": 1 }), "post_id"),
        (json!({ "post_id": -1, "dir": 1 }), "post_id"),
        (
            json!({ "post_id": 9_223_372_036_854_775_808_u64, "dir": 1 }),
            "post_id",
        ),
        (json!({ "post_id": post.to_string(), "dir": 1 }), "post_id"),
        (json!({ "post_id": null, "dir": 1 }), "post_id"),
        (json!({ "dir": 1 }), "post_id"),
    ];
    for (body, field) in &cases {
        app.post_json("/vote", &alice.token, body)
            .await
            .assert_invalid(field);
    }
    assert_eq!(
        app.votes_of(&alice.token, post).await,
        0,
        "no invalid vote counted"
    );
    // Unknown fields are ignored.
    let extra = json!({ "post_id": post, "dir": 1, "weight": 10 });
    assert_message(
        &app.post_json("/vote", &alice.token, &extra).await,
        "Successfully added vote",
    );
    assert_eq!(app.votes_of(&alice.token, post).await, 1);
}

async fn vote_bodies_are_json(app: TestApp) {
    let alice = app.user("alice").await;
    let post = app.post(&alice.token, "target").await;
    let malformed = app
        .request(Method::POST, "/vote")
        .bearer_auth(&alice.token)
        .header("Content-Type", "application/json")
        .body("{\"post_id\": 1,");
    let detail = app.send(malformed).await.error_detail(400);
    assert!(detail.starts_with("Invalid JSON body: "), "{detail:?}");
    let form = app
        .request(Method::POST, "/vote")
        .bearer_auth(&alice.token)
        .form(&[("post_id", post.to_string()), ("dir", "1".into())]);
    app.send(form).await.error_detail(415);
    let array = app
        .post_json(
            "/vote",
            &alice.token,
            &json!([{ "post_id": post, "dir": 1 }]),
        )
        .await;
    array.error_detail(422);
    assert_eq!(app.votes_of(&alice.token, post).await, 0);
}

async fn votes_are_counted_per_post(app: TestApp) {
    let alice = app.user("alice").await;
    let voters = [
        app.user("v1").await,
        app.user("v2").await,
        app.user("v3").await,
    ];
    let busy = app.post(&alice.token, "busy").await;
    let quiet = app.post(&alice.token, "quiet").await;
    let none = app.post(&alice.token, "none").await;
    for voter in &voters {
        app.vote(&voter.token, busy, 1).await.assert_status(201);
    }
    app.vote(&voters[0].token, quiet, 1)
        .await
        .assert_status(201);
    assert_eq!(app.votes_of(&alice.token, busy).await, 3);
    assert_eq!(app.votes_of(&alice.token, quiet).await, 1);
    assert_eq!(app.votes_of(&alice.token, none).await, 0);
    let list = app.get("/posts", &voters[2].token).await.json_status(200);
    let counts: Vec<(i64, i64)> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| (id_of(p), p["votes"].as_i64().expect("votes")))
        .collect();
    assert_eq!(counts, vec![(none, 0), (quiet, 1), (busy, 3)]);
    app.vote(&voters[1].token, busy, 0).await.assert_status(201);
    assert_eq!(app.votes_of(&voters[1].token, busy).await, 2);
    let search = app
        .get("/posts?search=bus", &alice.token)
        .await
        .json_status(200);
    assert_eq!(search[0]["votes"], 2);
}

async fn owners_vote_on_their_own_posts_and_drafts(app: TestApp) {
    let alice = app.user("alice").await;
    let post = app.post(&alice.token, "mine").await;
    let draft = app.draft(&alice.token, "my draft").await;
    assert_message(
        &app.vote(&alice.token, post, 1).await,
        "Successfully added vote",
    );
    assert_message(
        &app.vote(&alice.token, draft, 1).await,
        "Successfully added vote",
    );
    assert_eq!(app.votes_of(&alice.token, draft).await, 1);
    app.vote(&alice.token, draft, 1).await.assert_error(
        409,
        &format!("User {} has already voted on post {draft}", alice.id),
    );
    assert_message(
        &app.vote(&alice.token, draft, 0).await,
        "Successfully deleted vote",
    );
    assert_eq!(app.votes_of(&alice.token, draft).await, 0);
}

async fn drafts_of_others_cannot_be_voted_on(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let draft = app.draft(&alice.token, "secret").await;
    let missing = format!("Post with id: {draft} does not exist");
    app.vote(&bob.token, draft, 1)
        .await
        .assert_error(404, &missing);
    app.vote(&bob.token, draft, 0)
        .await
        .assert_error(404, &missing);
    // Admins see drafts, so they may vote on them.
    assert_message(
        &app.vote(&admin.token, draft, 1).await,
        "Successfully added vote",
    );
    assert_eq!(app.votes_of(&alice.token, draft).await, 1);
    // Published, bob can vote; made a draft again, his vote cannot be removed by him.
    app.put_json(
        &format!("/posts/{draft}"),
        &alice.token,
        &json!({ "title": "public", "content": "c" }),
    )
    .await
    .assert_status(200);
    app.vote(&bob.token, draft, 1).await.assert_status(201);
    let unpublish = json!({ "title": "secret again", "content": "c", "published": false });
    app.put_json(&format!("/posts/{draft}"), &alice.token, &unpublish)
        .await
        .assert_status(200);
    app.vote(&bob.token, draft, 0)
        .await
        .assert_error(404, &missing);
    assert_eq!(app.votes_of(&alice.token, draft).await, 2);
}

async fn votes_need_a_token_first(app: TestApp) {
    let alice = app.user("alice").await;
    let post = app.post(&alice.token, "target").await;
    let anon = [
        app.request(Method::POST, "/vote")
            .json(&json!({ "post_id": post, "dir": 1 })),
        app.request(Method::POST, "/vote")
            .json(&json!({ "post_id": 0, "dir": 7 })),
        app.request(Method::POST, "/vote")
            .header("Content-Type", "application/json")
            .body("{"),
        app.request(Method::POST, "/vote")
            .header("Content-Type", "text/plain")
            .body("x"),
    ];
    for request in anon {
        app.send(request).await.assert_error(401, NOT_AUTHENTICATED);
    }
    app.post_json("/vote", "x.y.z", &json!({ "post_id": "1" }))
        .await
        .assert_error(401, BAD_TOKEN);
    assert_eq!(app.votes_of(&alice.token, post).await, 0);
}

async fn concurrent_identical_votes_give_one_vote(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.post(&alice.token, "contested").await;
    let body = json!({ "post_id": post, "dir": 1 });
    let requests = (0..20)
        .map(|_| {
            app.request(Method::POST, "/vote")
                .bearer_auth(&bob.token)
                .json(&body)
        })
        .collect();
    let responses = app.send_concurrently(requests).await;
    let added = responses.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        added,
        1,
        "statuses: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let conflict = format!("User {} has already voted on post {post}", bob.id);
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_error(409, &conflict);
    }
    assert_eq!(app.votes_of(&alice.token, post).await, 1);
}

async fn concurrent_removals_remove_once(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.post(&alice.token, "contested").await;
    app.vote(&bob.token, post, 1).await.assert_status(201);
    let body = json!({ "post_id": post, "dir": 0 });
    let requests = (0..20)
        .map(|_| {
            app.request(Method::POST, "/vote")
                .bearer_auth(&bob.token)
                .json(&body)
        })
        .collect();
    let responses = app.send_concurrently(requests).await;
    let removed: Vec<&Resp> = responses.iter().filter(|r| r.status == 201).collect();
    assert_eq!(
        removed.len(),
        1,
        "statuses: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_message(removed[0], "Successfully deleted vote");
    for r in responses.iter().filter(|r| r.status != 201) {
        r.assert_error(404, "Vote does not exist");
    }
    assert_eq!(app.votes_of(&alice.token, post).await, 0);
}

async fn concurrent_votes_by_many_users_all_count(app: TestApp) {
    let alice = app.user("alice").await;
    let post = app.post(&alice.token, "crowd favourite").await;
    let mut voters = Vec::new();
    for n in 0..20 {
        voters.push(app.user(&format!("fan{n}")).await);
    }
    let body = json!({ "post_id": post, "dir": 1 });
    let requests = voters
        .iter()
        .map(|v| {
            app.request(Method::POST, "/vote")
                .bearer_auth(&v.token)
                .json(&body)
        })
        .collect();
    for r in app.send_concurrently(requests).await {
        assert_message(&r, "Successfully added vote");
    }
    assert_eq!(app.votes_of(&alice.token, post).await, 20);
}
