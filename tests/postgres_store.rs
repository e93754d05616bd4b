//! The Postgres store through its ports, on a fresh database per test:
//! users and sessions (refresh rotation, reuse, one winner), cascades,
//! race-free votes, migrations and start-up failures.

mod postgres_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres_support::{TestDb, clock, new_post, new_user, open_store, settings};
use posts_api::adapters::memory::MemoryStore;
use posts_api::adapters::postgres::PgStore;
use posts_api::domain::{
    EmailAddress, NewSession, Page, PasswordHash, PostId, RefreshToken, Role, SessionId, UserId,
    UserPage,
};
use posts_api::ports::{
    AddVote, CreateUserError, KeepAdmin, PostStore, Refreshed, SessionStore, UserStore, VoteStore,
};
use time::OffsetDateTime;

#[tokio::test]
async fn users_credentials_roles_and_unique_emails() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    store.ping().await.unwrap();

    let alice = UserStore::create(&store, new_user("Alice@Example.com"))
        .await
        .unwrap();
    assert_eq!(
        (alice.id.get(), alice.email.as_str(), alice.role),
        (1, "alice@example.com", Role::User)
    );
    assert_eq!(alice.created_at, posts_api::ports::Clock::now(&clock));
    assert!(matches!(
        UserStore::create(&store, new_user("alice@example.com")).await,
        Err(CreateUserError::EmailTaken)
    ));
    let bob = UserStore::create(&store, new_user("bob@example.com"))
        .await
        .unwrap();
    assert_eq!(
        bob.id.get(),
        3,
        "an identity id is burnt by a failed insert, never reused"
    );

    assert_eq!(
        UserStore::get(&store, alice.id).await.unwrap(),
        Some(alice.clone())
    );
    let (found, hash) = store.get_credentials(&alice.email).await.unwrap().unwrap();
    assert_eq!((found, hash.expose()), (alice.clone(), "$2b$04$hash"));
    assert!(
        store
            .get_credentials(&EmailAddress::parse("nobody@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    let listed = UserStore::list(
        &store,
        UserPage {
            after: None,
            page: Page::new(10, 0).unwrap(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        listed.iter().map(|u| u.id.get()).collect::<Vec<_>>(),
        [1, 3]
    );
    assert_eq!(
        UserStore::list(
            &store,
            UserPage {
                after: None,
                page: Page::new(10, i64::MAX).unwrap()
            }
        )
        .await
        .unwrap(),
        []
    );

    let KeepAdmin::Done(admin) = store.set_role(bob.id, Role::Admin).await.unwrap() else {
        panic!("bob is promoted");
    };
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(
        store
            .set_role(UserId::new(99).unwrap(), Role::Admin)
            .await
            .unwrap(),
        KeepAdmin::NotFound
    );
    // Bob is the only admin: he stays one, and stays.
    assert_eq!(
        store.set_role(bob.id, Role::User).await.unwrap(),
        KeepAdmin::LastAdmin
    );
    assert_eq!(
        UserStore::delete(&store, bob.id).await.unwrap(),
        KeepAdmin::LastAdmin
    );
    db.drop().await;
}

/// A session starting now for `user`, whose first refresh token is
/// `token`, expiring after `days`.
fn new_session(user: UserId, token: &str, now: OffsetDateTime, days: i64) -> NewSession {
    NewSession {
        user_id: user,
        refresh: RefreshToken::new(token).hash(),
        created_at: now,
        expires_at: now + time::Duration::days(days),
        user_agent: Some("test-agent".into()),
        verified: None,
    }
}

/// A login's session starts only while the hash it verified is still the
/// user's: one verified before a password change is refused (`None`), one
/// of a user deleted meanwhile too, and the current hash starts one.
async fn sessions_start_only_on_the_current_hash<S: UserStore + SessionStore>(
    store: &S,
    now: OffsetDateTime,
) {
    let user = UserStore::create(store, new_user("race@example.com"))
        .await
        .unwrap();
    let (_, old) = store.get_credentials(&user.email).await.unwrap().unwrap();
    let kept = store
        .start(new_session(user.id, "kept", now, 1))
        .await
        .unwrap()
        .expect("started");
    let on = |token: &str, hash: &PasswordHash| NewSession {
        verified: Some(hash.clone()),
        ..new_session(user.id, token, now, 1)
    };
    assert!(store.start(on("before", &old)).await.unwrap().is_some());
    let new = PasswordHash::new("$2b$04$changed".into());
    assert!(
        store
            .set_password(user.id, new.clone(), kept.id)
            .await
            .unwrap()
    );
    assert_eq!(
        store.start(on("stale", &old)).await.unwrap(),
        None,
        "a login that verified the old password starts no session"
    );
    let current = store.start(on("current", &new)).await.unwrap();
    assert!(current.is_some(), "the new password starts one");
    let active: Vec<SessionId> = SessionStore::list(store, user.id, now)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    let mut expected = vec![current.unwrap().id, kept.id];
    let mut active = active;
    active.sort_by_key(|id| id.get());
    expected.sort_by_key(|id| id.get());
    assert_eq!(
        active, expected,
        "the stale login's session is not among them"
    );
    assert_eq!(
        UserStore::delete(store, user.id).await.unwrap(),
        KeepAdmin::Done(())
    );
    assert_eq!(store.start(on("gone", &new)).await.unwrap(), None);
}

#[tokio::test]
async fn sessions_start_only_on_the_current_hash_memory() {
    let clock = clock();
    let store = MemoryStore::new(Arc::new(clock.clone()));
    let now = posts_api::ports::Clock::now(&clock);
    sessions_start_only_on_the_current_hash(&store, now).await;
}

#[tokio::test]
async fn sessions_start_only_on_the_current_hash_postgres() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let now = posts_api::ports::Clock::now(&clock);
    sessions_start_only_on_the_current_hash(&store, now).await;
    db.drop().await;
}

/// The interleaving the hash check alone leaves open: a login's statement
/// holds the user's row `FOR SHARE` and has inserted its session, not yet
/// committed, when a password change arrives. The change waits for the row
/// and must then end that session too (its other sessions end in a fresh
/// snapshot, migration V13), not only those committed when it started.
#[tokio::test]
async fn a_password_change_ends_the_session_of_a_login_it_waited_for() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = Arc::new(open_store(&db.url, &clock).await);
    let now = posts_api::ports::Clock::now(&clock);
    let user = UserStore::create(&*store, new_user("waited@example.com"))
        .await
        .unwrap();
    let kept = store
        .start(new_session(user.id, "kept", now, 1))
        .await
        .unwrap()
        .expect("started");

    // The login, as its last statement does it, held open in a transaction.
    let mut login = db.client().await;
    let tx = login.transaction().await.unwrap();
    let raced: i64 = tx
        .query_one(
            "INSERT INTO sessions (user_id, created_at, last_used_at, expires_at) \
             SELECT id, $2, $2, $3 FROM users \
             WHERE id = $1 AND password_hash = '$2b$04$hash' FOR SHARE RETURNING id",
            &[&user.id.get(), &now, &(now + time::Duration::days(1))],
        )
        .await
        .expect("the login's session")
        .get(0);

    let change = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .set_password(user.id, PasswordHash::new("$2b$04$new".into()), kept.id)
                .await
        })
    };
    // Commit only once the change waits for the login's row lock.
    let watcher = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the change never waited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.commit().await.unwrap();
    assert!(change.await.unwrap().unwrap(), "the password changed");

    let raced = SessionId::new(raced).unwrap();
    assert!(
        store.bearer(user.id, raced, now).await.unwrap().is_none(),
        "the raced login's session is ended"
    );
    let active: Vec<SessionId> = SessionStore::list(&*store, user.id, now)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(active, [kept.id], "only the changing session is left");
    db.drop().await;
}

