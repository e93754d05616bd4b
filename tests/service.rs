//! Service routes and cross-cutting HTTP behaviour: `/`, `/healthz`,
//! `/readyz`, `/metrics`, Swagger UI served offline, the OpenAPI document,
//! unknown paths and methods, trailing slashes, CORS, the `{"detail"}` shape
//! of every error, and a graceful stop, each on both stores.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

store_tests! {
    root_points_to_the_docs,
    health_and_readiness_are_ok,
    metrics_are_prometheus_text,
    docs_load_nothing_from_other_hosts,
    openapi_document_lists_exactly_the_contract,
    openapi_document_declares_both_security_schemes,
    response_headers_are_documented_as_sent,
    unknown_paths_are_404,
    wrong_methods_are_405,
    trailing_slashes_are_answered_directly,
    trailing_slashes_on_item_routes,
    cors_preflight_is_answered_for_any_origin,
    cors_origins_are_configurable with |c| c.cors_origins = vec![ALLOWED_ORIGIN.into()],
    every_error_is_detail_json,
    json_bodies_must_be_objects_on_every_route,
    json_bodies_must_not_repeat_a_key_on_every_route,
    cors_preflight_offers_only_the_methods_served,
    stop_is_graceful,
}

/// The only origin allowed by the CORS configuration test.
const ALLOWED_ORIGIN: &str = "http://allowed.example";

async fn root_points_to_the_docs(app: TestApp) {
    let body = app.get_anon("/").await.json_status(200);
    assert_eq!(keys(&body), set(&["message", "docs"]), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["docs"], "/docs");
}

async fn health_and_readiness_are_ok(app: TestApp) {
    for path in ["/healthz", "/readyz"] {
        let body = app.get_anon(path).await.json_status(200);
        assert_eq!(body, json!({ "status": "ok" }), "{path}");
    }
}

async fn metrics_are_prometheus_text(app: TestApp) {
    app.get_anon("/healthz").await.assert_status(200);
    let r = app.get_anon("/metrics").await;
    r.assert_status(200);
    let content_type = r.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "Content-Type {content_type:?}"
    );
    assert!(
        r.text.lines().any(|l| l.starts_with("# TYPE ")),
        "exposition format: {}",
        r.text
    );
}

/// The URLs in `attr="..."` (or single-quoted) attributes of every `<tag`.
fn attribute_urls(html: &str, tag: &str, attr: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut urls = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find(&format!("<{tag}")).map(|i| i + from) {
        let end = lower[start..].find('>').map_or(lower.len(), |i| i + start);
        let element = &lower[start..end];
        for quote in ['"', '\''] {
            let needle = format!("{attr}={quote}");
            if let Some(at) = element.find(&needle) {
                let value_start = start + at + needle.len();
                let value_end = html[value_start..]
                    .find(quote)
                    .map_or(html.len(), |i| i + value_start);
                urls.push(html[value_start..value_end].to_owned());
            }
        }
        from = end;
    }
    urls
}

async fn docs_load_nothing_from_other_hosts(app: TestApp) {
    let r = app.get_anon("/docs").await;
    r.assert_status(200);
    let content_type = r.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/html"),
        "Content-Type {content_type:?}"
    );
    assert!(
        r.text.to_ascii_lowercase().contains("swagger"),
        "not Swagger UI"
    );
    let mut loaded = attribute_urls(&r.text, "script", "src");
    loaded.extend(attribute_urls(&r.text, "link", "href"));
    loaded.extend(attribute_urls(&r.text, "img", "src"));
    for url in &loaded {
        let lower = url.to_ascii_lowercase();
        let external = lower.starts_with("http://")
            || lower.starts_with("https://")
            || lower.starts_with("//");
        assert!(
            !external || lower.starts_with(&app.base),
            "/docs loads {url} from another host"
        );
    }
    // Whatever it loads from the service itself must be there.
    for url in loaded
        .iter()
        .filter(|u| u.starts_with('/') && !u.starts_with("//"))
    {
        app.get_anon(url).await.assert_status(200);
    }
}

/// `path` with its parameters written `{}`.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// `METHOD /path` for every operation of the document, with path
/// parameters written `{}`.
fn operations(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if [
                "get", "put", "post", "delete", "patch", "options", "head", "trace",
            ]
            .contains(&method.as_str())
            {
                out.insert(format!("{} {}", method.to_uppercase(), normalise(path)));
            }
        }
    }
    out
}

