//! Login throttling shared through PostgreSQL, and the connection pool's
//! gauges at `/metrics`.
//!
//! Several instances on one database count the same failures (API.md,
//! "Login throttling"): failures spread over instances reach one limit, a
//! success on any instance clears the pair everywhere, and the adapter
//! answers exactly as the memory one does. The single-instance behaviours
//! run on both stores in `tests/auth.rs`.

mod postgres_support;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use postgres_support::{Http, PASSWORD, TestDb, clock, open_store, start_app_with};
use posts_api::adapters::clock::ManualClock;
use posts_api::adapters::memory::MemoryThrottle;
use posts_api::adapters::postgres::PostgresThrottle;
use posts_api::app;
use posts_api::config::Config;
use posts_api::ports::{Admission, Clock, LoginThrottle, ThrottleKey, ThrottleLimits};
use reqwest::StatusCode;
use serde_json::json;
use time::Duration;

const THROTTLED: &str = "Too many login attempts";
const WRONG: &str = "wrong password";

fn no_tweak(_: &mut Config) {}

/// Asserts a 401 for wrong credentials.
async fn fail(http: &Http, email: &str) {
    let (status, _, body) = http.try_login(email, WRONG).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid Credentials" })
        ),
        "a wrong password for {email}"
    );
}

/// Asserts the throttled answer (with the right password); its
/// `Retry-After`.
async fn throttled(http: &Http, email: &str) -> u64 {
    let (status, retry_after, body) = http.try_login(email, PASSWORD).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "detail": THROTTLED })
        ),
        "{email} should be throttled"
    );
    retry_after
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After in seconds")
}

/// Asserts a successful login.
async fn succeeds(http: &Http, email: &str) {
    let (status, _, body) = http.try_login(email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{email} should log in: {body}");
}

/// Two instances on one database and one clock, and a client for each.
async fn two_instances(
    url: &str,
    clock: &ManualClock,
) -> (app::RunningApp, app::RunningApp, Http, Http) {
    let (one, two) = tokio::join!(
        start_app_with(url, clock, no_tweak),
        start_app_with(url, clock, no_tweak)
    );
    let (a, b) = (Http::new(&one), Http::new(&two));
    (one, two, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_on_two_instances_add_up_to_one_limit() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let (one, two, a, b) = two_instances(&db.url, &clock).await;
    a.register("erin@example.com").await;
    b.register("frank@example.com").await;

    // Five failures (the default limit), spread over both instances.
    for http in [&a, &b, &a, &b, &a] {
        fail(http, "erin@example.com").await;
    }
    assert_eq!(throttled(&b, "erin@example.com").await, 900, "on the other");
    assert_eq!(throttled(&a, "erin@example.com").await, 900, "on the same");
    let (status, retry_after, _) = b.try_login("ERIN@example.com", WRONG).await;
    assert_eq!(
        (status, retry_after.as_deref()),
        (StatusCode::TOO_MANY_REQUESTS, Some("900")),
        "a wrong password is refused the same way, whatever the case"
    );
    succeeds(&b, "frank@example.com").await;

    clock.advance(Duration::seconds(899));
    assert_eq!(throttled(&b, "erin@example.com").await, 1);
    clock.advance(Duration::seconds(1));
    succeeds(&a, "erin@example.com").await;
    one.stop().await.expect("a clean stop");
    two.stop().await.expect("a clean stop");
    db.drop().await;
}

/// Sends `n` wrong-password logins at once, alternating between `a` and
/// `b`, for the email `email(i)`; how many were answered other than 429
/// (every answer must be 401 or 429).
async fn concurrent_failures(a: &Http, b: &Http, n: usize, email: fn(usize) -> String) -> usize {
    let attempts: Vec<_> = (0..n)
        .map(|i| {
            let http = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { http.try_login(&email(i), WRONG).await.0 })
        })
        .collect();
    let mut passed = 0;
    for attempt in attempts {
        let status = attempt.await.expect("an attempt");
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(&status),
            "{status}"
        );
        passed += usize::from(status != StatusCode::TOO_MANY_REQUESTS);
    }
    passed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_failures_on_both_instances_stop_at_the_limit() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let (one, two, a, b) = two_instances(&db.url, &clock).await;
    a.register("gina@example.com").await;
    let passed = concurrent_failures(&a, &b, 30, |_| "gina@example.com".into()).await;
    assert_eq!(passed, 5, "of 30 at once for one email, exactly the limit");
    throttled(&a, "gina@example.com").await;
    throttled(&b, "gina@example.com").await;

    // Ninety emails at once from one address: the address limit, 50.
    clock.advance(Duration::seconds(900));
    let passed = concurrent_failures(&a, &b, 90, |i| format!("user{i}@example.com")).await;
    assert_eq!(passed, 50, "of 90 at once from one address");
    one.stop().await.expect("a clean stop");
    two.stop().await.expect("a clean stop");
    db.drop().await;
}

