//! Posts through HTTP: create, read, list (newest first, paging at its
//! edges, literal case-insensitive search, the `before` cursor and its
//! `Link` headers), replace, delete, drafts and
//! ownership for owner, other user and admin, strict JSON bodies and their
//! error statuses (400, 413, 415, 422), ids out of range, and authentication
//! before anything else, each on both stores.

mod common;

use common::*;
use serde_json::{Value, json};

store_tests! {
    create_answers_201_with_the_post,
    published_defaults_to_true,
    unknown_fields_are_ignored,
    read_a_missing_post_is_404,
    post_ids_outside_the_range_are_422,
    list_is_newest_first,
    list_pages_at_the_edges,
    cursor_walk_visits_each_visible_post_once,
    skip_applies_after_before,
    full_pages_link_to_the_next_and_short_ones_do_not,
    invalid_before_is_422,
    link_keeps_the_search_percent_encoded,
    search_is_literal_and_ignores_case,
    search_ignores_case_beyond_ascii,
    search_with_nul_is_422,
    drafts_are_seen_by_owner_and_admins_only,
    only_owner_or_admin_changes_a_post,
    put_replaces_the_post,
    put_without_published_publishes,
    put_is_validated_like_create,
    delete_removes_the_post_for_good,
    ids_are_never_reused,
    validation_errors_name_the_field,
    lengths_are_counted_in_characters,
    types_are_strict,
    wrong_shapes_are_422,
    malformed_json_is_400,
    other_content_types_are_415,
    body_of_exactly_one_mib_is_accepted,
    body_over_one_mib_is_413,
    authentication_comes_before_everything,
    authentication_comes_before_the_body_size,
}

/// The JSON body of a post.
fn body(title: &str, content: &str) -> Value {
    json!({ "title": title, "content": content })
}

/// A valid post body of exactly `size` bytes, padded by an unknown field.
fn body_of_size(size: usize) -> Vec<u8> {
    let prefix = br#"{"title":"big","content":"c","padding":""#;
    let suffix = br#""}"#;
    let mut out = prefix.to_vec();
    out.resize(size - suffix.len(), b'x');
    out.extend_from_slice(suffix);
    assert_eq!(out.len(), size);
    out
}

/// The titles `GET /posts?<query>` lists for `token`, in order.
async fn titles(app: &TestApp, token: &str, query: Vec<(&str, &str)>) -> Vec<String> {
    let list = app
        .send(
            app.request(Method::GET, "/posts")
                .bearer_auth(token)
                .query(&query),
        )
        .await
        .json_status(200);
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|p| p["title"].as_str().expect("title").to_owned())
        .collect()
}

async fn create_answers_201_with_the_post(app: TestApp) {
    let alice = app.user("alice").await;
    let content = "  Content is kept exactly as sent.\nSecond line.  ";
    let body = json!({ "title": "My first post", "content": content, "published": true });
    let post = app
        .post_json("/posts", &alice.token, &body)
        .await
        .json_status(201);
    assert_post(&post);
    assert_eq!(post["title"], "My first post");
    assert_eq!(post["content"], content);
    assert_eq!(post["published"], true);
    assert_eq!(post["votes"], 0);
    assert_eq!(post["owner_id"], alice.id);
    assert_eq!(post["owner"]["email"], alice.email.as_str());
    assert_eq!(post["owner"]["role"], "user");
    let id = id_of(&post);
    let read = app
        .get(&format!("/posts/{id}"), &alice.token)
        .await
        .json_status(200);
    assert_eq!(read, post, "reading gives what creating answered");
    let bob = app.user("bob").await;
    let seen = app
        .get(&format!("/posts/{id}"), &bob.token)
        .await
        .json_status(200);
    assert_eq!(seen, post);
}

async fn published_defaults_to_true(app: TestApp) {
    let alice = app.user("alice").await;
    let post = app
        .post_json("/posts", &alice.token, &body("no flag", "c"))
        .await
        .json_status(201);
    assert_eq!(post["published"], true);
    let bob = app.user("bob").await;
    app.get(&format!("/posts/{}", id_of(&post)), &bob.token)
        .await
        .assert_status(200);
}