#[tokio::test]
async fn sessions_authenticate_until_ended_or_expired() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let user = UserStore::create(&store, new_user("t@example.com"))
        .await
        .unwrap();
    let other = UserStore::create(&store, new_user("u@example.com"))
        .await
        .unwrap();
    let now = posts_api::ports::Clock::now(&clock);
    let one = store
        .start(new_session(user.id, "r1", now, 1))
        .await
        .unwrap()
        .expect("started");
    let two = store
        .start(new_session(user.id, "r2", now, 14))
        .await
        .unwrap()
        .expect("started");
    assert_eq!(one.user_agent.as_deref(), Some("test-agent"));
    assert!(store.bearer(user.id, one.id, now).await.unwrap().is_some());
    assert!(
        store.bearer(other.id, one.id, now).await.unwrap().is_none(),
        "another user's session"
    );
    let listed: Vec<SessionId> = SessionStore::list(&store, user.id, now)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, [two.id, one.id], "newest first");

    // Expired: no longer authenticates nor listed.
    let later = now + time::Duration::days(1);
    assert!(
        store
            .bearer(user.id, one.id, later)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        SessionStore::list(&store, user.id, later)
            .await
            .unwrap()
            .len(),
        1
    );

    // Ended by its owner only.
    assert!(!store.end(other.id, two.id, now).await.unwrap());
    assert!(store.end(user.id, two.id, now).await.unwrap());
    assert!(
        !store.end(user.id, two.id, now).await.unwrap(),
        "ended once"
    );
    assert!(store.bearer(user.id, two.id, now).await.unwrap().is_none());
    db.drop().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_ends_the_session() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let user = UserStore::create(&store, new_user("r@example.com"))
        .await
        .unwrap();
    let now = posts_api::ports::Clock::now(&clock);
    let session = store
        .start(new_session(user.id, "r1", now, 14))
        .await
        .unwrap()
        .expect("started");
    let hash = |t: &str| RefreshToken::new(t).hash();
    let later = now + time::Duration::minutes(5);
    let expiry = later + time::Duration::days(14);
    match store
        .refresh(hash("r1"), hash("r2"), later, expiry)
        .await
        .unwrap()
    {
        Refreshed::Rotated {
            session: s,
            user: u,
        } => {
            assert_eq!(
                (s.id, s.last_used_at, s.expires_at),
                (session.id, later, expiry)
            );
            assert_eq!(u, user);
        }
        Refreshed::Invalid => panic!("the current token rotates"),
    }
    assert_eq!(
        store
            .refresh(hash("nope"), hash("x"), later, expiry)
            .await
            .unwrap(),
        Refreshed::Invalid,
        "an unknown token"
    );
    assert!(
        store
            .bearer(user.id, session.id, later)
            .await
            .unwrap()
            .is_some()
    );
    // r1 is spent: presenting it again ends the session, r2 included.
    assert_eq!(
        store
            .refresh(hash("r1"), hash("r3"), later, expiry)
            .await
            .unwrap(),
        Refreshed::Invalid
    );
    assert!(
        store
            .bearer(user.id, session.id, later)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .refresh(hash("r2"), hash("r4"), later, expiry)
            .await
            .unwrap(),
        Refreshed::Invalid
    );
    let client = db.client().await;
    let rows: i64 = client
        .query_one("SELECT count(*) FROM refresh_tokens", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0, "an ended session's tokens go with it");
    db.drop().await;
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_have_one_winner() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let user = UserStore::create(&store, new_user("c@example.com"))
        .await
        .unwrap();
    let now = posts_api::ports::Clock::now(&clock);
    for round in 0..10 {
        let first = format!("round{round}");
        let session = store
            .start(new_session(user.id, &first, now, 14))
            .await
            .unwrap()
            .expect("started");
        let expiry = now + time::Duration::days(14);
        let tries: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                let (old, new) = (
                    RefreshToken::new(&first),
                    RefreshToken::new(&format!("{first}-{i}")),
                );
                tokio::spawn(
                    async move { store.refresh(old.hash(), new.hash(), now, expiry).await },
                )
            })
            .collect();
        let mut won = 0;
        for t in tries {
            won += usize::from(matches!(
                t.await.unwrap().unwrap(),
                Refreshed::Rotated { .. }
            ));
        }
        assert_eq!(won, 1, "round {round}");
        // The losers counted as reuse: the session ended.
        assert!(
            store
                .bearer(user.id, session.id, now)
                .await
                .unwrap()
                .is_none()
        );
    }
    db.drop().await;
}