async fn openapi_document_lists_exactly_the_contract(app: TestApp) {
    let doc = app.get_anon("/openapi.json").await.json_status(200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "OpenAPI 3: {}",
        doc["openapi"]
    );
    let mut listed = operations(&doc);
    for own in ["GET /docs", "GET /openapi.json", "GET /metrics"] {
        listed.remove(own);
    }
    let expected = set(&[
        "GET /",
        "GET /healthz",
        "GET /readyz",
        "POST /login",
        "POST /logout",
        "POST /logout/all",
        "POST /users",
        "GET /users",
        "GET /profile",
        "GET /users/me",
        "PUT /users/me/password",
        "GET /users/{}",
        "DELETE /users/{}",
        "PATCH /users/{}/role",
        "DELETE /users/{}/sessions",
        "GET /sessions",
        "DELETE /sessions/{}",
        "GET /posts",
        "POST /posts",
        "GET /posts/{}",
        "PUT /posts/{}",
        "DELETE /posts/{}",
        "POST /vote",
    ]);
    assert_eq!(listed, expected);
    let public = set(&[
        "GET /",
        "GET /healthz",
        "GET /readyz",
        "POST /login",
        "POST /users",
    ]);
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let name = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} has responses"));
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let normal = format!("{} {}", method.to_uppercase(), normalise(path));
            if expected.contains(&normal) && !public.contains(&normal) {
                assert!(
                    secured,
                    "{name} needs a token and must declare a security requirement"
                );
                assert!(responses.contains_key("401"), "{name} documents 401");
            }
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/json"]["schema"].is_object(),
                        "{name} documents {status} with a JSON schema: {response}"
                    );
                }
            }
        }
    }
    let login = &doc["paths"]["/login"]["post"];
    let content = login["requestBody"]["content"]
        .as_object()
        .expect("/login has a request body");
    assert!(
        content.contains_key("application/x-www-form-urlencoded"),
        "/login documents its form"
    );
    assert!(
        content.contains_key("application/json"),
        "/login documents its JSON body"
    );
    for status in ["200", "401", "429"] {
        assert!(
            login["responses"].get(status).is_some(),
            "/login documents {status}"
        );
    }
}

async fn openapi_document_declares_both_security_schemes(app: TestApp) {
    let doc = app.get_anon("/openapi.json").await.json_status(200);
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let bearer = schemes
        .values()
        .filter(|s| {
            s["type"] == "http"
                && s["scheme"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case("bearer"))
        })
        .count();
    assert_eq!(bearer, 1, "one http bearer scheme: {schemes:?}");
    let password: Vec<&Value> = schemes.values().filter(|s| s["type"] == "oauth2").collect();
    assert_eq!(password.len(), 1, "one oauth2 scheme: {schemes:?}");
    assert_eq!(password[0]["flows"]["password"]["tokenUrl"], "/login");
}

/// The document and the page Swagger UI shows name each response header as
/// the service sends it (`Link`, not `LINK`).
async fn response_headers_are_documented_as_sent(app: TestApp) {
    let doc = app.get_anon("/openapi.json").await.json_status(200);
    for path in ["/posts", "/users"] {
        let headers = doc["paths"][path]["get"]["responses"]["200"]["headers"]
            .as_object()
            .unwrap_or_else(|| panic!("GET {path} documents its headers"));
        let names: Vec<&String> = headers.keys().collect();
        assert_eq!(names, ["Link"], "GET {path}");
    }
    let page = app.get_anon("/docs").await;
    page.assert_status(200);
    assert!(
        page.text.contains("\"Link\""),
        "the page embeds the document"
    );
    assert!(
        !page.text.contains("\"LINK\""),
        "the page embeds the document"
    );
}

async fn unknown_paths_are_404(app: TestApp) {
    let user = app.user("alice").await;
    for path in [
        "/nope",
        "/post",
        "/posts/1/extra",
        "/users/1/roles",
        "/api/posts",
        "/docs.json",
        "/vote/1",
    ] {
        app.get_anon(path).await.assert_error(404, "Not Found");
        app.get(path, &user.token)
            .await
            .assert_error(404, "Not Found");
    }
    let r = app
        .send(app.request(Method::POST, "/nope").json(&json!({})))
        .await;
    r.assert_error(404, "Not Found");
}

