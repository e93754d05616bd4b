//! The limits `benches/http_load.sh` measures the service against, in the
//! same run:
//!
//! - `bare_route serve`: a bare poem route doing the same work as the
//!   service's routes without its middleware and without poem-openapi.
//!   `GET /healthz` answers `{"status":"ok"}`; `GET /posts/{id}` checks the
//!   bearer token (the same HS256 verifier over `jsonwebtoken`, same key),
//!   asks the same DashMap-backed memory store the same question (token
//!   session, user and post in one call) and answers the same JSON shape.
//!   Built from the same configuration (`SEED_POSTS`, `JWT_SECRET`, ...),
//!   on the same tokio runtime settings (`#[tokio::main]`) and the same poem
//!   version, served by `poem::Server`. It logs in as the seeded user
//!   itself (its sessions are its own) and prints `token <jwt>` on stdout
//!   once it listens.
//! - `bare_route bcrypt COST N`: the machine's bcrypt limit: N hashes at
//!   COST one after another on one thread at normal priority; prints each
//!   hash's seconds and `median <s>` (the limit is cores / median).

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use poem::http::{StatusCode, header};
use poem::listener::TcpListener;
use poem::web::{Data, Path};
use poem::{EndpointExt, Request, Response, Route, Server, get, handler};
use posts_api::adapters::clock::SystemClock;
use posts_api::config::Cli;
use posts_api::domain::{PostId, PostView};
use posts_api::service::Service;
use serde::Serialize;

/// The JSON of a user, as the service writes it.
#[derive(Serialize)]
struct UserJson<'a> {
    id: i64,
    email: &'a str,
    role: &'a str,
    #[serde(serialize_with = "posts_api::http::json::rfc3339")]
    created_at: time::OffsetDateTime,
}

/// The JSON of a post, as the service writes it.
#[derive(Serialize)]
struct PostJson<'a> {
    id: i64,
    title: &'a str,
    content: &'a str,
    published: bool,
    #[serde(serialize_with = "posts_api::http::json::rfc3339")]
    created_at: time::OffsetDateTime,
    owner_id: i64,
    owner: UserJson<'a>,
    votes: i64,
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body)
}

fn detail(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::to_vec(&serde_json::json!({ "detail": detail })).unwrap_or_default();
    json(status, body)
}

#[handler]
fn healthz() -> Response {
    json(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

#[handler]
async fn get_post(req: &Request, Path(id): Path<i64>, service: Data<&Service>) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = token.and_then(|t| service.verify_token(t.trim()).ok()) else {
        return detail(StatusCode::UNAUTHORIZED, "Could not validate credentials");
    };
    let Some(id) = PostId::new(id) else {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "id: out of range");
    };
    match service.get_post_for_token(&claims, id).await {
        Ok(post) => json(StatusCode::OK, render(&post)),
        Err(_) => detail(StatusCode::NOT_FOUND, "Post not found"),
    }
}

fn render(p: &PostView) -> Vec<u8> {
    let out = PostJson {
        id: p.id.get(),
        title: p.title.as_str(),
        content: p.content.as_str(),
        published: p.published,
        created_at: p.created_at,
        owner_id: p.owner.id.get(),
        owner: UserJson {
            id: p.owner.id.get(),
            email: p.owner.email.as_str(),
            role: p.owner.role.as_str(),
            created_at: p.owner.created_at,
        },
        votes: p.votes,
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

/// N hashes at `cost` on this thread; the median seconds of one.
fn bcrypt_limit(cost: u32, n: usize) {
    let mut times: Vec<f64> = (0..n.max(1))
        .map(|_| {
            let started = Instant::now();
            let _ = bcrypt::hash("seed-password", cost);
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("hashes {times:?}");
    println!("median {:.4}", times[times.len() / 2]);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("bcrypt") {
        let cost = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(12);
        let n = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
        bcrypt_limit(cost, n);
        return;
    }
    // The service's own flags and environment (`serve` is its subcommand).
    let cli = Cli::parse_from(&args);
    let config = cli.config;
    posts_api::telemetry::init(&config.rust_log, config.log_format);
    let service = posts_api::app::build_service(&config, Arc::new(SystemClock))
        .await
        .expect("the service builds");
    let login = service
        .login(
            "seed@example.com",
            "seed-password",
            [127, 0, 0, 1].into(),
            None,
        )
        .await
        .expect("the seeded user logs in (SEED_POSTS > 0)");
    let app = Route::new()
        .at("/healthz", get(healthz))
        .at("/posts/:id", get(get_post))
        .data(service);
    let listener = TcpListener::bind(config.bind_addr.clone());
    let acceptor = poem::listener::Listener::into_acceptor(listener)
        .await
        .expect("the address binds");
    println!("token {}", login.access.token);
    Server::new_with_acceptor(acceptor)
        .run(app)
        .await
        .expect("serves");
}
