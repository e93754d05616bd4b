//! The Postgres store lists posts exactly as the memory store does: the
//! same operations on both, then every visibility, search (with `%`, `_`,
//! `\` and non-ASCII case folding) and page compared; and its checked
//! changes (update, delete, vote as a user) answer as the memory store's.

mod postgres_support;

use std::sync::Arc;

use postgres_support::{TestDb, clock, new_post, new_user, open_store};
use posts_api::adapters::clock::ManualClock;
use posts_api::adapters::memory::MemoryStore;
use posts_api::domain::policy::{self, Visibility};
use posts_api::domain::{
    Page, PostContent, PostFilter, PostId, PostTitle, PostUpdate, Role, Search, UserId,
};
use posts_api::ports::{KeepAdmin, PostChange, PostStore, UserStore, VoteStore, Voted};

#[tokio::test]
async fn posts_list_exactly_as_in_memory() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let pg = open_store(&db.url, &clock).await;
    let memory = MemoryStore::new(Arc::new(clock.clone()));
    let stores: [&dyn Stores; 2] = [&pg, &memory];
    let titles = [
        "Hello World",
        "50% off_sale",
        "back\\slash",
        "Un ÉTÉ chaud",
        "İstanbul",
        "ΟΔΟΣ",
        "plain",
        "hello again",
        "a_b",
        "100%",
    ];
    for store in stores {
        for email in ["a@example.com", "b@example.com", "c@example.com"] {
            store.users().create(new_user(email)).await.unwrap();
        }
        for (i, title) in titles.iter().enumerate() {
            let owner = UserId::new(1 + (i as i64 % 3)).unwrap();
            let created = posts_api::ports::Clock::now(&clock) + time::Duration::seconds(i as i64);
            store
                .posts()
                .create(new_post(owner, title, i % 4 != 1), created)
                .await
                .unwrap();
        }
        let update = PostUpdate {
            title: PostTitle::parse("Edited HELLO").unwrap(),
            content: PostContent::parse("new").unwrap(),
            published: false,
        };
        store
            .posts()
            .update(PostId::new(7).unwrap(), update)
            .await
            .unwrap()
            .unwrap();
        store.posts().delete(PostId::new(3).unwrap()).await.unwrap();
        for voter in 1..=3 {
            store
                .votes()
                .add(UserId::new(voter).unwrap(), PostId::new(1).unwrap())
                .await
                .unwrap();
        }
    }
    let searches = [
        "",
        "hello",
        "HELLO",
        "%",
        "_",
        "\\",
        "été",
        "ÉTÉ",
        "i̇stanbul",
        "οδος",
        "ος",
        "0%",
        "x",
    ];
    let visibilities =
        [1, 2, 3, 4].map(|id| Visibility::PublishedOrOwnedBy(UserId::new(id).unwrap()));
    let mut compared = 0;
    for visibility in visibilities.into_iter().chain([Visibility::Everything]) {
        for search in searches {
            let pages = [(100, 0), (2, 0), (2, 3), (3, 100), (1, i64::MAX)];
            let cursors = [None, Some(1), Some(5), Some(8), Some(i64::MAX)];
            for ((limit, skip), before) in pages.into_iter().flat_map(|p| cursors.map(|c| (p, c))) {
                let filter = PostFilter {
                    visibility,
                    search: Search::parse(search).unwrap(),
                    before: before.and_then(PostId::new),
                    page: Page::new(limit, skip).unwrap(),
                };
                let from_pg = pg.posts().list(&filter).await.unwrap();
                let from_memory = memory.posts().list(&filter).await.unwrap();
                assert_eq!(from_pg, from_memory, "{filter:?}");
                compared += from_pg.len();
            }
        }
    }
    assert!(compared > 100, "the filters did select posts ({compared})");
    for id in 1..=11 {
        let id = PostId::new(id).unwrap();
        assert_eq!(
            pg.posts().get(id).await.unwrap(),
            memory.posts().get(id).await.unwrap(),
            "post {id}"
        );
    }
    db.drop().await;
}

/// Both stores behind their ports.
trait Stores {
    fn users(&self) -> &dyn UserStore;
    fn posts(&self) -> &dyn PostStore;
    fn votes(&self) -> &dyn VoteStore;
}

impl<T: UserStore + PostStore + VoteStore> Stores for T {
    fn users(&self) -> &dyn UserStore {
        self
    }
    fn posts(&self) -> &dyn PostStore {
        self
    }
    fn votes(&self) -> &dyn VoteStore {
        self
    }
}

