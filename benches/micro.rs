//! Micro benches: token issue and verify, the policy, the memory store
//! at 1,000 and 1,000,000 posts (lookup, first page, a search, a create),
//! and the per-request cost of counting a request in the metrics: the
//! hand-written exporter against `prometheus-client` used the same way.
//! Run with `cargo bench --bench micro`; compare the 1k and 1M rows of
//! each group side by side.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use posts_api::adapters::clock::ManualClock;
use posts_api::adapters::jwt::{JwtTokens, random_token_ids};
use posts_api::adapters::memory::MemoryStore;
use posts_api::domain::policy::{self, Visibility};
use posts_api::domain::{
    EmailAddress, NewPost, NewUser, Page, PasswordHash, PostContent, PostFilter, PostId, PostTitle,
    Role, Search, SessionId, User, UserId,
};
use posts_api::http::metrics::Metrics;
use posts_api::ports::{PostStore, TokenIssuer, TokenVerifier, UserStore};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use time::{Duration, OffsetDateTime};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn tokens(c: &mut Criterion) {
    let clock = ManualClock::starting_now();
    let jwt = JwtTokens::new(
        "bench-secret",
        &[],
        Duration::minutes(30),
        Arc::new(clock),
        random_token_ids(),
    );
    let user = UserId::new(42).unwrap();
    let session = SessionId::new(7).unwrap();
    let token = jwt.issue(user, session).token;
    c.bench_function("token/issue", |b| {
        b.iter(|| jwt.issue(black_box(user), session))
    });
    c.bench_function("token/verify", |b| b.iter(|| jwt.verify(black_box(&token))));
}

fn policy_rules(c: &mut Criterion) {
    let viewer = User {
        id: UserId::new(1).unwrap(),
        email: EmailAddress::parse("a@example.com").unwrap(),
        role: Role::User,
        created_at: OffsetDateTime::UNIX_EPOCH,
    };
    let owner = UserId::new(2).unwrap();
    c.bench_function("policy/can_view_post", |b| {
        b.iter(|| policy::can_view_post(black_box(&viewer), black_box(owner), black_box(false)))
    });
}

/// A store with `n` posts by 10 users, one in ten a draft, 200-byte content.
fn seeded(rt: &tokio::runtime::Runtime, n: i64) -> (MemoryStore, UserId) {
    let store = MemoryStore::new(Arc::new(ManualClock::starting_now()));
    rt.block_on(async {
        let mut owners = Vec::new();
        for i in 0..10 {
            let email = EmailAddress::parse(&format!("u{i}@example.com")).unwrap();
            let new = NewUser {
                email,
                password_hash: PasswordHash::new("x".into()),
                role: Role::User,
            };
            owners.push(UserStore::create(&store, new).await.unwrap().id);
        }
        let content = PostContent::parse(&"c".repeat(200)).unwrap();
        for i in 0..n {
            let new = NewPost {
                owner_id: owners[(i % 10) as usize],
                title: PostTitle::parse(&format!("post number {i}")).unwrap(),
                content: content.clone(),
                published: i % 10 != 0,
            };
            PostStore::create(&store, new, OffsetDateTime::UNIX_EPOCH)
                .await
                .unwrap();
        }
        (store, owners[1])
    })
}

fn store(c: &mut Criterion) {
    let rt = runtime();
    for n in [1_000i64, 1_000_000] {
        let (store, viewer) = seeded(&rt, n);
        let first_page = PostFilter {
            visibility: Visibility::PublishedOrOwnedBy(viewer),
            search: None,
            before: None,
            page: Page::new(10, 0).unwrap(),
        };
        let search = PostFilter {
            search: Search::parse("number 99").unwrap(),
            ..first_page.clone()
        };
        let mid = PostId::new(n / 2).unwrap();
        let mut group = c.benchmark_group(format!("memory/{n}"));
        group.sample_size(if n > 10_000 { 20 } else { 100 });
        group.bench_function("get", |b| {
            b.iter(|| rt.block_on(PostStore::get(&store, black_box(mid))))
        });
        group.bench_function("first_page", |b| {
            b.iter(|| rt.block_on(PostStore::list(&store, black_box(&first_page))))
        });
        group.bench_function("search", |b| {
            b.iter(|| rt.block_on(PostStore::list(&store, black_box(&search))))
        });
        group.finish();
    }
}

/// The labels of `http_requests_total` as `prometheus-client` wants them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    // Borrowed from the route table in the service, so owned here.
    route: String,
    status: u16,
}

/// The label of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

/// One answered request counted: what `http::observe` does per request.
fn metrics_observe(c: &mut Criterion) {
    let ours = Metrics::default();
    c.bench_function("metrics/observe/hand-written", |b| {
        b.iter(|| ours.observe(black_box("GET"), black_box("/posts/{id}"), 200, 0.000_371))
    });

    let mut registry = Registry::default();
    let requests = Family::<RequestLabels, Counter>::default();
    let latency = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
        Histogram::new([
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ])
    });
    registry.register("http_requests", "Requests answered.", requests.clone());
    registry.register("http_request_duration_seconds", "Latency.", latency.clone());
    c.bench_function("metrics/observe/prometheus-client", |b| {
        b.iter(|| {
            let route = black_box("/posts/{id}");
            requests
                .get_or_create(&RequestLabels {
                    method: black_box("GET"),
                    route: route.to_owned(),
                    status: 200,
                })
                .inc();
            latency
                .get_or_create(&RouteLabel {
                    route: route.to_owned(),
                })
                .observe(0.000_371);
        })
    });
}

criterion_group!(benches, tokens, policy_rules, store, metrics_observe);
criterion_main!(benches);
