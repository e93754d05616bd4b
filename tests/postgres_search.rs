//! The keyed title search (migration V10, `queries::LIST_*_SEARCH_KEYED`)
//! answers exactly as a plain scan does, on posts spread over several
//! blocks of the title index's keys (ids placed 262,144 apart) and more
//! than the newest 200 that a search walks before it asks the index, so
//! that both halves of the statement answer; and again after titles,
//! visibility and posts change, so the index follows every write. Both
//! ways the store sends statements answer: prepared once per connection,
//! and unnamed (behind a transaction pooler).

mod postgres_support;

use std::sync::Arc;

use postgres_support::{TestDb, clock, open_store, settings};
use posts_api::adapters::postgres::PgStore;
use posts_api::domain::policy::Visibility;
use posts_api::domain::{
    Page, PostContent, PostFilter, PostId, PostTitle, PostUpdate, Search, UserId, fold_title,
};
use posts_api::ports::PostStore;
use tokio_postgres::Client;

/// Words titles are made of: pieces shared by many titles, and non-ASCII
/// text whose folding changes its length in characters.
const WORDS: [&str; 10] = [
    "Seeded",
    "post",
    "number",
    "draft",
    "kumquat",
    "ÉTÉ",
    "İstanbul",
    "ΟΔΟΣ",
    "50%",
    "a_b",
];

/// The search terms compared: common and rare, absent as a whole but
/// made of common pieces, 1 to 25 characters, non-ASCII, LIKE's own
/// characters.
const TERMS: [&str; 22] = [
    "p",
    "po",
    "pos",
    "post",
    "seeded post",
    "post seeded",
    "number 7",
    "number 77",
    "number 1234",
    "Seeded post number 777",
    "kumquat number",
    "draft number 3",
    "zyxwvut",
    "été",
    "i̇stanbul",
    "οδος",
    "0%",
    "%",
    "a_b",
    "_",
    "ost numb",
    "ed draft n",
];

/// A deterministic generator (xorshift), so that a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// A title of two to four words and a number.
fn title(rng: &mut Rng) -> String {
    let words = 2 + rng.next(3);
    let mut title: Vec<String> = (0..words)
        .map(|_| WORDS[rng.next(WORDS.len() as u64) as usize].to_owned())
        .collect();
    title.push(rng.next(2_000).to_string());
    title.join(" ")
}

/// Every post as (id, owner, published, title), newest first.
type Rows = Vec<(i64, i64, bool, String)>;

/// What a page must hold: a plain scan of `rows`, with the title test done
/// in Rust (`Search::matches`, the rule both stores follow).
fn expected(rows: &Rows, filter: &PostFilter) -> Vec<i64> {
    let skip = usize::try_from(filter.page.skip()).unwrap_or(usize::MAX);
    let limit = usize::try_from(filter.page.limit()).unwrap();
    rows.iter()
        .filter(|(id, owner, published, title)| {
            let visible = match filter.visibility {
                Visibility::Everything => true,
                Visibility::PublishedOrOwnedBy(viewer) => *published || *owner == viewer.get(),
            };
            let below = filter.before.is_none_or(|b| *id < b.get());
            let found = filter.search.as_ref().is_none_or(|s| s.matches(title));
            visible && below && found
        })
        .map(|(id, ..)| *id)
        .skip(skip)
        .take(limit)
        .collect()
}