/// Wrong current passwords and wrong logins for one email, sent at once
/// and spread over two instances, share one count: the password change's
/// attempt rides in the statement that checks its bearer, and is counted
/// for the bearer's email exactly as a login for that email is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_password_changes_and_logins_share_the_limit() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let (one, two, a, b) = two_instances(&db.url, &clock).await;
    const EMAIL: &str = "hana@example.com";
    a.register(EMAIL).await;
    for round in 0..3 {
        // A success first: it clears the pair (and the token is fresh).
        let token = a.login(EMAIL).await;
        let attempts: Vec<_> = (0..24)
            .map(|i| {
                let http = if i % 2 == 0 { a.clone() } else { b.clone() };
                let token = token.clone();
                tokio::spawn(async move {
                    if i % 3 == 0 {
                        http.try_login(EMAIL, WRONG).await.0
                    } else {
                        let body =
                            json!({ "current_password": WRONG, "new_password": "a new password" });
                        let path = "/users/me/password";
                        http.call(reqwest::Method::PUT, path, Some(&token), Some(&body))
                            .await
                            .0
                    }
                })
            })
            .collect();
        let mut passed = 0;
        for attempt in attempts {
            let status = attempt.await.expect("an attempt");
            assert!(
                [
                    StatusCode::UNAUTHORIZED,
                    StatusCode::FORBIDDEN,
                    StatusCode::TOO_MANY_REQUESTS
                ]
                .contains(&status),
                "round {round}: {status}"
            );
            passed += usize::from(status != StatusCode::TOO_MANY_REQUESTS);
        }
        assert_eq!(passed, 5, "round {round}: of 24 at once, exactly the limit");
        throttled(&b, EMAIL).await;
        clock.advance(Duration::seconds(900));
    }
    one.stop().await.expect("a clean stop");
    two.stop().await.expect("a clean stop");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_on_one_instance_clears_the_pair_on_both() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let (one, two, a, b) = two_instances(&db.url, &clock).await;
    a.register("hank@example.com").await;
    for http in [&a, &b, &a, &b] {
        fail(http, "hank@example.com").await;
    }
    succeeds(&a, "hank@example.com").await;
    // The count starts again: five more failures, on either instance.
    for http in [&b, &a, &b, &a, &b] {
        fail(http, "hank@example.com").await;
    }
    throttled(&a, "hank@example.com").await;
    throttled(&b, "hank@example.com").await;
    one.stop().await.expect("a clean stop");
    two.stop().await.expect("a clean stop");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_limit_is_shared_and_a_success_does_not_clear_it() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let tweak = |c: &mut Config| {
        c.login_max_failures = 3;
        c.login_max_failures_per_addr = 5;
        c.login_window_seconds = 60;
    };
    let (one, two) = tokio::join!(
        start_app_with(&db.url, &clock, tweak),
        start_app_with(&db.url, &clock, tweak)
    );
    let (a, b) = (Http::new(&one), Http::new(&two));
    a.register("iris@example.com").await;
    fail(&a, "iris@example.com").await;
    clock.advance(Duration::seconds(10));
    fail(&b, "iris@example.com").await;
    succeeds(&b, "iris@example.com").await;
    // Three more failures from the address, for strangers: five in all.
    clock.advance(Duration::seconds(10));
    for (http, n) in [(&a, 1), (&b, 2), (&a, 3)] {
        fail(http, &format!("stranger{n}@example.com")).await;
    }
    // Throttled by the address until the first failure (20 s ago) leaves
    // the window.
    assert_eq!(throttled(&a, "iris@example.com").await, 40);
    assert_eq!(throttled(&b, "nobody@example.com").await, 40);
    clock.advance(Duration::seconds(40));
    succeeds(&b, "iris@example.com").await;
    one.stop().await.expect("a clean stop");
    two.stop().await.expect("a clean stop");
    db.drop().await;
}