async fn unknown_fields_are_ignored(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let body = json!({
        "title": "t", "content": "c", "rating": 4, "owner_id": bob.id, "id": 999,
        "votes": 100, "owner": { "id": bob.id }, "created_at": "2000-01-01T00:00:00Z",
    });
    let post = app
        .post_json("/posts", &alice.token, &body)
        .await
        .json_status(201);
    assert_eq!(
        post["owner_id"], alice.id,
        "ownership is the caller's: {post}"
    );
    assert_eq!(post["votes"], 0);
    assert_ne!(post["id"], 999);
    assert_ne!(post["created_at"], "2000-01-01T00:00:00Z");
    let put = json!({ "title": "t2", "content": "c2", "owner_id": bob.id, "extra": [1, 2] });
    let updated = app
        .put_json(&format!("/posts/{}", id_of(&post)), &alice.token, &put)
        .await
        .json_status(200);
    assert_eq!(updated["owner_id"], alice.id);
}

async fn read_a_missing_post_is_404(app: TestApp) {
    let alice = app.user("alice").await;
    let id = app.post(&alice.token, "exists").await;
    let missing = id + 1;
    app.get(&format!("/posts/{missing}"), &alice.token)
        .await
        .assert_error(404, &format!("Post with id: {missing} does not exist"));
    app.get("/posts/9223372036854775807", &alice.token)
        .await
        .assert_error(404, "Post with id: 9223372036854775807 does not exist");
    app.put_json(&format!("/posts/{missing}"), &alice.token, &body("t", "c"))
        .await
        .assert_error(404, &format!("Post with id: {missing} does not exist"));
    app.delete(&format!("/posts/{missing}"), &alice.token)
        .await
        .assert_error(404, &format!("Post with id: {missing} does not exist"));
}

async fn post_ids_outside_the_range_are_422(app: TestApp) {
    let alice = app.user("alice").await;
    let id = app.post(&alice.token, "survivor").await;
    for bad in ["0", "-1", "9223372036854775808", "abc", "1.0", "%20"] {
        let path = format!("/posts/{bad}");
        app.get(&path, &alice.token).await.assert_invalid("id");
        app.put_json(&path, &alice.token, &body("t", "c"))
            .await
            .assert_invalid("id");
        app.delete(&path, &alice.token).await.assert_invalid("id");
    }
    let post = app
        .get(&format!("/posts/{id}"), &alice.token)
        .await
        .json_status(200);
    assert_eq!(post["title"], "survivor");
}

async fn list_is_newest_first(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let first = app.post(&alice.token, "first").await;
    let second = app.post(&bob.token, "second").await;
    let third = app.post(&alice.token, "third").await;
    let list = app.get("/posts", &bob.token).await.json_status(200);
    list.as_array()
        .expect("a list")
        .iter()
        .for_each(assert_post);
    assert_eq!(
        app.list_ids("/posts", &bob.token).await,
        vec![third, second, first]
    );
    // An update does not move a post.
    app.put_json(
        &format!("/posts/{first}"),
        &alice.token,
        &body("first, edited", "c"),
    )
    .await
    .assert_status(200);
    assert_eq!(
        app.list_ids("/posts/", &alice.token).await,
        vec![third, second, first]
    );
}

async fn list_pages_at_the_edges(app: TestApp) {
    let alice = app.user("alice").await;
    let mut ids = Vec::new();
    for n in 0..101 {
        ids.push(app.post(&alice.token, &format!("post {n}")).await);
    }
    ids.reverse(); // newest first
    let t = &alice.token;
    assert_eq!(
        app.list_ids("/posts", t).await,
        ids[..10],
        "default limit 10, skip 0"
    );
    assert_eq!(app.list_ids("/posts?limit=1", t).await, ids[..1]);
    assert_eq!(app.list_ids("/posts?limit=100", t).await, ids[..100]);
    assert_eq!(
        app.list_ids("/posts?limit=100&skip=100", t).await,
        ids[100..]
    );
    assert_eq!(app.list_ids("/posts?skip=3&limit=4", t).await, ids[3..7]);
    assert_eq!(app.list_ids("/posts?skip=0", t).await, ids[..10]);
    assert!(app.list_ids("/posts?skip=101", t).await.is_empty());
    assert!(
        app.list_ids("/posts?skip=9223372036854775807", t)
            .await
            .is_empty()
    );
    for query in ["limit=0", "limit=101", "limit=-1", "limit=abc", "limit=1.5"] {
        app.get(&format!("/posts?{query}"), t)
            .await
            .assert_invalid("limit");
    }
    for query in ["skip=-1", "skip=abc", "skip=9223372036854775808"] {
        app.get(&format!("/posts?{query}"), t)
            .await
            .assert_invalid("skip");
    }
}

