//! The Postgres store lists posts exactly as the memory store does: the
//! same operations on both, then every visibility, search (with `%`, `_`,
//! `\` and non-ASCII case folding) and page compared.

mod postgres_support;

use std::sync::Arc;

use postgres_support::{TestDb, clock, new_post, new_user, open_store};
use posts_api::adapters::memory::MemoryStore;
use posts_api::domain::policy::Visibility;
use posts_api::domain::{
    Page, PostContent, PostFilter, PostId, PostTitle, PostUpdate, Search, UserId,
};
use posts_api::ports::{PostStore, UserStore, VoteStore};

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