/// Some `(seconds, email, address)` keys and times, made up but fixed.
fn script(len: usize) -> Vec<(i64, usize, usize, u8)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut at = 0i64;
    (0..len)
        .map(|_| {
            at += next(8) as i64;
            let op = next(10) as u8;
            (at, next(3) as usize, next(2) as usize, op)
        })
        .collect()
}

/// The wait of a refused attempt; `None` for an admitted one.
fn refused(admission: Admission) -> Option<u64> {
    match admission {
        Admission::Throttled { retry_after_secs } => Some(retry_after_secs),
        Admission::Admitted(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_answers_as_the_memory_one() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let emails = ["a@x.io", "b@x.io", "c@x.io"];
    let addrs: [IpAddr; 2] = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    for (max_failures, max_failures_per_addr) in [(3, 5), (2, 0), (0, 4), (0, 0)] {
        let limits = ThrottleLimits {
            max_failures,
            max_failures_per_addr,
            window_seconds: 60,
        };
        // A fresh table for each set of limits.
        db.client()
            .await
            .batch_execute("TRUNCATE login_gates")
            .await
            .expect("truncate");
        let memory = MemoryThrottle::new(limits);
        let postgres = PostgresThrottle::new(store.clone(), limits);
        let start = clock.now();
        let mut throttled = 0;
        for (i, (secs, email, addr, op)) in script(300).into_iter().enumerate() {
            let now = start + Duration::seconds(secs);
            let key = ThrottleKey::new(emails[email], addrs[addr]);
            let expected = memory.admit(&key, now).await.unwrap();
            let got = postgres.admit(&key, now).await.unwrap();
            assert_eq!(refused(got), refused(expected), "step {i} with {limits:?}");
            throttled += usize::from(refused(expected).is_some());
            // One attempt in ten succeeds and is released; the rest fail.
            if let (0, Admission::Admitted(m), Admission::Admitted(p)) = (op, expected, got) {
                memory.release(&key, m).await.unwrap();
                postgres.release(&key, p).await.unwrap();
            }
        }
        let on = max_failures > 0 || max_failures_per_addr > 0;
        assert_eq!(throttled > 0, on, "{throttled} throttled with {limits:?}");
    }
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_limits_pairs_and_addresses_and_cleans_up() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    let store = open_store(&db.url, &clock).await;
    let t = PostgresThrottle::new(
        store,
        ThrottleLimits {
            max_failures: 2,
            max_failures_per_addr: 3,
            window_seconds: 60,
        },
    );
    let start = clock.now();
    let at = |s: i64| start + Duration::seconds(s);
    let key = |email: &str| ThrottleKey::new(email, "127.0.0.1".parse().unwrap());
    let (a, b) = (key("a@x.io"), key("b@x.io"));
    let admitted = |admission| match admission {
        Admission::Admitted(attempt) => attempt,
        other => panic!("expected an admission, got {other:?}"),
    };
    admitted(t.admit(&a, at(0)).await.unwrap());
    admitted(t.admit(&a, at(10)).await.unwrap());
    assert_eq!(
        refused(t.admit(&a, at(10)).await.unwrap()),
        Some(50),
        "pair"
    );
    let ok = admitted(t.admit(&b, at(20)).await.unwrap());
    assert_eq!(
        refused(t.admit(&b, at(20)).await.unwrap()),
        Some(40),
        "address"
    );
    // b's attempt succeeds: it stops counting, for the pair and the address.
    t.release(&b, ok).await.unwrap();
    admitted(t.admit(&b, at(21)).await.unwrap());
    assert_eq!(refused(t.admit(&a, at(21)).await.unwrap()), Some(39));

    let client = db.client().await;
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(sql, &[])
                .await
                .expect("a count")
                .get::<_, i64>(0)
        }
    };
    const ATTEMPTS: &str = "SELECT count(*) FROM login_gates g, unnest(g.attempts) a";
    assert_eq!(count(ATTEMPTS).await, 3);
    assert_eq!(
        count(
            "SELECT count(*) FROM login_gates g, unnest(g.attempts) a \
             WHERE a.email_sha256 = sha256('a@x.io')"
        )
        .await,
        2,
        "emails are kept as their SHA-256"
    );
    // An attempt after the window drops its gate's expired attempts.
    admitted(t.admit(&b, at(90)).await.unwrap());
    assert_eq!(
        count(ATTEMPTS).await,
        1,
        "the attempts at 0, 10 and 21 are gone"
    );
    // One from another address, after that one's window, deletes its gate.
    let elsewhere = ThrottleKey::new("a@x.io", "::1".parse().unwrap());
    admitted(t.admit(&elsewhere, at(200)).await.unwrap());
    assert_eq!(
        count("SELECT count(*) FROM login_gates WHERE addr = '127.0.0.1'").await,
        0,
        "the expired gate is swept"
    );
    assert_eq!(count(ATTEMPTS).await, 1);
    db.drop().await;
}

