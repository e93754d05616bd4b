//! Graceful shutdown of the real binary: on SIGTERM, requests in flight
//! finish with their normal answers, new connections are refused, and the
//! process exits 0 within a bounded time.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

/// Starts the binary on a free port with bcrypt at `cost` and a
/// start-up admin; the child and its address.
fn start(cost: &str) -> (std::process::Child, String) {
    support::binary::start(&[
        ("BCRYPT_COST", cost),
        ("ADMIN_EMAIL", "admin@example.com"),
        ("ADMIN_PASSWORD", "admin-password"),
        ("RUST_LOG", "info"),
    ])
}

fn sigterm(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_and_the_process_exits_zero() {
    // Cost 14 makes a login take a noticeable while: the request in flight.
    let (mut child, addr) = start("14");
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let login = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/login");
        async move {
            client
                .post(url)
                .form(&[
                    ("username", "admin@example.com"),
                    ("password", "admin-password"),
                ])
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    sigterm(&child);

    let resp = login
        .await
        .unwrap()
        .expect("the request in flight gets its answer");
    assert_eq!(resp.status(), 200, "the login in flight completes normally");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");

    // New connections are refused once it has stopped accepting.
    let fresh = reqwest::Client::new();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "exits within the grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "exit status 0");
    assert!(
        fresh.get(format!("{base}/healthz")).send().await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn idle_process_stops_at_once() {
    let (mut child, _) = start("4");
    sigterm(&child);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "an idle server stops promptly"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}
