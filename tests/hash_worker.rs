//! The password hashing worker process (`posts-api hash-worker`) behind
//! the `PasswordHasher` port: the real binary as the child, a round trip,
//! wrong passwords, the 72-byte rule, several requests at once, the
//! child's scheduling (its own session and autogroup at nice 19, hashing
//! threads at `SCHED_IDLE`), a child killed mid-flight (errors, never a
//! wrong answer, then a new child), a stopped child (killed once it leaves
//! a ping unanswered) and a slow one (kept), the child's exit when the
//! service lets go of it, and the binary's `serve` using it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use posts_api::adapters::bcrypt::BcryptHasher;
use posts_api::adapters::hash_worker::WorkerHasher;
use posts_api::domain::{Password, PasswordHash, StoreError};
use posts_api::ports::PasswordHasher;

const BIN: &str = env!("CARGO_BIN_EXE_posts-api");

/// A worker hasher over the real binary at `cost`, and its hello.
async fn worker(cost: u32) -> (WorkerHasher, String) {
    let local = BcryptHasher::new(cost).expect("a valid cost");
    match WorkerHasher::start(local, Path::new(BIN)).await {
        Ok(started) => started,
        Err((_, e)) => panic!("the worker did not start: {e}"),
    }
}

/// [`worker`], killed when a ping goes unanswered for `patience`.
async fn impatient_worker(cost: u32, patience: Duration) -> WorkerHasher {
    let local = BcryptHasher::new(cost).expect("a valid cost");
    match WorkerHasher::start_with_patience(local, Path::new(BIN), patience).await {
        Ok((hasher, _)) => hasher,
        Err((_, e)) => panic!("the worker did not start: {e}"),
    }
}

fn password(raw: &str) -> Password {
    Password::parse(raw).expect("a valid password")
}

/// Eight verifies against `hash` at once, each with its index: the even
/// ones of "the real one", the odd ones of a wrong password.
async fn eight_verifies(
    hasher: &WorkerHasher,
    hash: &PasswordHash,
) -> Vec<(usize, Result<bool, StoreError>)> {
    join_all((0..8).map(|i| async move {
        let candidate = if i % 2 == 0 {
            "the real one"
        } else {
            "a wrong one"
        };
        (i, hasher.verify(candidate, Some(hash)).await)
    }))
    .await
}

/// Sends SIGKILL to `pid`.
fn kill(pid: u32) {
    signal(pid, "-KILL");
}

/// Sends `signal` (`-KILL`, `-STOP`, ...) to `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
}

