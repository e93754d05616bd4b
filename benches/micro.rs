//! Micro benches: token issue and verify, the policy, the memory store
//! at 1,000 and 1,000,000 posts (a lookup, and pages of every shape: viewers
//! who see all, most or few of the posts; searches absent, rare, common,
//! short, made of common trigrams; cursors near the oldest post),
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

/// The viewers of the store shapes: a reader with no posts, the author of
/// most posts (60 %, published), an owner of many drafts (40 %) and an admin.
struct Viewers {
    reader: Visibility,
    author: Visibility,
    drafter: Visibility,
    admin: Visibility,
}

/// A store with `n` posts, 200-byte content: three in five published by
/// the author, two in five drafts of the drafter (400k at 1M). Titles are
/// `post number {i} abc qrs rst vwxy wxyz` (`draft` for drafts, `bcd` for
/// odd `i`), so "abcd" is made of trigrams each in half the titles and held
/// by none, "qrst" of trigrams every title holds apart, and "vwxyz" of
/// 4-grams every title holds apart; one old draft of the drafter says
/// "unicorn".
fn seeded(rt: &tokio::runtime::Runtime, n: i64) -> (MemoryStore, Viewers) {
    let store = MemoryStore::new(Arc::new(ManualClock::starting_now()));
    rt.block_on(async {
        let mut users = Vec::new();
        for name in ["reader", "author", "drafter"] {
            let email = EmailAddress::parse(&format!("{name}@example.com")).unwrap();
            let new = NewUser {
                email,
                password_hash: PasswordHash::new("x".into()),
                role: Role::User,
            };
            users.push(UserStore::create(&store, new).await.unwrap().id);
        }
        let content = PostContent::parse(&"c".repeat(200)).unwrap();
        for i in 0..n {
            let draft = i % 5 < 2;
            let (kind, owner) = if draft {
                ("draft", users[2])
            } else {
                ("post", users[1])
            };
            let half = if i % 2 == 0 { "abc" } else { "bcd" };
            let title = if i == 1 {
                "draft unicorn".to_owned()
            } else {
                format!("{kind} number {i} {half} qrs rst vwxy wxyz")
            };
            let new = NewPost {
                owner_id: owner,
                title: PostTitle::parse(&title).unwrap(),
                content: content.clone(),
                published: !draft,
            };
            PostStore::create(&store, new, OffsetDateTime::UNIX_EPOCH)
                .await
                .unwrap();
        }
        let viewers = Viewers {
            reader: Visibility::PublishedOrOwnedBy(users[0]),
            author: Visibility::PublishedOrOwnedBy(users[1]),
            drafter: Visibility::PublishedOrOwnedBy(users[2]),
            admin: Visibility::Everything,
        };
        (store, viewers)
    })
}

/// The page shapes measured side by side: (name, viewer, search, before, skip).
fn shapes(v: &Viewers) -> Vec<(&'static str, Visibility, &'static str, Option<i64>, i64)> {
    vec![
        ("first_page", v.reader, "", None, 0),
        ("first_page/author", v.author, "", None, 0),
        ("first_page/drafter", v.drafter, "", None, 0),
        ("first_page/admin", v.admin, "", None, 0),
        ("before_oldest", v.reader, "", Some(40), 0),
        ("skip_300k", v.reader, "", None, 300_000),
        ("search/absent", v.reader, "zebra", None, 0),
        ("search/rare", v.reader, "number 777", None, 0),
        ("search/common", v.reader, "post", None, 0),
        ("search/short_common", v.reader, "7", None, 0),
        ("search/short_absent", v.reader, "qj", None, 0),
        ("search/common_trigrams", v.reader, "abcd", None, 0),
        ("search/common_trigrams_apart", v.reader, "qrst", None, 0),
        ("search/common_4grams_apart", v.reader, "vwxyz", None, 0),
        ("search/one_draft_by_drafter", v.drafter, "unicorn", None, 0),
        ("search/others_drafts", v.reader, "draft", None, 0),
        ("search/admin_rare", v.admin, "number 777", None, 0),
        ("search/rare_before_oldest", v.reader, "number", Some(40), 0),
        // The first page again, once the others have warmed what they share.
        ("first_page/again", v.reader, "", None, 0),
    ]
}

fn store(c: &mut Criterion) {
    let rt = runtime();
    for n in [1_000i64, 1_000_000] {
        let (store, viewers) = seeded(&rt, n);
        let mid = PostId::new(n / 2).unwrap();
        let mut group = c.benchmark_group(format!("memory/{n}"));
        if n > 10_000 {
            group
                .sample_size(10)
                .warm_up_time(std::time::Duration::from_millis(500))
                .measurement_time(std::time::Duration::from_secs(2));
        }
        group.bench_function("get", |b| {
            b.iter(|| rt.block_on(PostStore::get(&store, black_box(mid))))
        });
        for (name, visibility, term, before, skip) in shapes(&viewers) {
            let filter = PostFilter {
                visibility,
                search: Search::parse(term).unwrap(),
                before: before.and_then(PostId::new),
                page: Page::new(10, skip).unwrap(),
            };
            group.bench_function(name, |b| {
                b.iter(|| rt.block_on(PostStore::list(&store, black_box(&filter))))
            });
        }
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