async fn wrong_methods_are_405(app: TestApp) {
    let user = app.user("alice").await;
    let cases = [
        (Method::PATCH, "/posts"),
        (Method::DELETE, "/posts"),
        (Method::PUT, "/posts"),
        (Method::PATCH, "/posts/1"),
        (Method::POST, "/posts/1"),
        (Method::GET, "/vote"),
        (Method::DELETE, "/vote"),
        (Method::GET, "/login"),
        (Method::GET, "/logout"),
        (Method::PUT, "/users"),
        (Method::POST, "/users/1"),
        (Method::GET, "/users/1/role"),
        (Method::PUT, "/users/1/role"),
        (Method::POST, "/healthz"),
        (Method::DELETE, "/"),
        (Method::POST, "/profile"),
    ];
    for (method, path) in cases {
        let anon = app.send(app.request(method.clone(), path)).await;
        assert_eq!(anon.status, 405, "{method} {path}: {}", anon.text);
        anon.assert_error(405, "Method Not Allowed");
        let authed = app
            .send(app.request(method.clone(), path).bearer_auth(&user.token))
            .await;
        authed.assert_error(405, "Method Not Allowed");
    }
}

async fn trailing_slashes_are_answered_directly(app: TestApp) {
    let user = app
        .register(" Slash@Example.com", PASSWORD)
        .await
        .json_status(201);
    assert_eq!(user["email"], "slash@example.com");
    let form = [("username", "slash@example.com"), ("password", PASSWORD)];
    let login = app
        .send(app.request(Method::POST, "/login/").form(&form))
        .await
        .json_status(200);
    let token = login["access_token"].as_str().expect("token").to_owned();
    let created = app
        .post_json("/posts/", &token, &json!({ "title": "t", "content": "c" }))
        .await
        .json_status(201);
    let id = id_of(&created);
    assert_eq!(app.list_ids("/posts/", &token).await, vec![id]);
    assert_eq!(app.list_ids("/posts/?limit=1", &token).await, vec![id]);
    let vote = app
        .post_json("/vote/", &token, &json!({ "post_id": id, "dir": 1 }))
        .await
        .json_status(201);
    assert_eq!(vote["message"], "Successfully added vote");
    let admin = app.admin().await;
    let users = app.get("/users/", &admin.token).await.json_status(200);
    assert_eq!(users.as_array().map(Vec::len), Some(2));
    // Errors behind a trailing slash are the route's own, not a redirect.
    app.get_anon("/posts/")
        .await
        .assert_error(401, NOT_AUTHENTICATED);
    app.get("/users/", &token)
        .await
        .assert_error(403, FORBIDDEN);
    app.post_json("/vote/", &token, &json!({ "post_id": id, "dir": 1 }))
        .await
        .assert_error(
            409,
            &format!("User {} has already voted on post {id}", id_of(&user)),
        );
}

async fn trailing_slashes_on_item_routes(app: TestApp) {
    let user = app.user("alice").await;
    let id = app.post(&user.token, "item").await;
    let post = app
        .get(&format!("/posts/{id}/"), &user.token)
        .await
        .json_status(200);
    assert_eq!(id_of(&post), id);
    app.get(&format!("/users/{}/", user.id), &user.token)
        .await
        .json_status(200);
    app.get("/profile/", &user.token).await.json_status(200);
    app.get_anon("/healthz/").await.json_status(200);
    app.delete(&format!("/posts/{id}/"), &user.token)
        .await
        .assert_status(204);
}

/// Whether a comma-separated CORS header value allows `item` (or `*`).
fn allows(value: Option<&str>, item: &str) -> bool {
    value.is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|x| x == "*" || x.eq_ignore_ascii_case(item))
    })
}

async fn cors_preflight_is_answered_for_any_origin(app: TestApp) {
    let origin = "http://some-frontend.example:3000";
    for (path, method) in [
        ("/posts", "POST"),
        ("/login", "POST"),
        ("/posts/1", "DELETE"),
        ("/users/1/role", "PATCH"),
    ] {
        let preflight = app
            .request(Method::OPTIONS, path)
            .header("Origin", origin)
            .header("Access-Control-Request-Method", method)
            .header(
                "Access-Control-Request-Headers",
                "authorization, content-type",
            );
        let r = app.send(preflight).await;
        assert!(
            r.status.is_success(),
            "preflight {path}: {} {}",
            r.status,
            r.text
        );
        let allow_origin = r.header("access-control-allow-origin");
        assert!(
            allow_origin == Some("*") || allow_origin == Some(origin),
            "allow-origin {allow_origin:?}"
        );
        assert!(
            allows(r.header("access-control-allow-methods"), method),
            "{:?}",
            r.headers
        );
        assert!(
            allows(r.header("access-control-allow-headers"), "authorization"),
            "{:?}",
            r.headers
        );
    }
    // Actual responses carry the header too, errors included.
    for r in [
        app.send(app.request(Method::GET, "/").header("Origin", origin))
            .await,
        app.send(app.request(Method::GET, "/posts").header("Origin", origin))
            .await,
    ] {
        let allow_origin = r.header("access-control-allow-origin");
        assert!(
            allow_origin == Some("*") || allow_origin == Some(origin),
            "{} allow-origin {allow_origin:?}",
            r.status
        );
    }
}

