//! Settings out of range refuse to start, naming the variable, before the
//! service listens: the real binary, with each bad value in its
//! environment (API.md, "Configuration").

use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs the binary with `vars` on top of a working memory configuration;
/// its exit success and what it printed on stderr.
fn start_with(vars: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_posts-api"));
    command
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("BCRYPT_COST", "4")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("the binary starts");
    // A value in range would serve forever: give it a moment, then stop it.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            child.kill().expect("kill");
            child.wait().expect("reap");
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    (status.is_some_and(|s| s.success()), stderr)
}

/// Asserts that `var=value` refuses to start with a message naming `var`.
fn refused(var: &str, value: &str) {
    let (ok, stderr) = start_with(&[(var, value)]);
    assert!(!ok, "{var}={value} started");
    assert!(
        stderr.contains(var),
        "{var}={value}: the message does not name it:\n{stderr}"
    );
}

#[test]
fn numeric_settings_out_of_range_refuse_to_start() {
    for (var, value) in [
        ("LOGIN_WINDOW_SECONDS", "300000000000"),
        ("LOGIN_WINDOW_SECONDS", "0"),
        ("LOGIN_MAX_FAILURES", "-1"),
        ("LOGIN_MAX_FAILURES", "1000001"),
        ("LOGIN_MAX_FAILURES_PER_ADDR", "99999999999"),
        ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
        ("BCRYPT_COST", "32"),
        ("REQUEST_TIMEOUT_SECONDS", "0"),
        ("DATABASE_POOL_SIZE", "0"),
        ("DATABASE_TIMEOUT_SECONDS", "100000"),
        ("SEED_POSTS", "100000000000"),
    ] {
        refused(var, value);
    }
}

#[test]
fn a_short_jwt_secret_refuses_to_start() {
    refused("JWT_SECRET", "x");
    refused("JWT_SECRET", &"k".repeat(31));
}

#[test]
fn the_limits_of_each_range_start() {
    // A value at the edge of its range is accepted: the process keeps
    // serving until it is stopped (None above means it was still up).
    let (ok, stderr) = start_with(&[
        ("LOGIN_WINDOW_SECONDS", "2592000"),
        ("LOGIN_MAX_FAILURES", "0"),
        ("JWT_SECRET", &"k".repeat(32)),
    ]);
    assert!(!ok, "it was stopped, not exited");
    assert!(
        !stderr.contains("error"),
        "in-range values were refused:\n{stderr}"
    );
}

#[test]
fn an_unknown_pooler_refuses_to_start() {
    refused("DATABASE_POOLER", "session");
    refused("DATABASE_POOLER", "pgbouncer");
}