#[tokio::test]
async fn deleting_a_user_takes_posts_votes_and_sessions() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let now = posts_api::ports::Clock::now(&clock);
    let gone = UserStore::create(&store, new_user("gone@example.com"))
        .await
        .unwrap();
    let stays = UserStore::create(&store, new_user("stays@example.com"))
        .await
        .unwrap();
    let own = PostStore::create(&store, new_post(gone.id, "mine", true), now)
        .await
        .unwrap();
    let other = PostStore::create(&store, new_post(stays.id, "theirs", true), now)
        .await
        .unwrap();
    assert_eq!(store.add(gone.id, other.id).await.unwrap(), AddVote::Added);
    assert_eq!(store.add(stays.id, own.id).await.unwrap(), AddVote::Added);
    store
        .start(new_session(gone.id, "g1", now, 1))
        .await
        .unwrap()
        .expect("started");

    assert_eq!(
        UserStore::delete(&store, gone.id).await.unwrap(),
        KeepAdmin::Done(())
    );
    assert_eq!(
        UserStore::delete(&store, gone.id).await.unwrap(),
        KeepAdmin::NotFound
    );
    assert_eq!(PostStore::get(&store, own.id).await.unwrap(), None);
    assert_eq!(
        PostStore::get(&store, other.id)
            .await
            .unwrap()
            .unwrap()
            .votes,
        0
    );
    let client = db.client().await;
    for table in [
        "posts WHERE owner_id = $1",
        "votes WHERE user_id = $1",
        "sessions WHERE user_id = $1",
    ] {
        let row = client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[&gone.id.get()])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 0, "{table}");
    }
    let again = UserStore::create(&store, new_user("gone@example.com"))
        .await
        .unwrap();
    assert!(
        again.id > stays.id,
        "the email is free again, with a new id"
    );
    db.drop().await;
}

