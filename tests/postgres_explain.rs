//! The queries use their indexes: `EXPLAIN` of the store's own statements
//! (from `adapters::postgres::queries`) on a database with enough rows for
//! the planner to care. Run with `--nocapture` to see the plans.

mod postgres_support;

use postgres_support::seeded_and_analysed;
use posts_api::adapters::postgres::queries::{self, Sql};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

/// 4,000 users, 40,000 posts (one in ten a draft), 20,000 votes and
/// 1,000 revoked tokens; then vacuumed and analysed, as autovacuum would.
const SEED: &str = "
    INSERT INTO users (email, password_hash, created_at)
        SELECT 'user' || g || '@example.com', 'x', now() FROM generate_series(1, 4000) g;
    INSERT INTO posts (owner_id, title, title_lower, content, published, created_at)
        SELECT 1 + g % 4000, 'Post ' || md5(g::text), 'post ' || md5(g::text), 'content', g % 10 <> 0, now()
        FROM generate_series(1, 40000) g;
    INSERT INTO votes (post_id, user_id, created_at)
        SELECT g, 1 + (g * 7) % 4000, now() FROM generate_series(1, 40000, 2) g;
    INSERT INTO sessions (user_id, created_at, last_used_at, expires_at)
        SELECT 1 + g % 4000, now(), now(), now() + interval '14 days' FROM generate_series(1, 8000) g;
";

/// The plan of `sql` for these parameters: the plan of a page, which the
/// store sends as the unnamed statement, planned with its values
/// (`PgStore::query_planned`).
async fn custom_plan(client: &Client, sql: Sql, params: &[&(dyn ToSql + Sync)]) -> String {
    let rows = client
        .query(&format!("EXPLAIN {}", sql.text), params)
        .await
        .expect("EXPLAIN");
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The generic plan of `sql`, which PostgreSQL's plan cache settles on for
/// the statements the store prepares once per connection (lookups by key).
async fn generic_plan(client: &Client, sql: Sql, params: &[&(dyn ToSql + Sync)]) -> String {
    client
        .batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .expect("SET");
    let plan = custom_plan(client, sql, params).await;
    client
        .batch_execute("RESET plan_cache_mode")
        .await
        .expect("RESET");
    plan
}

/// The plan PostgreSQL's plan cache uses for `sql` prepared as a named
/// statement with parameter `types`, forced generic, executed with `args`
/// (SQL literals).
async fn prepared_generic_plan(client: &Client, sql: &str, types: &str, args: &str) -> String {
    let (types, args) = if types.is_empty() {
        (String::new(), String::new())
    } else {
        (format!("({types})"), format!("({args})"))
    };
    client
        .batch_execute(&format!(
            "PREPARE generic_page{types} AS {sql}; SET plan_cache_mode = force_generic_plan"
        ))
        .await
        .expect("PREPARE");
    let rows = client
        .simple_query(&format!("EXPLAIN EXECUTE generic_page{args}"))
        .await
        .expect("EXPLAIN EXECUTE");
    client
        .batch_execute("DEALLOCATE generic_page; RESET plan_cache_mode")
        .await
        .expect("DEALLOCATE");
    rows.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The plan of the query that `sql` runs inside the function `function`
/// (the search functions of migration V14), as `auto_explain` logs it
/// (`log_nested_statements`): a connection of its own to `url`, whose
/// notices are kept. The plan the function keeps for the connection (the
/// first call plans it, generic; the second shows it).
async fn nested_plan(
    url: &str,
    sql: Sql,
    params: &[&(dyn ToSql + Sync)],
    function: &str,
) -> String {
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    let (notices, mut logged) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = futures_util::StreamExt::next(&mut messages).await {
            if let Ok(tokio_postgres::AsyncMessage::Notice(notice)) = message {
                drop(notices.send(notice.message().to_owned()));
            }
        }
    });
    client
        .query(sql.text, params)
        .await
        .expect("the first call");
    client
        .batch_execute(
            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; \
             SET auto_explain.log_nested_statements = on; SET client_min_messages = log",
        )
        .await
        .expect("auto_explain");
    client
        .query(sql.text, params)
        .await
        .expect("the second call");
    drop(client);
    driver.await.expect("the connection's driver");
    let mut plans = Vec::new();
    while let Ok(plan) = logged.try_recv() {
        plans.push(plan);
    }
    // The function's query is logged first, then the statement calling it.
    plans
        .into_iter()
        .find(|plan| !plan.contains(function))
        .unwrap_or_else(|| panic!("no plan logged inside {function}"))
}

/// Prints the plan and asserts it reads no table in full and uses `indexes`.
#[track_caller]
fn assert_indexed(what: &str, plan: &str, indexes: &[&str]) {
    println!("--- {what}\n{plan}\n");
    assert!(
        !plan.contains("Seq Scan"),
        "{what} scans a table in full:\n{plan}"
    );
    for index in indexes {
        assert!(plan.contains(index), "{what} does not use {index}:\n{plan}");
    }
}

