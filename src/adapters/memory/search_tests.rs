//! The posts' index against a plain scan: random creates, title and flag
//! updates, deletes and pages (any viewer, search, cursor, skip, limit)
//! on a store whose index blocks hold 4 ids, so that every page spans
//! blocks; and concurrent writers of one title losing no update.

use std::sync::Arc;

use proptest::prelude::*;
use time::OffsetDateTime;

use super::MemoryStore;
use super::post_index::PostIndex;
use crate::adapters::clock::ManualClock;
use crate::domain::policy::Visibility;
use crate::domain::{
    EmailAddress, NewPost, NewUser, Page, PasswordHash, PostContent, PostFilter, PostId, PostTitle,
    PostUpdate, Role, Search, UserId,
};
use crate::ports::{PostStore, UserStore};

/// Characters whose folding is not one to one (dotted capital I, final
/// sigma, Kelvin sign, sharp s) among plain ones, so titles and terms
/// collide often and fold in every way.
const TEXT: &str = "[abAB İıσΣςßK]";

#[derive(Debug, Clone)]
enum Op {
    Create {
        owner: usize,
        title: String,
        published: bool,
    },
    Update {
        pick: usize,
        title: String,
        published: bool,
    },
    Delete {
        pick: usize,
    },
    List {
        /// 0..3 a user, 3 an admin.
        viewer: usize,
        term: String,
        /// A cursor somewhere around the ids in use.
        before: Option<i64>,
        skip: i64,
        limit: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let title = || proptest::string::string_regex(&format!("{TEXT}{{1,8}}")).unwrap();
    prop_oneof![
        4 => (0..3usize, title(), any::<bool>())
            .prop_map(|(owner, title, published)| Op::Create { owner, title, published }),
        2 => (any::<usize>(), title(), any::<bool>())
            .prop_map(|(pick, title, published)| Op::Update { pick, title, published }),
        1 => any::<usize>().prop_map(|pick| Op::Delete { pick }),
        4 => (
            0..4usize,
            proptest::string::string_regex(&format!("{TEXT}{{0,5}}")).unwrap(),
            proptest::option::of(1..70i64),
            0..5i64,
            1..6i64,
        )
            .prop_map(|(viewer, term, before, skip, limit)| Op::List {
                viewer,
                term,
                before,
                skip,
                limit,
            }),
    ]
}

/// A post as the plain scan sees it.
struct Row {
    id: i64,
    owner: UserId,
    title: String,
    published: bool,
}

fn store_with_users(rt: &tokio::runtime::Runtime) -> (MemoryStore, Vec<UserId>) {
    let clock = Arc::new(ManualClock::starting_now());
    let store = MemoryStore::with_index(clock, PostIndex::with_block_bits(2));
    let users = rt.block_on(async {
        let mut users = Vec::new();
        for i in 0..3 {
            let new = NewUser {
                email: EmailAddress::parse(&format!("u{i}@example.com")).unwrap(),
                password_hash: PasswordHash::new("x".into()),
                role: Role::User,
            };
            users.push(UserStore::create(&store, new).await.unwrap().id);
        }
        users
    });
    (store, users)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// The page a plain scan gives: newest first, visible, matching, below
/// the cursor, then skip and limit.
fn scan(rows: &[Row], filter: &PostFilter) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .iter()
        .filter(|r| filter.visibility.allows(r.owner, r.published))
        .filter(|r| filter.search.as_ref().is_none_or(|s| s.matches(&r.title)))
        .filter(|r| filter.before.is_none_or(|b| r.id < b.get()))
        .map(|r| r.id)
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    ids.into_iter()
        .skip(filter.page.skip() as usize)
        .take(filter.page.limit() as usize)
        .collect()
}

fn content() -> PostContent {
    PostContent::parse("body").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn pages_match_a_plain_scan(ops in proptest::collection::vec(op(), 1..80)) {
        let rt = runtime();
        let (store, users) = store_with_users(&rt);
        let mut rows: Vec<Row> = Vec::new();
        for op in ops {
            match op {
                Op::Create { owner, title, published } => {
                    let Ok(title) = PostTitle::parse(&title) else { continue };
                    let new = NewPost {
                        owner_id: users[owner],
                        title: title.clone(),
                        content: content(),
                        published,
                    };
                    let view = rt
                        .block_on(PostStore::create(&store, new, OffsetDateTime::UNIX_EPOCH))
                        .unwrap();
                    rows.push(Row {
                        id: view.id.get(),
                        owner: users[owner],
                        title: title.as_str().to_owned(),
                        published,
                    });
                }
                Op::Update { pick, title, published } => {
                    let Ok(title) = PostTitle::parse(&title) else { continue };
                    if rows.is_empty() {
                        continue;
                    }
                    let n = rows.len();
                    let row = &mut rows[pick % n];
                    let update = PostUpdate { title: title.clone(), content: content(), published };
                    let id = PostId::new(row.id).unwrap();
                    let view = rt.block_on(PostStore::update(&store, id, update)).unwrap();
                    prop_assert!(view.is_some());
                    row.title = title.as_str().to_owned();
                    row.published = published;
                }
                Op::Delete { pick } => {
                    if rows.is_empty() {
                        continue;
                    }
                    let row = rows.remove(pick % rows.len());
                    let id = PostId::new(row.id).unwrap();
                    prop_assert!(rt.block_on(PostStore::delete(&store, id)).unwrap());
                }
                Op::List { viewer, term, before, skip, limit } => {
                    let visibility = match users.get(viewer) {
                        Some(&user) => Visibility::PublishedOrOwnedBy(user),
                        None => Visibility::Everything,
                    };
                    let filter = PostFilter {
                        visibility,
                        search: Search::parse(&term).unwrap(),
                        before: before.and_then(PostId::new),
                        page: Page::new(limit, skip).unwrap(),
                    };
                    let page = rt.block_on(PostStore::list(&store, &filter)).unwrap();
                    let got: Vec<i64> = page.iter().map(|p| p.id.get()).collect();
                    prop_assert_eq!(got, scan(&rows, &filter), "{:?}", filter);
                }
            }
        }
    }
}

/// Writers racing on one post's title and flag, with readers searching
/// meanwhile: afterwards the index finds the post by its last title and
/// by no other, and shows it to a reader only if it is published.
#[test]
fn concurrent_title_updates_lose_nothing() {
    let rt = runtime();
    let (store, users) = store_with_users(&rt);
    let new = NewPost {
        owner_id: users[0],
        title: PostTitle::parse("first title").unwrap(),
        content: content(),
        published: true,
    };
    let id = rt
        .block_on(PostStore::create(&store, new, OffsetDateTime::UNIX_EPOCH))
        .unwrap()
        .id;
    let title = |w: usize, k: usize| format!("writer{w}x{k}z");
    std::thread::scope(|scope| {
        for w in 0..4 {
            let store = store.clone();
            scope.spawn(move || {
                let rt = runtime();
                for k in 0..200 {
                    let update = PostUpdate {
                        title: PostTitle::parse(&title(w, k)).unwrap(),
                        content: content(),
                        published: (w + k) % 2 == 0,
                    };
                    rt.block_on(PostStore::update(&store, id, update)).unwrap();
                }
            });
        }
        let store = store.clone();
        scope.spawn(move || {
            let rt = runtime();
            for _ in 0..200 {
                let filter = PostFilter {
                    visibility: Visibility::Everything,
                    search: Search::parse("writer").unwrap(),
                    before: None,
                    page: Page::new(10, 0).unwrap(),
                };
                rt.block_on(PostStore::list(&store, &filter)).unwrap();
            }
        });
    });
    let last = rt.block_on(PostStore::get(&store, id)).unwrap().unwrap();
    let found = |visibility: Visibility, term: &str| {
        let filter = PostFilter {
            visibility,
            search: Search::parse(term).unwrap(),
            before: None,
            page: Page::new(10, 0).unwrap(),
        };
        !rt.block_on(PostStore::list(&store, &filter))
            .unwrap()
            .is_empty()
    };
    for w in 0..4 {
        for k in [0, 100, 199] {
            let term = title(w, k);
            assert_eq!(
                found(Visibility::Everything, &term),
                last.title.as_str() == term,
                "{term} against {}",
                last.title.as_str()
            );
        }
    }
    let reader = Visibility::PublishedOrOwnedBy(users[1]);
    assert_eq!(found(reader, last.title.as_str()), last.published);
    assert!(found(Visibility::Everything, last.title.as_str()));
}