#[tokio::test]
async fn concurrent_votes_count_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let now = posts_api::ports::Clock::now(&clock);
    let user = UserStore::create(&store, new_user("v@example.com"))
        .await
        .unwrap();
    let post = PostStore::create(&store, new_post(user.id, "p", false), now)
        .await
        .unwrap();

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.add(user.id, post.id).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(
        outcomes.iter().filter(|o| **o == AddVote::Added).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, AddVote::Added | AddVote::AlreadyVoted))
    );
    assert_eq!(
        PostStore::get(&store, post.id)
            .await
            .unwrap()
            .unwrap()
            .votes,
        1
    );

    assert_eq!(
        store.add(user.id, PostId::new(999).unwrap()).await.unwrap(),
        AddVote::PostMissing
    );
    assert!(store.remove(user.id, post.id).await.unwrap());
    assert!(!store.remove(user.id, post.id).await.unwrap());
    assert!(PostStore::delete(&store, post.id).await.unwrap());
    assert!(!PostStore::delete(&store, post.id).await.unwrap());
    assert_eq!(
        store.add(user.id, post.id).await.unwrap(),
        AddVote::PostMissing
    );
    db.drop().await;
}

#[tokio::test]
async fn migrations_run_once_even_when_instances_race() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let settings = settings(&db.url);
    let (a, b) = tokio::join!(
        PgStore::connect(&settings, Arc::new(clock.clone())),
        PgStore::connect(&settings, Arc::new(clock.clone()))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (ran_a, ran_b) = tokio::join!(a.migrate(), b.migrate());
    let mut ran = [ran_a.unwrap(), ran_b.unwrap()];
    ran.sort();
    assert_eq!(ran[0], Vec::<String>::new());
    assert_eq!(ran[1], posts_api::adapters::postgres::embedded_names());
    assert_eq!(
        a.migrate().await.unwrap(),
        Vec::<String>::new(),
        "up to date"
    );
    db.drop().await;
}

#[tokio::test]
async fn an_unreachable_database_fails_fast_with_a_masked_url() {
    // A port that nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{port}/posts");
    let started = Instant::now();
    let error = PgStore::connect(&settings(&url), Arc::new(clock()))
        .await
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        error.contains(&format!(
            "DATABASE_URL=postgres://postgres:***@127.0.0.1:{port}/posts"
        )),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}