/// Alice's posts (one in three a draft), Bob's published posts and Bob's
/// drafts, interleaved, all titled so that `alpha` finds Alice's posts and
/// Bob's drafts; the ids Alice may see, newest first, and her own.
async fn interleaved(app: &TestApp, alice: &TestUser, bob: &TestUser) -> (Vec<i64>, Vec<i64>) {
    let (mut visible, mut hers) = (Vec::new(), Vec::new());
    for n in 0..14 {
        let id = if n % 3 == 0 {
            app.draft(&alice.token, &format!("Alpha draft {n}")).await
        } else {
            app.post(&alice.token, &format!("alpha {n}")).await
        };
        visible.push(id);
        hers.push(id);
        app.draft(&bob.token, &format!("alpha draft of bob {n}"))
            .await;
        if n % 2 == 0 {
            visible.push(app.post(&bob.token, &format!("beta {n}")).await);
        }
    }
    visible.reverse();
    hers.reverse();
    (visible, hers)
}

async fn cursor_walk_visits_each_visible_post_once(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (visible, hers) = interleaved(&app, &alice, &bob).await;
    assert_eq!((visible.len(), hers.len()), (21, 14));
    for limit in [1, 3, 10] {
        assert_eq!(
            app.walk_links(&format!("/posts?limit={limit}"), &alice.token, limit)
                .await,
            visible,
            "limit {limit}"
        );
        assert_eq!(
            app.walk_links(
                &format!("/posts?limit={limit}&search=ALPHA"),
                &alice.token,
                limit
            )
            .await,
            hers,
            "limit {limit}, search"
        );
    }
    // Admins walk everything, Bob's drafts included.
    let admin = app.admin().await;
    let everything = app.walk_links("/posts?limit=10", &admin.token, 10).await;
    assert_eq!(everything.len(), 14 + 7 + 14);
    assert!(everything.windows(2).all(|w| w[0] > w[1]), "{everything:?}");
}

async fn skip_applies_after_before(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (visible, _) = interleaved(&app, &alice, &bob).await;
    let t = &alice.token;
    let cursor = visible[4];
    assert_eq!(
        app.list_ids(&format!("/posts?before={cursor}&limit=3"), t)
            .await,
        visible[5..8]
    );
    assert_eq!(
        app.list_ids(&format!("/posts?before={cursor}&skip=2&limit=3"), t)
            .await,
        visible[7..10]
    );
    assert!(
        app.list_ids(&format!("/posts?before={cursor}&skip=100"), t)
            .await
            .is_empty()
    );
    // A cursor need not be a post's id, nor a visible one's.
    let above = visible[0] + 1_000;
    assert_eq!(
        app.list_ids(&format!("/posts?before={above}&limit=2"), t)
            .await,
        visible[..2]
    );
    assert_eq!(
        app.list_ids("/posts?before=9223372036854775807&limit=2", t)
            .await,
        visible[..2]
    );
    assert!(app.list_ids("/posts?before=1", t).await.is_empty());
}

async fn full_pages_link_to_the_next_and_short_ones_do_not(app: TestApp) {
    let alice = app.user("alice").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(app.post(&alice.token, &format!("post {n}")).await);
    }
    ids.reverse();
    let t = &alice.token;
    let full = app.get("/posts?limit=2&skip=1&search=post", t).await;
    assert_eq!(
        full.header("link"),
        Some(
            format!(
                "</posts?limit=2&search=post&before={}>; rel=\"next\"",
                ids[2]
            )
            .as_str()
        ),
        "skip dropped, limit and search kept"
    );
    let full = app
        .get(&format!("/posts/?before={}&limit=3", ids[0]), t)
        .await;
    assert_eq!(
        full.header("link"),
        Some(format!("</posts?limit=3&before={}>; rel=\"next\"", ids[3]).as_str()),
    );
    for short in [
        "/posts",
        "/posts?limit=6",
        "/posts?limit=2&skip=4",
        "/posts?search=none",
    ] {
        let resp = app.get(short, t).await;
        resp.assert_status(200);
        assert_eq!(resp.header("link"), None, "{short}");
    }
    // Browsers' scripts may read it.
    let resp = app
        .send(
            app.request(Method::GET, "/posts?limit=1")
                .bearer_auth(t)
                .header("Origin", "https://example.com"),
        )
        .await;
    let exposed = resp
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("link"), "exposed: {exposed:?}");
}

