//! The checked statements on PostgreSQL (`queries::checked`): the
//! last-admin rule under concurrency, decided in one statement by row
//! locks (no advisory-lock transaction): admins demoting or deleting each
//! other at once never leave zero admins, never deadlock (a deadlock
//! would surface as a store error), and the refused one is told so; and
//! every checked statement finds its rows by index (`--nocapture` prints
//! the plans).

mod postgres_support;

use postgres_support::{TestDb, clock, new_user, open_store, seeded_and_analysed};
use posts_api::adapters::postgres::{PgStore, queries};
use posts_api::domain::{Role, User, UserId};
use posts_api::ports::{KeepAdmin, UserStore};
use tokio_postgres::types::ToSql;

/// Promotes a new user `email`.
async fn admin(store: &PgStore, email: &str) -> User {
    let user = store.create(new_user(email)).await.unwrap();
    match store.set_role(user.id, Role::Admin).await.unwrap() {
        KeepAdmin::Done(user) => user,
        other => panic!("promoting {email}: {other:?}"),
    }
}

/// How many admins the store holds among `ids`.
async fn admins(store: &PgStore, ids: &[UserId]) -> usize {
    let mut n = 0;
    for id in ids {
        if store.get(*id).await.unwrap().is_some_and(|u| u.is_admin()) {
            n += 1;
        }
    }
    n
}

/// What a concurrent demotion or deletion did: done or refused.
fn done<T: std::fmt::Debug>(outcome: &KeepAdmin<T>) -> bool {
    match outcome {
        KeepAdmin::Done(_) => true,
        KeepAdmin::LastAdmin => false,
        KeepAdmin::NotFound => panic!("{outcome:?}"),
    }
}

#[tokio::test]
async fn admins_removing_each_other_at_once_leave_one() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    // Each round: the admin left by the last one and a new one, the only
    // two admins, remove each other at once.
    let mut survivor = admin(&store, "first@example.com").await;
    for round in 0..20 {
        let a = survivor.clone();
        let b = admin(&store, &format!("b{round}@example.com")).await;
        // Two demotions, or a demotion and a deletion, at once.
        let (s1, s2) = (store.clone(), store.clone());
        let first = tokio::spawn(async move { s1.set_role(a.id, Role::User).await.unwrap() });
        let second = tokio::spawn(async move {
            if round % 2 == 0 {
                done(&s2.set_role(b.id, Role::User).await.unwrap())
            } else {
                done(&UserStore::delete(&s2, b.id).await.unwrap())
            }
        });
        let first = done(&first.await.unwrap());
        let second = second.await.unwrap();
        assert!(first != second, "round {round}: exactly one is refused");
        assert_eq!(admins(&store, &[a.id, b.id]).await, 1, "round {round}");
        survivor = if first { b } else { a };
    }
    db.drop().await;
}

/// Users, posts (one in ten a draft), votes and sessions enough for the
/// planner to prefer indexes, as `postgres_explain.rs` seeds them.
const SEED: &str = "
    INSERT INTO users (email, password_hash, created_at)
        SELECT 'user' || g || '@example.com', 'x', now() FROM generate_series(1, 4000) g;
    UPDATE users SET role = 'admin' WHERE id % 1000 = 0;
    INSERT INTO posts (owner_id, title, title_lower, content, published, created_at)
        SELECT 1 + g % 4000, 'Post ' || g, 'post ' || g, 'content', g % 10 <> 0, now()
        FROM generate_series(1, 40000) g;
    INSERT INTO votes (post_id, user_id, created_at)
        SELECT g, 1 + (g * 7) % 4000, now() FROM generate_series(1, 40000, 2) g;
    INSERT INTO sessions (user_id, created_at, last_used_at, expires_at)
        SELECT 1 + g % 4000, now(), now(), now() + interval '14 days' FROM generate_series(1, 8000) g;
";

#[tokio::test]
async fn checked_statements_use_indexes() {
    let Some((db, client)) = seeded_and_analysed(SEED).await else {
        return;
    };
    // The generic plans, which the prepared statements settle on.
    client
        .batch_execute("SET plan_cache_mode = force_generic_plan")
        .await
        .expect("SET");
    let now = time::OffsetDateTime::now_utc();
    let (post, actor, admin, up) = (12_345_i64, 7_i64, false, true);
    let (title, content, published) = ("t", "c", true);
    let statements: [(&str, queries::Sql, Vec<&(dyn ToSql + Sync)>); 6] = [
        (
            "update a post",
            queries::UPDATE_POST_AS,
            vec![&post, &title, &title, &content, &published, &actor, &admin],
        ),
        (
            "delete a post",
            queries::DELETE_POST_AS,
            vec![&post, &actor, &admin],
        ),
        (
            "vote",
            queries::VOTE_AS,
            vec![&post, &actor, &admin, &up, &now],
        ),
        (
            "set a role",
            queries::SET_ROLE_LOCKED,
            vec![&actor, &"user"],
        ),
        ("delete a user", queries::DELETE_USER_LOCKED, vec![&actor]),
        (
            "end a user's sessions",
            queries::END_USER_SESSIONS,
            vec![&actor],
        ),
    ];
    for (what, sql, params) in statements {
        let rows = client
            .query(&format!("EXPLAIN {}", sql.text), &params)
            .await
            .expect("EXPLAIN");
        let plan: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        let plan = plan.join("\n");
        println!("--- {what}\n{plan}\n");
        assert!(
            !plan.contains("Seq Scan"),
            "{what} scans a table in full:\n{plan}"
        );
    }
    db.drop().await;
}