/// The value of the sample `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Asserts `text` is well-formed Prometheus text: every sample follows
/// its family's `# TYPE` line, and no family is declared twice.
fn assert_valid_exposition(text: &str) {
    let mut declared: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let family = rest.split(' ').next().expect("a family name");
            assert!(!declared.contains(&family), "{family} declared twice");
            declared.push(family);
        } else if !line.starts_with('#') {
            let name = line.split(['{', ' ']).next().expect("a sample name");
            let value = line.rsplit(' ').next().expect("a value");
            assert!(value.parse::<f64>().is_ok(), "bad value: {line}");
            let family = declared.last().expect("a sample before any TYPE");
            assert!(
                name.starts_with(family),
                "{name} outside its family ({family})"
            );
        }
    }
}

/// Connections in use, idle and waiting, and the pool's size.
fn pool_gauges(text: &str) -> [f64; 4] {
    [
        "db_pool_connections{state=\"in_use\"}",
        "db_pool_connections{state=\"idle\"}",
        "db_pool_waiting",
        "db_pool_max_connections",
    ]
    .map(|name| sample(text, name).unwrap_or_else(|| panic!("no {name} in:\n{text}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_pool_connections_in_use_and_waiting() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let clock = clock();
    // Long enough a timeout that the blocked requests wait for the lock.
    let running = start_app_with(&db.url, &clock, |c| {
        c.database_pool_size = 4;
        c.database_timeout_seconds = 20;
    })
    .await;
    let http = Http::new(&running);
    http.register("jane@example.com").await;
    let token = http.login("jane@example.com").await;

    let (status, text) = http.get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_valid_exposition(&text);
    let [in_use, idle, waiting, max] = pool_gauges(&text);
    assert_eq!((in_use, waiting, max), (0.0, 0.0, 4.0), "at rest:\n{text}");
    assert!((1.0..=4.0).contains(&idle), "idle {idle}");

    // Hold the users table: six requests that read it take the four
    // connections and two wait for one.
    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let requests: Vec<_> = (0..6)
        .map(|_| {
            let (http, token) = (http.clone(), token.clone());
            tokio::spawn(async move { http.get("/profile", Some(&token)).await.0 })
        })
        .collect();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    let busy = loop {
        let (_, text) = http.get_text("/metrics").await;
        let gauges = pool_gauges(&text);
        if gauges[..3] == [4.0, 0.0, 2.0] || tokio::time::Instant::now() > deadline {
            break gauges;
        }
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    };
    locker.batch_execute("COMMIT").await.expect("unlock");
    assert_eq!(busy, [4.0, 0.0, 2.0, 4.0], "in use, idle, waiting, max");
    for request in requests {
        assert_eq!(request.await.expect("a request"), StatusCode::OK);
    }
    let (_, text) = http.get_text("/metrics/").await;
    assert_valid_exposition(&text);
    assert_eq!(pool_gauges(&text), [0.0, 4.0, 0.0, 4.0], "at rest again");
    running.stop().await.expect("a clean stop");
    db.drop().await;
}

#[tokio::test]
async fn the_memory_store_has_no_pool_gauges() {
    let config = Config {
        bind_addr: "127.0.0.1:0".into(),
        bcrypt_cost: 4,
        rust_log: "warn".into(),
        ..Config::default()
    };
    let running = app::start(&config, Arc::new(ManualClock::starting_now()))
        .await
        .expect("the app starts");
    let (status, text) = Http::new(&running).get_text("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_valid_exposition(&text);
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(!text.contains("db_pool"), "{text}");
    running.stop().await.expect("a clean stop");
}
