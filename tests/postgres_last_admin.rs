//! The last-admin rule on PostgreSQL under concurrency, decided in one
//! statement by row locks (no advisory-lock transaction): admins demoting
//! or deleting each other at once never leave zero admins, never deadlock
//! (a deadlock would surface as a store error), and the refused one is
//! told so.

mod postgres_support;

use postgres_support::{TestDb, clock, new_user, open_store};
use posts_api::adapters::postgres::PgStore;
use posts_api::domain::{Role, User, UserId};
use posts_api::ports::{KeepAdmin, UserStore};

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
