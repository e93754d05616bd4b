//! What unauthenticated clients send does not grow the service's memory:
//! the real binary's resident memory, read from `/proc`, before and after
//! hostile logins (API.md, "Conventions": throttling keys are hashes).

mod support;

use std::process::Child;

/// Starts the binary on a free port; the child and its address.
fn start() -> (Child, String) {
    support::binary::start(&[("BCRYPT_COST", "4"), ("RUST_LOG", "warn,posts_api=info")])
}

/// The process's resident memory, in KiB.
fn rss_kib(child: &Child) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a VmRSS line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_usernames_are_not_kept() {
    if !std::path::Path::new("/proc/self/status").exists() {
        println!("skipped: no /proc");
        return;
    }
    let (mut child, addr) = start();
    let client = reqwest::Client::new();
    let login = |username: String| {
        let client = client.clone();
        let url = format!("http://{addr}/login");
        async move {
            let form = [
                ("username", username.as_str()),
                ("password", "wrong password"),
            ];
            client
                .post(url)
                .form(&form)
                .send()
                .await
                .expect("an answer")
                .status()
        }
    };
    // Warm up the allocator with one such request, then measure.
    assert_eq!(login("w".repeat(900_000)).await, 401);
    let before = rss_kib(&child);
    for i in 0..45 {
        // Distinct usernames of 0.9 MB each: 40 MB if they were kept.
        let username = format!("{i}{}", "u".repeat(900_000));
        let status = login(username).await;
        assert!(matches!(status.as_u16(), 401 | 429), "{status}");
    }
    let grown = rss_kib(&child).saturating_sub(before);
    println!("resident memory grew by {grown} KiB");
    child.kill().expect("kill");
    child.wait().expect("reap");
    assert!(
        grown < 12 * 1024,
        "resident memory grew by {grown} KiB after 45 logins with 0.9 MB usernames"
    );
}