/// The checked changes (`update_as`, `delete_as`, `vote_as`) answer
/// exactly as in memory, and as `domain::policy` says, for the owner,
/// another user and an admin, on published posts, drafts and a missing
/// post: the SQL that mirrors the policy agrees with the memory store
/// that calls it.
#[tokio::test]
async fn checked_changes_answer_exactly_as_in_memory() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let pg = open_store(&db.url, &clock).await;
    let memory = MemoryStore::new(Arc::new(clock.clone()));
    let mut answers = Vec::new();
    for store in [&pg as &dyn Stores, &memory] {
        answers.push(checked_script(store, &clock).await);
    }
    assert_eq!(answers[0], answers[1]);
    db.drop().await;
}

/// Runs the checked changes on `store`, asserting the policy's answers;
/// every answer, for comparison with the other store.
async fn checked_script(store: &dyn Stores, clock: &ManualClock) -> Vec<String> {
    let mut users = Vec::new();
    for email in [
        "owner@example.com",
        "other@example.com",
        "admin@example.com",
    ] {
        users.push(store.users().create(new_user(email)).await.unwrap());
    }
    let KeepAdmin::Done(admin) = store
        .users()
        .set_role(users[2].id, Role::Admin)
        .await
        .unwrap()
    else {
        panic!("promoted")
    };
    users[2] = admin;
    let (owner, other) = (users[0].clone(), users[1].clone());
    // 1, 2: the owner's published post and draft; 3, 4: the other's.
    for (who, published) in [
        (&owner, true),
        (&owner, false),
        (&other, true),
        (&other, false),
    ] {
        let at = posts_api::ports::Clock::now(clock);
        let new = new_post(who.id, "a post", published);
        store.posts().create(new, at).await.unwrap();
    }
    let mut seen = Vec::new();
    let missing = PostId::new(99).unwrap();
    for actor in &users {
        for id in (1..=4).map(|id| PostId::new(id).unwrap()).chain([missing]) {
            let found = store.posts().get(id).await.unwrap();
            let visible = found
                .as_ref()
                .is_some_and(|p| policy::can_view_post(actor, p.owner.id, p.published));
            let changeable = found
                .as_ref()
                .is_some_and(|p| policy::can_change_post(actor, p.owner.id));
            let votes = [true, true, false, false];
            let mut voted = Vec::new();
            for up in votes {
                voted.push(store.votes().vote_as(actor, id, up).await.unwrap());
            }
            let expected = if visible {
                vec![
                    Voted::Added,
                    Voted::AlreadyVoted,
                    Voted::Removed,
                    Voted::NoVote,
                ]
            } else {
                vec![Voted::PostNotFound; 4]
            };
            assert_eq!(voted, expected, "votes of {} on {id}", actor.id);
            let update = PostUpdate {
                title: PostTitle::parse(&format!("by {}", actor.id)).unwrap(),
                content: PostContent::parse("changed").unwrap(),
                published: found.as_ref().is_some_and(|p| p.published),
            };
            let changed = store.posts().update_as(actor, id, update).await.unwrap();
            match (&changed, visible, changeable) {
                (PostChange::Done(view), true, true) => {
                    assert_eq!(view.title.as_str(), format!("by {}", actor.id));
                }
                (PostChange::Forbidden, true, false) | (PostChange::NotFound, false, _) => {}
                _ => panic!("{} updating {id}: {changed:?}", actor.id),
            }
            seen.push(format!("{voted:?} {changed:?}"));
        }
    }
    let post = |id| PostId::new(id).unwrap();
    let (admin, id) = (&users[2], |u: &posts_api::domain::User| u.id);
    let deletions = [
        (&other, post(1), PostChange::Forbidden),
        (&other, post(2), PostChange::NotFound),
        (&owner, post(4), PostChange::NotFound),
        (&owner, post(3), PostChange::Forbidden),
        (admin, post(4), PostChange::Done(())),
        (&owner, post(1), PostChange::Done(())),
        (admin, post(2), PostChange::Done(())),
        (&other, post(3), PostChange::Done(())),
        (&other, post(3), PostChange::NotFound),
        (admin, missing, PostChange::NotFound),
    ];
    for (actor, post, expected) in deletions {
        let deleted = store.posts().delete_as(actor, post).await.unwrap();
        assert_eq!(deleted, expected, "{} deleting {post}", id(actor));
        seen.push(format!("{deleted:?}"));
    }
    for post in 1..=4 {
        assert_eq!(
            store.posts().get(PostId::new(post).unwrap()).await.unwrap(),
            None
        );
    }
    seen
}
