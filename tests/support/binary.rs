//! The real `posts-api` binary on a free port, for the tests that need a
//! process of its own (signals, connection limits, resident memory).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts the binary with only `env` (on top of `BIND_ADDR=127.0.0.1:0`
/// and `NO_COLOR=1`), and returns it with its address once it is ready.
///
/// The address comes from the "listening on" line it logs when it serves,
/// so `env` must let that line through (`RUST_LOG` at `info` for
/// `posts_api`). The environment is cleared so that the developer's own
/// `.env` settings cannot change what a test sees.
///
/// # Panics
/// When the binary does not start or exits before it is ready.
pub fn start(env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_posts-api"))
        .env_clear()
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("a ready line before EOF")
            .expect("a UTF-8 log line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .expect("an address")
                .to_owned();
        }
    };
    // Keep draining the log so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}
