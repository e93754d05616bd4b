//! Every statement's declared parameter types are the ones PostgreSQL
//! infers from its text. Behind a transaction pooler the store sends each
//! statement unnamed with its declared types (`query_typed`), and
//! directly it prepares it with them (`prepare_typed_cached`): a wrong
//! declaration would make the server coerce a value or refuse it, only on
//! the path that runs it. Here each is prepared untyped on a migrated
//! database and compared, so that no declaration can be wrong unseen.

mod postgres_support;

use postgres_support::{TestDb, clock, open_store};
use posts_api::adapters::postgres::queries::{self, STATEMENTS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_parameter_types_are_the_inferred_ones() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    open_store(&db.url, &clock()).await;
    let client = db.client().await;
    let mut wrong = Vec::new();
    // The first pages are built per limit at run time; each limit's text
    // differs only in the number written in.
    let first_pages = [1, 10, 100].into_iter().flat_map(|limit| {
        [
            ("list_all_first", queries::list_all_first(limit)),
            ("list_visible_first", queries::list_visible_first(limit)),
            ("bearer_first", queries::bearer_first(limit)),
        ]
    });
    let built = first_pages.map(|(name, sql)| (name, sql.expect("a limit in range")));
    for (name, sql) in STATEMENTS.iter().copied().chain(built) {
        let statement = client
            .prepare(sql.text)
            .await
            .unwrap_or_else(|e| panic!("{name} does not prepare: {e}"));
        if statement.params() != sql.params {
            wrong.push(format!(
                "{name}: declared {:?}, inferred {:?}",
                sql.params,
                statement.params()
            ));
        }
    }
    drop(client);
    db.drop().await;
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