async fn invalid_before_is_422(app: TestApp) {
    let alice = app.user("alice").await;
    for query in [
        "before=0",
        "before=-1",
        "before=abc",
        "before=1.5",
        "before=9223372036854775808",
    ] {
        app.get(&format!("/posts?{query}"), &alice.token)
            .await
            .assert_invalid("before");
    }
}

async fn link_keeps_the_search_percent_encoded(app: TestApp) {
    let alice = app.user("alice").await;
    let search = "ça 50% & co";
    let mut matching = Vec::new();
    for n in 0..5 {
        matching.push(app.post(&alice.token, &format!("Ça 50% & Co {n}")).await);
        app.post(&alice.token, &format!("ça 50% co {n}")).await;
    }
    matching.reverse();
    let first = app
        .send(
            app.request(Method::GET, "/posts")
                .bearer_auth(&alice.token)
                .query(&[("limit", "2"), ("search", search)]),
        )
        .await;
    let ids: Vec<i64> = first
        .json_status(200)
        .as_array()
        .expect("a list")
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, matching[..2]);
    let next = first.next_link().expect("a full page links on");
    assert_eq!(
        next,
        format!(
            "/posts?limit=2&search=%C3%A7a%2050%25%20%26%20co&before={}",
            matching[1]
        )
    );
    let rest = app.walk_links(&next, &alice.token, 2).await;
    assert_eq!(rest, matching[2..]);
}

