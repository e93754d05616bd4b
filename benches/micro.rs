//! Micro benches: token issue and verify, the policy, and the memory store
//! at 1,000 and 1,000,000 posts (lookup, first page, a search, a create).
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
    Role, Search, User, UserId,
};
use posts_api::ports::{PostStore, TokenIssuer, TokenVerifier, UserStore};
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
    let token = jwt.issue(user).token;
    c.bench_function("token/issue", |b| b.iter(|| jwt.issue(black_box(user))));
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

criterion_group!(benches, tokens, policy_rules, store);
criterion_main!(benches);