/// Every term, viewer and a few pages and cursors: the store's page
/// equals the plain scan's. Returns how many posts the pages held.
async fn compare(store: &dyn PostStore, client: &Client, cursors: &[i64]) -> usize {
    let rows: Rows = client
        .query(
            "SELECT id, owner_id, published, title FROM posts ORDER BY id DESC",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let viewers = [1, 2, 3].map(|id| Visibility::PublishedOrOwnedBy(UserId::new(id).unwrap()));
    let mut seen = 0;
    for visibility in viewers.into_iter().chain([Visibility::Everything]) {
        for term in TERMS {
            let pages = [(10, 0), (3, 250), (5, i64::MAX)];
            let befores = std::iter::once(None).chain(cursors.iter().map(|&c| PostId::new(c)));
            for ((limit, skip), before) in pages
                .into_iter()
                .flat_map(|p| befores.clone().map(move |b| (p, b)))
            {
                let filter = PostFilter {
                    visibility,
                    search: Search::parse(term).unwrap(),
                    before,
                    page: Page::new(limit, skip).unwrap(),
                };
                let got: Vec<i64> = store
                    .list(&filter)
                    .await
                    .unwrap()
                    .iter()
                    .map(|p| p.id.get())
                    .collect();
                assert_eq!(got, expected(&rows, &filter), "{filter:?}");
                seen += got.len();
            }
        }
    }
    seen
}

#[tokio::test]
async fn keyed_search_answers_as_a_plain_scan_across_blocks_and_writes() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    // The same statements sent unnamed, as behind a transaction pooler
    // (`DATABASE_POOLER=transaction`), here over a direct connection.
    let unnamed = PgStore::connect(
        &posts_api::adapters::postgres::PgSettings {
            transaction_pooler: true,
            ..settings(&db.url)
        },
        Arc::new(clock.clone()),
    )
    .await
    .expect("the store connects");
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO users (email, password_hash)
             SELECT 'user' || g || '@example.com', 'x' FROM generate_series(1, 3) g",
        )
        .await
        .unwrap();
    // Three blocks of ids (the keys' block is id >> 18), 150 posts in each
    // of the older two and 400 in the newest, a third of them drafts.
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut ids = Vec::new();
    for (block, count) in [(0_i64, 150_i64), (2, 150), (3, 400)] {
        for k in 0..count {
            let id = (block << 18) + 1 + k * 97;
            let title = title(&mut rng);
            let owner = 1 + rng.next(3) as i64;
            let published = rng.next(3) != 0;
            client
                .execute(
                    "INSERT INTO posts (id, owner_id, title, title_lower, content, published)
                     OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, 'c', $5)",
                    &[&id, &owner, &title, &fold_title(&title), &published],
                )
                .await
                .unwrap();
            ids.push(id);
        }
    }
    // Cursors: in the newest block, below its newest 200 posts; in the
    // oldest block.
    let cursors = [ids[450], ids[100]];
    let seen = compare(&store, &client, &cursors).await;
    assert!(seen > 1_000, "the pages held posts ({seen})");
    assert_eq!(compare(&unnamed, &client, &cursors).await, seen);

    // Writes through the store: new titles (so old keys must go and new
    // ones come), drafts published and posts hidden (keys move between
    // classes), deletions.
    for (n, &id) in ids.iter().enumerate().filter(|(n, _)| n % 7 == 0) {
        let update = PostUpdate {
            title: PostTitle::parse(&title(&mut rng)).unwrap(),
            content: PostContent::parse("edited").unwrap(),
            published: n % 2 == 0,
        };
        let id = PostId::new(id).unwrap();
        assert!(store.update(id, update).await.unwrap().is_some());
    }
    for &id in ids.iter().skip(3).step_by(11) {
        assert!(store.delete(PostId::new(id).unwrap()).await.unwrap());
    }
    let seen = compare(&store, &client, &cursors).await;
    assert!(seen > 1_000, "the pages held posts ({seen})");
    assert_eq!(compare(&unnamed, &client, &cursors).await, seen);
    drop((store, unnamed));
    db.drop().await;
}

/// V12's key function (PL/pgSQL, repeats left in) gives every row the set
/// of keys V10's set query gave it, so the index built by V10 stays valid:
/// titles of 0 to 300 characters, non-ASCII, published and drafts, in
/// several blocks.
#[tokio::test]
async fn the_key_function_keeps_v10_s_keys() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let _store = open_store(&db.url, &clock()).await;
    let client = db.client().await;
    let mut rng = Rng(0x5EED_1234_ABCD_0002);
    let mut titles: Vec<String> = vec![
        String::new(),
        "ab".into(),
        "abc".into(),
        "abcd".into(),
        "abcde".into(),
        "ab".repeat(150),
    ];
    titles.extend((0..40).map(|_| title(&mut rng).to_lowercase()));
    for (k, title) in titles.iter().enumerate() {
        let k = i64::try_from(k).unwrap();
        let (id, owner, published) = ((k % 4) << 18 | (k + 1), 1 + k % 3, k % 2 == 0);
        let row = client
            .query_one(
                "WITH new AS (SELECT post_title_keys($1, $2, $3, $4) AS keys),
                      v10 AS (SELECT coalesce(array_agg(DISTINCT hashtextextended(substr($4, i, n), seed)), '{}') AS keys
                              FROM unnest(CASE WHEN $3 THEN ARRAY[post_key_seed($1 >> 18, 0)]
                                               ELSE ARRAY[post_key_seed($1 >> 18, -1), post_key_seed($1 >> 18, $2)]
                                          END) AS seed,
                                   (VALUES (3), (5)) AS g (n),
                                   generate_series(1, char_length($4) - n + 1) AS i)
                 SELECT new.keys @> v10.keys AND v10.keys @> new.keys, cardinality(v10.keys)
                 FROM new, v10",
                &[&id, &owner, &published, title],
            )
            .await
            .unwrap();
        let (same, count): (bool, i32) = (row.get(0), row.get(1));
        assert!(
            same,
            "the keys of {title:?} (id {id}, published {published})"
        );
        let chars = i32::try_from(title.chars().count()).unwrap();
        assert!(count <= 2 * 2 * chars, "{title:?}");
    }
    db.drop().await;
}