async fn cors_origins_are_configurable(app: TestApp) {
    let preflight = |origin: &str| {
        app.request(Method::OPTIONS, "/posts")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
    };
    let r = app.send(preflight(ALLOWED_ORIGIN)).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.text);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    let r = app.send(preflight("http://evil.example")).await;
    let allow_origin = r.header("access-control-allow-origin");
    assert!(
        allow_origin != Some("*") && allow_origin != Some("http://evil.example"),
        "{:?}",
        r.headers
    );
    if r.status.is_client_error() {
        r.error_detail(r.status.as_u16());
    }
    let r = app
        .send(
            app.request(Method::GET, "/healthz")
                .header("Origin", ALLOWED_ORIGIN),
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN)
    );
    let r = app
        .send(
            app.request(Method::GET, "/healthz")
                .header("Origin", "http://evil.example"),
        )
        .await;
    let allow_origin = r.header("access-control-allow-origin");
    assert!(
        allow_origin != Some("*") && allow_origin != Some("http://evil.example"),
        "{:?}",
        r.headers
    );
    if r.status.is_client_error() {
        r.error_detail(r.status.as_u16());
    }
}

async fn every_error_is_detail_json(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let post = app.post(&alice.token, "p").await;
    let draft = app.draft(&alice.token, "d").await;
    let t = alice.token.as_str();
    let json_body = |method: Method, path: &str, raw: &'static str| {
        app.request(method, path)
            .bearer_auth(t)
            .header("Content-Type", "application/json")
            .body(raw)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
        (json_body(Method::POST, "/posts", "{"), 400),
        (app.request(Method::GET, "/posts"), 401),
        (app.request(Method::GET, "/posts").bearer_auth("x"), 401),
        (app.request(Method::GET, "/users").bearer_auth(t), 403),
        (
            app.request(Method::PUT, &format!("/posts/{post}"))
                .bearer_auth(&bob.token)
                .json(&json!({ "title": "t", "content": "c" })),
            403,
        ),
        (
            app.request(Method::GET, &format!("/posts/{draft}"))
                .bearer_auth(&bob.token),
            404,
        ),
        (app.request(Method::GET, "/no/such/path"), 404),
        (app.request(Method::DELETE, "/vote"), 405),
        (
            app.request(Method::POST, "/users")
                .json(&json!({ "email": alice.email, "password": PASSWORD })),
            409,
        ),
        (
            app.request(Method::POST, "/posts")
                .bearer_auth(t)
                .header("Content-Type", "text/plain")
                .body("x"),
            415,
        ),
        (json_body(Method::POST, "/posts", "[]"), 422),
        (
            json_body(Method::POST, "/vote", r#"{"post_id": 1, "dir": 5}"#),
            422,
        ),
        (
            app.request(Method::GET, "/posts?limit=1000").bearer_auth(t),
            422,
        ),
        (app.request(Method::GET, "/posts/zero").bearer_auth(t), 422),
        (
            app.request(Method::POST, "/login").form(&[
                ("username", "x@example.com"),
                ("password", "wrong password"),
            ]),
            401,
        ),
    ];
    for (request, status) in cases {
        let r = app.send(request).await;
        let detail = r.error_detail(status);
        assert!(!detail.is_empty(), "empty detail for {status}");
        assert!(
            !detail.contains("panicked") && !detail.contains("src/"),
            "internals leak: {detail}"
        );
    }
    let big = app
        .raw(
            "POST",
            "/users",
            &[("Content-Type", "application/json")],
            vec![b' '; MIB + 1],
            true,
        )
        .await;
    big.error_detail(413);
}

async fn json_bodies_must_be_objects_on_every_route(app: TestApp) {
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let post = app.post(&alice.token, "target").await;
    // Each array lists valid values in the fields' order: only the shape is wrong.
    let role = format!("/users/{}/role", alice.id);
    let cases = [
        (
            Method::POST,
            "/users".to_owned(),
            None,
            json!(["array@example.com", PASSWORD]),
        ),
        (
            Method::POST,
            "/login".to_owned(),
            None,
            json!([alice.email, PASSWORD]),
        ),
        (
            Method::POST,
            "/posts".to_owned(),
            Some(&alice.token),
            json!(["t", "c", true]),
        ),
        (
            Method::PUT,
            format!("/posts/{post}"),
            Some(&alice.token),
            json!(["t", "c", true]),
        ),
        (
            Method::POST,
            "/vote".to_owned(),
            Some(&alice.token),
            json!([post, 1]),
        ),
        (Method::PATCH, role, Some(&admin.token), json!(["admin"])),
    ];
    for (method, path, token, body) in cases {
        let mut request = app.request(method.clone(), &path).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let r = app.send(request).await;
        assert_eq!(r.status, 422, "{method} {path} with {body}: {}", r.text);
        r.error_detail(422);
    }
    app.login("array@example.com", PASSWORD)
        .await
        .assert_error(401, "Invalid Credentials");
    assert_eq!(app.votes_of(&alice.token, post).await, 0);
    let profile = app.get("/profile", &alice.token).await.json_status(200);
    assert_eq!(profile["user"]["role"], "user");
}