async fn search_is_literal_and_ignores_case(app: TestApp) {
    let alice = app.user("alice").await;
    let t = &alice.token;
    for title in [
        "50% off today",
        "500 off",
        "a_b test",
        "axb test",
        "Hello World",
        "HELLO again",
        r"back\slash",
        "plain",
    ] {
        app.post(t, title).await;
    }
    let search = |s: &'static str| titles(&app, t, vec![("search", s)]);
    assert_eq!(search("%").await, ["50% off today"]);
    assert_eq!(search("50%").await, ["50% off today"]);
    assert_eq!(search("_").await, ["a_b test"]);
    assert_eq!(search("a_b").await, ["a_b test"]);
    assert_eq!(search("hello").await, ["HELLO again", "Hello World"]);
    assert_eq!(search("WORLD").await, ["Hello World"]);
    assert_eq!(search("o W").await, ["Hello World"]);
    assert_eq!(search(r"\").await, [r"back\slash"]);
    assert_eq!(search(r"k\s").await, [r"back\slash"]);
    assert_eq!(search("*").await, Vec::<String>::new());
    assert_eq!(search("nothing like it").await, Vec::<String>::new());
    assert_eq!(search("").await.len(), 8, "an empty search is no search");
    assert_eq!(
        titles(&app, t, vec![("search", "hello"), ("limit", "1")]).await,
        ["HELLO again"]
    );
    assert_eq!(
        titles(&app, t, vec![("search", "hello"), ("skip", "1")]).await,
        ["Hello World"]
    );
    // Only titles are searched.
    assert_eq!(search("some content").await, Vec::<String>::new());
}

async fn search_ignores_case_beyond_ascii(app: TestApp) {
    let alice = app.user("alice").await;
    app.post(&alice.token, "Un été chaud").await;
    app.post(&alice.token, "ÜBER straße").await;
    assert_eq!(
        titles(&app, &alice.token, vec![("search", "ÉTÉ")]).await,
        ["Un été chaud"]
    );
    assert_eq!(
        titles(&app, &alice.token, vec![("search", "über")]).await,
        ["ÜBER straße"]
    );
}

async fn search_with_nul_is_422(app: TestApp) {
    let alice = app.user("alice").await;
    app.get("/posts?search=a%00b", &alice.token)
        .await
        .assert_invalid("search");
}

async fn drafts_are_seen_by_owner_and_admins_only(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let public = app.post(&alice.token, "public hello").await;
    let draft = app.draft(&alice.token, "draft hello").await;
    let path = format!("/posts/{draft}");
    let missing = format!("Post with id: {draft} does not exist");
    // The owner.
    let post = app.get(&path, &alice.token).await.json_status(200);
    assert_eq!(post["published"], false);
    assert_eq!(
        app.list_ids("/posts", &alice.token).await,
        vec![draft, public]
    );
    assert_eq!(
        titles(&app, &alice.token, vec![("search", "HELLO")]).await,
        ["draft hello", "public hello"]
    );
    // Another user: it does not exist.
    app.get(&path, &bob.token).await.assert_error(404, &missing);
    app.put_json(&path, &bob.token, &body("mine now", "c"))
        .await
        .assert_error(404, &missing);
    app.delete(&path, &bob.token)
        .await
        .assert_error(404, &missing);
    assert_eq!(app.list_ids("/posts", &bob.token).await, vec![public]);
    assert_eq!(
        titles(&app, &bob.token, vec![("search", "draft")]).await,
        Vec::<String>::new()
    );
    assert_eq!(
        app.list_ids("/posts?limit=1", &bob.token).await,
        vec![public],
        "drafts do not take a page slot"
    );
    // An admin.
    let seen = app.get(&path, &admin.token).await.json_status(200);
    assert_eq!(seen, post);
    assert_eq!(
        app.list_ids("/posts", &admin.token).await,
        vec![draft, public]
    );
    // Still there, unchanged, for its owner.
    assert_eq!(app.get(&path, &alice.token).await.json_status(200), post);
}

async fn only_owner_or_admin_changes_a_post(app: TestApp) {
    let admin = app.admin().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = app.post(&alice.token, "alice's").await;
    let path = format!("/posts/{id}");
    app.put_json(&path, &bob.token, &body("bob's now", "c"))
        .await
        .assert_error(403, FORBIDDEN);
    app.delete(&path, &bob.token)
        .await
        .assert_error(403, FORBIDDEN);
    let post = app.get(&path, &bob.token).await.json_status(200);
    assert_eq!(post["title"], "alice's");
    // The owner.
    let updated = app
        .put_json(&path, &alice.token, &body("alice's, edited", "c"))
        .await
        .json_status(200);
    assert_eq!(updated["title"], "alice's, edited");
    // An admin edits, but ownership never changes.
    let updated = app
        .put_json(&path, &admin.token, &body("moderated", "c"))
        .await
        .json_status(200);
    assert_post(&updated);
    assert_eq!(updated["title"], "moderated");
    assert_eq!(updated["owner_id"], alice.id);
    assert_eq!(updated["owner"]["email"], alice.email.as_str());
    // An admin deletes anyone's post, drafts included.
    let draft = app.draft(&alice.token, "alice's draft").await;
    app.delete(&format!("/posts/{draft}"), &admin.token)
        .await
        .assert_status(204);
    app.delete(&path, &admin.token).await.assert_status(204);
    app.get(&path, &alice.token)
        .await
        .assert_error(404, &format!("Post with id: {id} does not exist"));
}

async fn put_replaces_the_post(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let created = app
        .create_post(&alice.token, "before", "old content", true)
        .await;
    let id = id_of(&created);
    let path = format!("/posts/{id}");
    app.vote(&bob.token, id, 1).await.assert_status(201);
    let body = json!({ "title": "after", "content": "new content", "published": false });
    let updated = app
        .put_json(&path, &alice.token, &body)
        .await
        .json_status(200);
    assert_post(&updated);
    assert_eq!(updated["id"], id);
    assert_eq!(updated["title"], "after");
    assert_eq!(updated["content"], "new content");
    assert_eq!(updated["published"], false);
    assert_eq!(updated["votes"], 1, "votes survive an update");
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_eq!(updated["owner_id"], alice.id);
    assert_eq!(app.get(&path, &alice.token).await.json_status(200), updated);
    // Now a draft: gone for bob.
    app.get(&path, &bob.token)
        .await
        .assert_error(404, &format!("Post with id: {id} does not exist"));
}

async fn put_without_published_publishes(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = app.draft(&alice.token, "draft").await;
    let path = format!("/posts/{id}");
    let updated = app
        .put_json(&path, &alice.token, &body("published now", "c"))
        .await
        .json_status(200);
    assert_eq!(updated["published"], true);
    app.get(&path, &bob.token).await.assert_status(200);
    assert_eq!(app.list_ids("/posts", &bob.token).await, vec![id]);
}

async fn put_is_validated_like_create(app: TestApp) {
    let alice = app.user("alice").await;
    let id = app.post(&alice.token, "valid").await;
    let path = format!("/posts/{id}");
    app.put_json(&path, &alice.token, &body("  ", "c"))
        .await
        .assert_invalid("title");
    app.put_json(&path, &alice.token, &body("t", ""))
        .await
        .assert_invalid("content");
    app.put_json(&path, &alice.token, &json!({ "content": "c" }))
        .await
        .assert_invalid("title");
    let strict = json!({ "title": "t", "content": "c", "published": "false" });
    app.put_json(&path, &alice.token, &strict)
        .await
        .assert_invalid("published");
    let malformed = app
        .request(Method::PUT, &path)
        .bearer_auth(&alice.token)
        .header("Content-Type", "application/json")
        .body("{");
    let detail = app.send(malformed).await.error_detail(400);
    assert!(detail.starts_with("Invalid JSON body: "), "{detail:?}");
    let plain = app
        .request(Method::PUT, &path)
        .bearer_auth(&alice.token)
        .header("Content-Type", "text/plain")
        .body("hi");
    app.send(plain).await.error_detail(415);
    let post = app.get(&path, &alice.token).await.json_status(200);
    assert_eq!(post["title"], "valid", "failed updates change nothing");
}

async fn delete_removes_the_post_for_good(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = app.post(&alice.token, "short-lived").await;
    let keep = app.post(&alice.token, "kept").await;
    app.vote(&bob.token, id, 1).await.assert_status(201);
    let path = format!("/posts/{id}");
    let r = app.delete(&path, &alice.token).await;
    r.assert_status(204);
    assert!(r.text.is_empty(), "204 has no body: {:?}", r.text);
    let missing = format!("Post with id: {id} does not exist");
    app.get(&path, &alice.token)
        .await
        .assert_error(404, &missing);
    app.delete(&path, &alice.token)
        .await
        .assert_error(404, &missing);
    app.put_json(&path, &alice.token, &body("t", "c"))
        .await
        .assert_error(404, &missing);
    // Its votes went with it.
    app.vote(&bob.token, id, 0)
        .await
        .assert_error(404, &missing);
    assert_eq!(app.list_ids("/posts", &bob.token).await, vec![keep]);
}

async fn ids_are_never_reused(app: TestApp) {
    let alice = app.user("alice").await;
    let a = app.post(&alice.token, "a").await;
    let b = app.post(&alice.token, "b").await;
    app.delete(&format!("/posts/{b}"), &alice.token)
        .await
        .assert_status(204);
    let c = app.post(&alice.token, "c").await;
    assert!(a < b && b < c, "ids {a}, {b}, {c}");
}

async fn validation_errors_name_the_field(app: TestApp) {
    let alice = app.user("alice").await;
    let t = &alice.token;
    let cases = [
        (body("", "c"), "title"),
        (body("   \t\n", "c"), "title"),
        (body(&"a".repeat(301), "c"), "title"),
        (body("a\u{0}b", "c"), "title"),
        (body("t", ""), "content"),
        (body("t", &"a".repeat(50_001)), "content"),
        (body("t", "bad \u{0} content"), "content"),
        (json!({ "content": "c" }), "title"),
        (json!({ "title": "t" }), "content"),
    ];
    for (body, field) in &cases {
        app.post_json("/posts", t, body).await.assert_invalid(field);
    }
    assert!(
        app.list_ids("/posts", t).await.is_empty(),
        "nothing was created"
    );
}

async fn lengths_are_counted_in_characters(app: TestApp) {
    let alice = app.user("alice").await;
    let t = &alice.token;
    app.post_json("/posts", t, &body(&"a".repeat(300), "c"))
        .await
        .assert_status(201);
    // 300 two-byte characters are 600 bytes: still 300 characters.
    app.post_json("/posts", t, &body(&"é".repeat(300), "c"))
        .await
        .assert_status(201);
    app.post_json("/posts", t, &body(&"é".repeat(301), "c"))
        .await
        .assert_invalid("title");
    app.post_json("/posts", t, &body("t", &"a".repeat(50_000)))
        .await
        .assert_status(201);
    app.post_json("/posts", t, &body("t", &"é".repeat(50_000)))
        .await
        .assert_status(201);
    app.post_json("/posts", t, &body("t", &"é".repeat(50_001)))
        .await
        .assert_invalid("content");
}

async fn types_are_strict(app: TestApp) {
    let alice = app.user("alice").await;
    let cases = [
        (
            json!({ "title": "t", "content": "c", "published": "true" }),
            "published",
        ),
        (
            json!({ "title": "t", "content": "c", "published": 1 }),
            "published",
        ),
        (json!({ "title": 5, "content": "c" }), "title"),
        (json!({ "title": true, "content": "c" }), "title"),
        (json!({ "title": null, "content": "c" }), "title"),
        (json!({ "title": ["t"], "content": "c" }), "title"),
        (json!({ "title": "t", "content": 1.5 }), "content"),
        (
            json!({ "title": "t", "content": { "text": "c" } }),
            "content",
        ),
    ];
    for (body, field) in &cases {
        app.post_json("/posts", &alice.token, body)
            .await
            .assert_invalid(field);
    }
    assert!(
        app.list_ids("/posts", &alice.token).await.is_empty(),
        "nothing was created"
    );
}

async fn wrong_shapes_are_422(app: TestApp) {
    let alice = app.user("alice").await;
    let id = app.post(&alice.token, "kept").await;
    // Arrays that list the fields in order are still not objects.
    let shapes = [
        r#"[{"title": "t", "content": "c"}]"#,
        r#"["t", "c"]"#,
        r#"["t", "c", false]"#,
        r#""a string""#,
        "42",
        "null",
        "true",
        "[]",
    ];
    for raw in shapes {
        for (method, path) in [
            (Method::POST, "/posts".to_owned()),
            (Method::PUT, format!("/posts/{id}")),
        ] {
            let request = app
                .request(method.clone(), &path)
                .bearer_auth(&alice.token)
                .header("Content-Type", "application/json")
                .body(raw);
            let r = app.send(request).await;
            assert_eq!(r.status, 422, "{method} {path} with {raw}: {}", r.text);
            r.error_detail(422);
        }
    }
    let post = app
        .get(&format!("/posts/{id}"), &alice.token)
        .await
        .json_status(200);
    assert_eq!(post["title"], "kept");
    assert_eq!(post["published"], true);
    assert_eq!(
        app.list_ids("/posts", &alice.token).await,
        vec![id],
        "nothing was created"
    );
}

async fn malformed_json_is_400(app: TestApp) {
    let alice = app.user("alice").await;
    for raw in [
        "{",
        r#"{"title": }"#,
        r#"{"title": "t", "content": "c",}"#,
        "{}x",
        "",
        "{'title': 't'}",
    ] {
        let request = app
            .request(Method::POST, "/posts")
            .bearer_auth(&alice.token)
            .header("Content-Type", "application/json")
            .body(raw);
        let detail = app.send(request).await.error_detail(400);
        assert!(
            detail.starts_with("Invalid JSON body: "),
            "{raw:?} gave {detail:?}"
        );
    }
    let invalid_utf8 = app
        .request(Method::POST, "/posts")
        .bearer_auth(&alice.token)
        .header("Content-Type", "application/json")
        .body(b"{\"title\": \"\xff\", \"content\": \"c\"}".to_vec());
    let detail = app.send(invalid_utf8).await.error_detail(400);
    assert!(detail.starts_with("Invalid JSON body: "), "{detail:?}");
}

async fn other_content_types_are_415(app: TestApp) {
    let alice = app.user("alice").await;
    let json_text = body("t", "c").to_string();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ] {
        let request = app
            .request(Method::POST, "/posts")
            .bearer_auth(&alice.token)
            .header("Content-Type", content_type)
            .body(json_text.clone());
        app.send(request).await.error_detail(415);
    }
    let charset = app
        .request(Method::POST, "/posts")
        .bearer_auth(&alice.token)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(json_text);
    app.send(charset).await.assert_status(201);
}

async fn body_of_exactly_one_mib_is_accepted(app: TestApp) {
    let alice = app.user("alice").await;
    let auth = format!("Bearer {}", alice.token);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    for chunked in [false, true] {
        let r = app
            .raw("POST", "/posts", &headers, body_of_size(MIB), chunked)
            .await;
        assert_eq!(r.status, 201, "chunked: {chunked}; body: {}", r.text);
        let post: Value = serde_json::from_str(&r.text).expect("JSON");
        assert_eq!(post["title"], "big");
    }
    let id = app.list_ids("/posts", &alice.token).await[0];
    let r = app
        .raw(
            "PUT",
            &format!("/posts/{id}"),
            &headers,
            body_of_size(MIB),
            false,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn body_over_one_mib_is_413(app: TestApp) {
    let alice = app.user("alice").await;
    let auth = format!("Bearer {}", alice.token);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    for size in [MIB + 1, 2 * MIB] {
        for chunked in [false, true] {
            let r = app
                .raw("POST", "/posts", &headers, body_of_size(size), chunked)
                .await;
            assert_eq!(
                r.status, 413,
                "size {size}, chunked: {chunked}; body: {}",
                r.text
            );
            r.assert_error(413, "Request body too large");
        }
    }
    let id = app.post(&alice.token, "target").await;
    let r = app
        .raw(
            "PUT",
            &format!("/posts/{id}"),
            &headers,
            body_of_size(MIB + 1),
            true,
        )
        .await;
    r.assert_error(413, "Request body too large");
    let vote = app
        .raw("POST", "/vote", &headers, body_of_size(MIB + 1), false)
        .await;
    vote.assert_error(413, "Request body too large");
    let users = app
        .raw(
            "POST",
            "/users",
            &[("Content-Type", "application/json")],
            body_of_size(MIB + 1),
            false,
        )
        .await;
    users.assert_error(413, "Request body too large");
    assert_eq!(
        app.list_ids("/posts", &alice.token).await,
        vec![id],
        "no big post was created"
    );
}

async fn authentication_comes_before_everything(app: TestApp) {
    let alice = app.user("alice").await;
    let id = app.post(&alice.token, "kept").await;
    let requests = |token: Option<&str>| {
        let with = |r: reqwest::RequestBuilder| match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        };
        vec![
            with(app.request(Method::POST, "/posts"))
                .header("Content-Type", "application/json")
                .body("{"),
            with(app.request(Method::POST, "/posts"))
                .header("Content-Type", "text/plain")
                .body("x"),
            with(app.request(Method::POST, "/posts")).json(&json!({ "title": "", "content": 5 })),
            with(app.request(Method::POST, "/posts")).json(&json!([1, 2])),
            with(app.request(Method::POST, "/posts")).json(&body("t", "c")),
            with(app.request(Method::GET, "/posts?limit=0&skip=-1&search=a%00")),
            with(app.request(Method::GET, "/posts/abc")),
            with(app.request(Method::GET, "/posts/0")),
            with(app.request(Method::GET, &format!("/posts/{id}"))),
            with(app.request(Method::PUT, "/posts/-1"))
                .header("Content-Type", "application/json")
                .body("{"),
            with(app.request(Method::PUT, &format!("/posts/{id}"))).json(&body("hijacked", "c")),
            with(app.request(Method::DELETE, "/posts/9223372036854775808")),
            with(app.request(Method::DELETE, &format!("/posts/{id}"))),
        ]
    };
    for request in requests(None) {
        app.send(request).await.assert_error(401, NOT_AUTHENTICATED);
    }
    let forged = sign(
        &app.claims(alice.id),
        "wrong-secret",
        jsonwebtoken::Algorithm::HS256,
    );
    for request in requests(Some(&forged)) {
        app.send(request).await.assert_error(401, BAD_TOKEN);
    }
    let post = app
        .get(&format!("/posts/{id}"), &alice.token)
        .await
        .json_status(200);
    assert_eq!(post["title"], "kept");
    assert_eq!(app.list_ids("/posts", &alice.token).await, vec![id]);
}

async fn authentication_comes_before_the_body_size(app: TestApp) {
    let alice = app.user("alice").await;
    let id = app.post(&alice.token, "kept").await;
    let json = ("Content-Type", "application/json");
    let forged = format!(
        "Bearer {}",
        sign(
            &app.claims(alice.id),
            "wrong-secret",
            jsonwebtoken::Algorithm::HS256
        )
    );
    for chunked in [false, true] {
        let r = app
            .raw("POST", "/posts", &[json], body_of_size(2 * MIB), chunked)
            .await;
        r.assert_error(401, NOT_AUTHENTICATED);
        let path = format!("/posts/{id}");
        let r = app
            .raw(
                "PUT",
                &path,
                &[json, ("Authorization", &forged)],
                body_of_size(2 * MIB),
                chunked,
            )
            .await;
        r.assert_error(401, BAD_TOKEN);
        let r = app
            .raw("POST", "/vote", &[json], body_of_size(MIB + 1), chunked)
            .await;
        r.assert_error(401, NOT_AUTHENTICATED);
    }
    assert_eq!(app.list_ids("/posts", &alice.token).await, vec![id]);
}