#[tokio::test]
async fn the_first_page_and_lookups_by_id_use_indexes() {
    let Some((db, client)) = seeded_and_analysed(SEED).await else {
        return;
    };
    let (viewer, limit, skip, reach) = (7_i64, 10_i64, 0_i64, 10_i64);
    let (no_cursor, deep) = (None::<i64>, Some(1_000_i64));

    // GET /posts as a user: published posts and the viewer's drafts.
    let first_page = custom_plan(
        &client,
        queries::LIST_VISIBLE,
        &[&viewer, &limit, &skip, &reach, &no_cursor],
    )
    .await;
    assert_indexed(
        "first page, user",
        &first_page,
        &["Merge Append", "posts_drafts_idx", "users_pkey"],
    );
    // A page deep in the table by cursor: both indexes seek to it.
    let cursor_page = custom_plan(
        &client,
        queries::LIST_VISIBLE,
        &[&viewer, &limit, &skip, &reach, &deep],
    )
    .await;
    assert_indexed(
        "page by cursor, user",
        &cursor_page,
        &[
            "Merge Append",
            "posts_drafts_idx",
            "Index Cond: (id < '1000'::bigint)",
            "(id < '1000'::bigint))",
        ],
    );
    // GET /posts as an admin.
    let all = custom_plan(&client, queries::LIST_ALL, &[&limit, &skip, &no_cursor]).await;
    assert_indexed(
        "first page, admin",
        &all,
        &["Index Scan Backward using posts_pkey", "users_pkey"],
    );
    let all = custom_plan(&client, queries::LIST_ALL, &[&limit, &skip, &deep]).await;
    assert_indexed(
        "page by cursor, admin",
        &all,
        &[
            "Index Scan Backward using posts_pkey",
            "Index Cond: (id < '1000'::bigint)",
        ],
    );
    // The plain first pages are prepared statements on a generic plan:
    // the same index walks.
    let first = queries::list_visible_first(limit).expect("a valid limit");
    let plan = prepared_generic_plan(&client, first.text, "bigint", "7").await;
    assert_indexed(
        "first page, user, generic",
        &plan,
        &[
            "Merge Append",
            "Index Scan using posts_drafts_idx",
            "InitPlan",
        ],
    );
    assert!(!plan.contains("Bitmap"), "walks, not bitmaps:\n{plan}");
    let first = queries::list_all_first(limit).expect("a valid limit");
    let plan = prepared_generic_plan(&client, first.text, "", "").await;
    assert_indexed(
        "first page, admin, generic",
        &plan,
        &["Index Scan Backward using posts_pkey"],
    );

    // GET /users by cursor (a generic plan: the statement is cached).
    let users = generic_plan(&client, queries::LIST_USERS, &[&limit, &skip, &1_000_i64]).await;
    assert_indexed("users by cursor", &users, &["Index Scan using users_pkey"]);

    // GET /posts/{id}, with owner and vote count.
    let by_id = generic_plan(&client, queries::POST_BY_ID, &[&12_345_i64]).await;
    assert_indexed(
        "post by id",
        &by_id,
        &[
            "Index Scan using posts_pkey",
            "users_pkey",
            "votes_one_per_user_and_post",
        ],
    );

    // Every authenticated request: the user if the session is active.
    let now = time::OffsetDateTime::now_utc();
    let active = generic_plan(&client, queries::ACTIVE_USER, &[&7_i64, &7_i64, &now]).await;
    assert_indexed(
        "user by id and session",
        &active,
        &["users_pkey", "sessions_pkey"],
    );

    // A title search of 3 characters or more: a call of the search
    // function (migration V14), whose ids are read by primary key, one
    // lookup per row of the page.
    let (pieces, term) = (queries::search_pieces("post").expect("pieces"), "post");
    let outer = custom_plan(
        &client,
        queries::LIST_VISIBLE_SEARCH_KEYED,
        &[&viewer, &limit, &skip, &reach, &no_cursor, &term, &pieces],
    )
    .await;
    assert_indexed(
        "search, user, the statement",
        &outer,
        &[
            "Function Scan on post_search_visible",
            "Index Scan using posts_pkey",
        ],
    );
    // Inside the function, on the generic plan it keeps per connection:
    // the newest posts the viewer may see (published, own drafts), then
    // the title index block by block, asked for published posts' keys and
    // the viewer's drafts' (two index scans, OR-ed), never ANDed with
    // another index, no parallel workers, no JIT. The same plan for a rare
    // term and a common one, with a cursor or without (the function fixes
    // the order of the work).
    for (term, before) in [("cb0eea8a", no_cursor), ("post", no_cursor), ("post", deep)] {
        let pieces = queries::search_pieces(term).expect("pieces");
        let search = nested_plan(
            &db.url,
            queries::LIST_VISIBLE_SEARCH_KEYED,
            &[&viewer, &limit, &skip, &reach, &before, &term, &pieces],
            "post_search_visible",
        )
        .await;
        assert_indexed(
            &format!("search {term:?} before {before:?}, user, inside"),
            &search,
            &[
                "Merge Append",
                "posts_drafts_idx",
                "Index Cond: (id <= COALESCE(",
                "BitmapOr",
                "Bitmap Index Scan on posts_title_keys_idx",
            ],
        );
        assert!(!search.contains("BitmapAnd"), "{search}");
        assert!(!search.contains("Gather"), "no parallel workers:\n{search}");
        assert!(!search.contains("JIT"), "no JIT:\n{search}");
        let all = nested_plan(
            &db.url,
            queries::LIST_ALL_SEARCH_KEYED,
            &[&before, &limit, &skip, &reach, &term, &pieces],
            "post_search_all",
        )
        .await;
        assert_indexed(
            &format!("search {term:?} before {before:?}, admin, inside"),
            &all,
            &[
                "Index Scan Backward using posts_pkey",
                "Index Cond: (id <= COALESCE(",
                "Bitmap Index Scan on posts_title_keys_idx",
            ],
        );
        assert!(!all.contains("BitmapAnd"), "{all}");
        assert!(!all.contains("JIT"), "no JIT:\n{all}");
    }
    // A term of 1 or 2 characters has no key: newest first.
    let common = custom_plan(
        &client,
        queries::LIST_VISIBLE_SEARCH,
        &[&viewer, &limit, &skip, &no_cursor, &"%po%"],
    )
    .await;
    assert_indexed(
        "search for a term of 2 characters, user",
        &common,
        &["Index Scan Backward using posts_pkey"],
    );
    db.drop().await;
}