async fn stop_is_graceful(app: TestApp) {
    let addr = app.addr;
    app.get_anon("/healthz").await.assert_status(200);
    tokio::time::timeout(std::time::Duration::from_secs(30), app.stop())
        .await
        .expect("stops promptly when idle");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting after stop"
    );
}

async fn json_bodies_must_not_repeat_a_key_on_every_route(app: TestApp) {
    let alice = app.user("alice").await;
    let admin = app.admin().await;
    let post = app.post(&alice.token, "target").await;
    let role = format!("/users/{}/role", alice.id);
    let email = &alice.email;
    // Each body is valid with either value: only the repetition is wrong.
    let cases = [
        (
            Method::POST,
            "/users".to_owned(),
            None,
            format!(
                r#"{{"email": "dup@example.com", "password": "{PASSWORD}", "password": "another password"}}"#
            ),
            "password",
        ),
        (
            Method::POST,
            "/login".to_owned(),
            None,
            format!(
                r#"{{"username": "{email}", "username": "x@example.com", "password": "{PASSWORD}"}}"#
            ),
            "username",
        ),
        (
            Method::POST,
            "/posts".to_owned(),
            Some(&alice.token),
            r#"{"title": "t", "content": "c", "published": true, "published": false}"#.to_owned(),
            "published",
        ),
        (
            Method::PUT,
            format!("/posts/{post}"),
            Some(&alice.token),
            r#"{"title": "t", "title": "u", "content": "c"}"#.to_owned(),
            "title",
        ),
        (
            Method::POST,
            "/vote".to_owned(),
            Some(&alice.token),
            format!(r#"{{"post_id": {post}, "dir": 1, "dir": 0}}"#),
            "dir",
        ),
        (
            Method::PATCH,
            role.clone(),
            Some(&admin.token),
            r#"{"role": "user", "role": "admin"}"#.to_owned(),
            "role",
        ),
        (
            Method::POST,
            "/posts".to_owned(),
            Some(&alice.token),
            r#"{"title": "t", "content": "c", "rating": 1, "rating": 2}"#.to_owned(),
            "rating",
        ),
    ];
    for (method, path, token, body, key) in cases {
        let mut request = app
            .request(method.clone(), &path)
            .header("Content-Type", "application/json")
            .body(body.clone());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        app.send(request)
            .await
            .assert_error(422, &format!("Duplicate field: {key}"));
    }
    // Nothing happened: no user, no role change, no vote, the post as it was.
    app.login("dup@example.com", PASSWORD)
        .await
        .assert_error(401, "Invalid Credentials");
    let me = app.get(&format!("/users/{}", alice.id), &alice.token).await;
    assert_eq!(me.json_status(200)["role"], "user");
    let body = app
        .get(&format!("/posts/{post}"), &alice.token)
        .await
        .json_status(200);
    assert_eq!(
        (&body["title"], &body["votes"]),
        (&json!("target"), &json!(0))
    );
}

async fn cors_preflight_offers_only_the_methods_served(app: TestApp) {
    let preflight = |method: &str| {
        app.request(Method::OPTIONS, "/posts")
            .header("Origin", "http://some-frontend.example")
            .header("Access-Control-Request-Method", method)
    };
    let r = app.send(preflight("POST")).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.text);
    let offered: Vec<String> = r
        .header("access-control-allow-methods")
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_uppercase())
        .collect();
    let served = ["DELETE", "GET", "PATCH", "POST", "PUT"];
    for method in &offered {
        assert!(
            served.contains(&method.as_str()),
            "offers {method}: {offered:?}"
        );
    }
    assert!(offered.iter().any(|m| m == "POST"), "{offered:?}");
    for method in ["TRACE", "CONNECT", "FOO"] {
        let r = app.send(preflight(method)).await;
        assert!(
            r.status.is_client_error(),
            "{method}: {} {}",
            r.status,
            r.text
        );
        r.error_detail(r.status.as_u16());
        assert_eq!(r.header("access-control-allow-methods"), None, "{method}");
    }
}