/// Waits up to 10 s for `/proc/PID` to go (the child exited and was
/// reaped).
async fn gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashes_and_verifies_in_the_worker() {
    let (hasher, _) = worker(4).await;
    assert!(hasher.worker_pid().await.is_some());
    let hash = hasher.hash(&password("correct horse")).await.unwrap();
    assert!(hash.expose().starts_with("$2b$04$"), "a bcrypt hash");
    assert!(hasher.verify("correct horse", Some(&hash)).await.unwrap());
    assert!(!hasher.verify("correct horsE", Some(&hash)).await.unwrap());
    assert!(!hasher.verify("", Some(&hash)).await.unwrap());
    assert!(
        !hasher.verify("correct horse", None).await.unwrap(),
        "no hash: the dummy, never a match"
    );

    // The in-process hasher and the worker agree both ways.
    let local = BcryptHasher::new(4).unwrap();
    let here = local.hash(&password("both ways")).await.unwrap();
    assert!(hasher.verify("both ways", Some(&here)).await.unwrap());
    let there = hasher.hash(&password("both ways")).await.unwrap();
    assert!(local.verify("both ways", Some(&there)).await.unwrap());

    // 72 bytes match; a 73rd byte (which bcrypt would ignore) never does.
    let exact = "é".repeat(36);
    let hash = hasher.hash(&password(&exact)).await.unwrap();
    assert!(hasher.verify(&exact, Some(&hash)).await.unwrap());
    assert!(
        !hasher
            .verify(&format!("{exact}x"), Some(&hash))
            .await
            .unwrap()
    );
    // Neither does a stored value that is no bcrypt hash.
    let junk = posts_api::domain::PasswordHash::new("x".repeat(70_000));
    assert!(!hasher.verify("anything", Some(&junk)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_several_requests_at_once() {
    let (hasher, _) = worker(5).await;
    let hashes = join_all((0..6).map(|i| {
        let hasher = &hasher;
        async move { hasher.hash(&password(&format!("password {i}"))).await }
    }))
    .await;
    let hashes: Vec<_> = hashes.into_iter().map(Result::unwrap).collect();
    let checks = join_all((0..6).flat_map(|i| {
        let (hasher, hashes) = (&hasher, &hashes);
        [i, (i + 1) % 6].map(move |j| async move {
            let ok = hasher
                .verify(&format!("password {i}"), Some(&hashes[j]))
                .await
                .unwrap();
            (i, j, ok)
        })
    }))
    .await;
    for (i, j, ok) in checks {
        assert_eq!(ok, i == j, "password {i} against hash {j}");
    }
}

/// A field of `/proc/PID/stat` after the command name (field 3 is 0).
#[cfg(target_os = "linux")]
fn stat_field(path: &str, field: usize) -> i64 {
    let stat = std::fs::read_to_string(path).expect("stat");
    let after_name = &stat[stat.rfind(')').expect("a command name") + 2..];
    after_name
        .split(' ')
        .nth(field - 3)
        .expect("the field")
        .parse()
        .expect("a number")
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_has_a_group_of_its_own_at_the_lowest_priority() {
    let (hasher, hello) = worker(4).await;
    let pid = hasher.worker_pid().await.expect("a worker");
    // A session of its own (field 6, the session id, is its pid).
    assert_eq!(stat_field(&format!("/proc/{pid}/stat"), 6), i64::from(pid));
    // Every hashing thread at SCHED_IDLE (policy, field 41, is 5); the
    // reader, the main thread, at the normal policy (0), to answer pings.
    hasher.hash(&password("wake the threads")).await.unwrap();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("threads");
    let mut hashing = 0;
    for task in tasks {
        let task = task.unwrap().path();
        let stat = task.join("stat");
        let policy = stat_field(stat.to_str().unwrap(), 41);
        if task.ends_with(pid.to_string()) {
            assert_eq!(policy, 0, "the reader, {stat:?}");
        } else {
            assert_eq!(policy, 5, "{stat:?}");
            hashing += 1;
        }
    }
    assert!(hashing >= 1, "at least one hashing thread");
    let enabled = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled");
    if enabled.is_ok_and(|v| v.trim() == "1") {
        let group = std::fs::read_to_string(format!("/proc/{pid}/autogroup")).unwrap();
        let ours = std::fs::read_to_string("/proc/self/autogroup").unwrap();
        assert!(group.trim().ends_with("nice 19"), "{group}");
        assert_ne!(group.split(' ').next(), ours.split(' ').next());
        assert_eq!(hello, group.trim(), "the hello says what it got");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_fails_its_requests_then_is_replaced() {
    // Cost 10 (tens of milliseconds a hash on an idle core): eight verifies
    // on the worker's slots take several rounds, so the kill lands while
    // some are in flight, and a busy machine (the worker gets only idle
    // cores) only makes them slower.
    let (hasher, _) = worker(10).await;
    let hash = hasher.hash(&password("the real one")).await.unwrap();
    let first = hasher.worker_pid().await.expect("a worker");
    let calls = eight_verifies(&hasher, &hash);
    let killer = async {
        tokio::time::sleep(Duration::from_millis(30)).await;
        kill(first);
    };
    let (results, ()) = tokio::join!(calls, killer);
    let mut failed = 0;
    for (i, result) in results {
        match result {
            // Answered before the kill, or by the next worker: right.
            Ok(matched) => assert_eq!(matched, i % 2 == 0, "request {i}"),
            Err(StoreError::Unavailable(why)) => {
                assert!(why.contains("worker"), "{why}");
                failed += 1;
            }
        }
    }
    assert!(failed > 0, "the kill took requests in flight with it");
    assert!(gone(first).await, "the killed worker was reaped");

    // The next requests go to a new worker.
    assert!(hasher.verify("the real one", Some(&hash)).await.unwrap());
    assert!(!hasher.verify("a wrong one", Some(&hash)).await.unwrap());
    let second = hasher.worker_pid().await.expect("a new worker");
    assert_ne!(first, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_is_killed_and_replaced() {
    let hasher = impatient_worker(4, Duration::from_millis(300)).await;
    let hash = hasher.hash(&password("the real one")).await.unwrap();
    let first = hasher.worker_pid().await.expect("a worker");
    signal(first, "-STOP");
    // Without the watchdog this waits for as long as the worker lives.
    let asked = tokio::time::timeout(
        Duration::from_secs(30),
        hasher.verify("the real one", Some(&hash)),
    )
    .await
    .expect("a stopped worker does not hold the request");
    match asked {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("worker"), "{why}"),
        other => panic!("a stopped worker answered: {other:?}"),
    }
    assert!(
        gone(first).await,
        "the stopped worker was killed and reaped"
    );
    assert!(hasher.verify("the real one", Some(&hash)).await.unwrap());
    let second = hasher.worker_pid().await.expect("a new worker");
    assert_ne!(first, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_worker_is_not_taken_for_a_stopped_one() {
    // Hashes at cost 12 take far longer than the patience, and the eight
    // verifies queue on the slots for several rounds: the worker answers
    // pings meanwhile, so it is kept and every answer comes.
    let patience = Duration::from_millis(100);
    let hasher = impatient_worker(12, patience).await;
    let hash = hasher.hash(&password("the real one")).await.unwrap();
    let first = hasher.worker_pid().await.expect("a worker");
    let started = Instant::now();
    let calls = eight_verifies(&hasher, &hash).await;
    assert!(
        started.elapsed() > patience * 4,
        "the test outlasts the patience"
    );
    for (i, result) in calls {
        assert_eq!(result.unwrap(), i % 2 == 0, "request {i}");
    }
    assert_eq!(hasher.worker_pid().await, Some(first), "the same worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_exits_when_the_hasher_goes() {
    let (hasher, _) = worker(4).await;
    let pid = hasher.worker_pid().await.expect("a worker");
    drop(hasher);
    assert!(gone(pid).await, "stdin closed: the worker exits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_is_no_worker_is_refused() {
    let local = BcryptHasher::new(4).unwrap();
    // `true` exits at once without a hello.
    let Err((local, e)) = WorkerHasher::start(local, Path::new("true")).await else {
        panic!("`true` is no worker");
    };
    assert!(e.to_string().contains("did not start"), "{e}");
    let missing = Path::new("/nonexistent/posts-api");
    let Err((_, e)) = WorkerHasher::start(local, missing).await else {
        panic!("a missing program is no worker");
    };
    assert!(e.to_string().contains("cannot run"), "{e}");
}

/// `serve` starts the worker, logs that it did, and logs in through it,
/// also after the worker is killed.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_through_its_worker() {
    let mut child = Command::new(BIN)
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut seen, mut line) = (String::new(), String::new());
    let base = loop {
        line.clear();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the binary exited before it was ready:\n{seen}");
        }
        seen.push_str(&line);
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().expect("an address");
            break format!("http://{addr}");
        }
    };
    let result = std::panic::AssertUnwindSafe(async {
        assert!(
            seen.contains("password hashing in a worker process"),
            "{seen}"
        );
        // Each thread lists the children it started.
        let mut children = String::new();
        for task in std::fs::read_dir(format!("/proc/{}/task", child.id())).unwrap() {
            let listed = std::fs::read_to_string(task.unwrap().path().join("children"));
            children.push_str(&listed.unwrap_or_default());
            children.push(' ');
        }
        let worker: u32 = children
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("a worker among the children: {children:?}"));
        let client = reqwest::Client::new();
        let user = serde_json::json!({"email": "w@example.com", "password": "worker pass"});
        let created = client
            .post(format!("{base}/users"))
            .json(&user)
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let login = || {
            client
                .post(format!("{base}/login"))
                .form(&[("username", "w@example.com"), ("password", "worker pass")])
                .send()
        };
        assert_eq!(login().await.unwrap().status(), 200);
        kill(worker);
        assert!(gone(worker).await, "reaped by the service");
        assert_eq!(login().await.unwrap().status(), 200, "a new worker");
    });
    let outcome = futures_util::FutureExt::catch_unwind(result).await;
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
