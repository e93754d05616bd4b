//! Faults: the database disappears mid-traffic (a proxy between the app
//! and PostgreSQL closes every connection, or silently stalls them) and
//! comes back. Requests get 503 quickly, `/healthz` stays 200, `/readyz`
//! turns 503, the app recovers by itself, and every write answered 2xx
//! before the cut is still there.

mod postgres_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use postgres_support::proxy::{Mode, Proxy};
use postgres_support::{Http, PASSWORD, TestDb, server_addr, start_app, with_port};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

const UNAVAILABLE: &str = "Service temporarily unavailable";
/// "Quickly": the apps here wait 2 s for the database; this bound only
/// catches hangs.
const QUICK: Duration = Duration::from_secs(8);

/// Asserts a 503 in the contract's shape, answered quickly.
async fn expect_unavailable(
    http: &Http,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) {
    let started = Instant::now();
    let (status, answer) = http.call(method.clone(), path, token, body.as_ref()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {answer}");
    assert_eq!(answer, json!({ "detail": UNAVAILABLE }), "{path}");
    let took = started.elapsed();
    println!("{method} {path}: 503 in {took:?}");
    assert!(took < QUICK, "{path} took {took:?}");
}

/// Polls `/readyz` until it answers 200.
async fn wait_until_ready(http: &Http) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get("/readyz", None).await.0 != StatusCode::OK {
        assert!(
            Instant::now() < deadline,
            "the app did not become ready again by itself"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Background traffic: creates posts and reads pages until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    created: Arc<AtomicUsize>,
    /// How many 503s the traffic has been answered.
    unavailable: Arc<AtomicUsize>,
    /// The ids of posts answered 201, and every status seen.
    task: JoinHandle<(Vec<i64>, Vec<u16>)>,
}

impl Traffic {
    fn start(http: Http, token: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let created = Arc::new(AtomicUsize::new(0));
        let unavailable = Arc::new(AtomicUsize::new(0));
        let (flag, count, refused) = (stop.clone(), created.clone(), unavailable.clone());
        let task = tokio::spawn(async move {
            let (mut ids, mut statuses) = (Vec::new(), Vec::new());
            for n in 0.. {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let body = json!({ "title": format!("traffic {n}"), "content": "c" });
                let (status, post) = http.post("/posts", Some(&token), body).await;
                if status == StatusCode::CREATED {
                    ids.push(post["id"].as_i64().expect("an id"));
                    count.fetch_add(1, Ordering::Relaxed);
                }
                let read = http.get("/posts?limit=5", Some(&token)).await.0;
                for status in [status, read] {
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    statuses.push(status.as_u16());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (ids, statuses)
        });
        Self {
            stop,
            created,
            unavailable,
            task,
        }
    }

    /// Waits until the traffic itself has been answered 503: a cut outage
    /// answers within milliseconds, so without this wait the traffic could
    /// sleep through the whole of it.
    async fn wait_for_outage(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.unavailable.load(Ordering::Relaxed) == 0 {
            assert!(
                Instant::now() < deadline,
                "the traffic never saw the outage"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `n` posts were created.
    async fn wait_for_writes(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.created.load(Ordering::Relaxed) < n {
            assert!(Instant::now() < deadline, "the traffic does not write");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn finish(self) -> (Vec<i64>, Vec<u16>) {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the traffic task")
    }
}

/// Cuts or stalls the database under traffic, checks the answers during
/// the outage, restores it and checks that nothing acknowledged was lost.
async fn outage(mode: Mode) {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = Proxy::start(server_addr(&db.url)).await;
    let app = start_app(&with_port(&db.url, proxy.port())).await;
    let http = Http::new(&app);
    http.register("author@example.com").await;
    http.register("voter@example.com").await;
    let author = http.login("author@example.com").await;
    let voter = http.login("voter@example.com").await;
    let revoked = http.login("author@example.com").await;
    let post = http.create_post(&author, "before the outage", true).await;
    let draft = http
        .create_post(&author, "draft before the outage", false)
        .await;
    let (status, _) = http
        .post("/vote", Some(&voter), json!({ "post_id": post, "dir": 1 }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = http.post("/logout", Some(&revoked), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let traffic = Traffic::start(http.clone(), author.clone());
    traffic.wait_for_writes(3).await;
    proxy.set(mode);

    use reqwest::Method;
    expect_unavailable(&http, Method::GET, "/posts", Some(&author), None).await;
    expect_unavailable(
        &http,
        Method::GET,
        &format!("/posts/{post}"),
        Some(&voter),
        None,
    )
    .await;
    expect_unavailable(&http, Method::GET, "/readyz", None, None).await;
    let login = json!({ "username": "author@example.com", "password": PASSWORD });
    expect_unavailable(&http, Method::POST, "/login", None, Some(login)).await;
    let register = json!({ "email": "new@example.com", "password": PASSWORD });
    expect_unavailable(&http, Method::POST, "/users", None, Some(register)).await;
    let started = Instant::now();
    assert_eq!(
        http.get("/healthz", None).await,
        (StatusCode::OK, json!({ "status": "ok" }))
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "/healthz does not touch the database"
    );

    traffic.wait_for_outage().await;
    proxy.set(Mode::Up);
    wait_until_ready(&http).await;
    let (status, _) = http.get("/posts", Some(&author)).await;
    assert_eq!(status, StatusCode::OK, "recovered");
    traffic
        .wait_for_writes(traffic.created.load(Ordering::Relaxed) + 2)
        .await;
    let (created, statuses) = traffic.finish().await;

    let seen: BTreeSet<u16> = statuses.iter().copied().collect();
    assert!(
        seen.iter().all(|s| [200, 201, 503].contains(s)),
        "only 2xx and 503 under the outage: {seen:?}"
    );
    assert!(seen.contains(&503), "the traffic saw the outage: {seen:?}");
    for id in created.iter().chain([&post, &draft]) {
        let (status, body) = http.get(&format!("/posts/{id}"), Some(&author)).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "post {id}, acknowledged before or after the outage: {body}"
        );
    }
    assert_eq!(
        http.get(&format!("/posts/{post}"), Some(&voter)).await.1["votes"],
        1
    );
    assert_eq!(
        http.get("/profile", Some(&revoked)).await.0,
        StatusCode::UNAUTHORIZED,
        "still revoked"
    );
    app.stop().await.expect("a clean stop");
    drop(proxy);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_connection_is_cut_mid_traffic_and_restored() {
    outage(Mode::Cut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stalls_mid_traffic_and_recovers() {
    outage(Mode::Stalled).await;
}
