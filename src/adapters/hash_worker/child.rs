//! The worker's side (`posts-api hash-worker`): leaves the service's
//! session for one of its own (so, on Linux with autogroups, a scheduling
//! group of its own), sets that group's nice to 19 and its threads to
//! `SCHED_IDLE`, then answers requests from stdin on one thread per core
//! until stdin ends (the service is gone).
//!
//! It logs nothing but why it stopped (to stderr, the service's): requests
//! carry passwords.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier, Mutex};

use super::protocol::{self, Frame};
use crate::adapters::bcrypt::idle_priority;

/// Runs the worker until stdin ends; the exit code says whether the pipe
/// closed cleanly.
pub fn run() -> ExitCode {
    let scheduling = isolate();
    let out = Arc::new(Mutex::new(io::stdout()));
    let (tx, rx) = mpsc::channel::<Frame>();
    let rx = Arc::new(Mutex::new(rx));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The hello only once every hashing thread is at its priority: no hash
    // can run at the normal one.
    let lowered = Arc::new(Barrier::new(cores + 1));
    for _ in 0..cores {
        let (rx, out, lowered) = (rx.clone(), out.clone(), lowered.clone());
        std::thread::spawn(move || {
            idle_priority();
            lowered.wait();
            serve(&rx, &out);
        });
    }
    lowered.wait();
    if send(
        &out,
        &protocol::reply(0, protocol::HELLO, scheduling.as_bytes()),
    )
    .is_err()
    {
        return ExitCode::FAILURE;
    }
    let mut stdin = io::stdin().lock();
    loop {
        match read_frame(&mut stdin) {
            Ok(Some(frame)) if frame.kind() == protocol::PING => {
                let pong = protocol::reply(frame.id(), protocol::PONG, &[]);
                if send(&out, &pong).is_err() {
                    return ExitCode::FAILURE;
                }
            }
            Ok(Some(frame)) => {
                if tx.send(frame).is_err() {
                    return ExitCode::FAILURE;
                }
            }
            // The service closed the pipe (or exited): nobody is waiting
            // for the hashes in flight.
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("posts-api hash-worker: stopping: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
}

/// One frame off `input`: `None` at a clean end of the stream.
fn read_frame(input: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut prefix = [0u8; 4];
    match input.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let broken = || io::Error::new(io::ErrorKind::InvalidData, "a malformed request frame");
    let len = protocol::body_len(prefix).ok_or_else(broken)?;
    let mut body = vec![0u8; len];
    let read = input.read_exact(&mut body);
    // Wrapped before anything else can fail, so that it is wiped.
    let frame = Frame::new(body).ok_or_else(broken)?;
    read.map(|()| Some(frame))
}

/// A worker thread: takes requests until the reader stops.
fn serve(requests: &Mutex<Receiver<Frame>>, out: &Mutex<io::Stdout>) {
    loop {
        let next = match requests.lock() {
            Ok(requests) => requests.recv(),
            Err(_) => return,
        };
        let Ok(request) = next else { return };
        let (status, payload) = answer(&request);
        if send(
            out,
            &protocol::reply(request.id(), status, payload.as_bytes()),
        )
        .is_err()
        {
            // The service is gone; the reader sees it too.
            return;
        }
    }
}

/// A request's status and payload.
fn answer(request: &Frame) -> (u8, String) {
    match request.kind() {
        protocol::HASH => match protocol::parse_hash(request.payload()) {
            Some((cost, password)) => match bcrypt::hash(password, u32::from(cost)) {
                Ok(hash) => (protocol::HASHED, hash),
                Err(e) => (protocol::FAILED, format!("bcrypt: {e}")),
            },
            None => (protocol::FAILED, "a malformed hash request".into()),
        },
        protocol::VERIFY => match protocol::parse_verify(request.payload()) {
            Some((hash, candidate)) => {
                // A malformed stored hash matches nothing, as in process.
                let matched = std::str::from_utf8(hash)
                    .ok()
                    .is_some_and(|hash| bcrypt::verify(candidate, hash).unwrap_or(false));
                let status = if matched {
                    protocol::MATCHED
                } else {
                    protocol::NOT_MATCHED
                };
                (status, String::new())
            }
            None => (protocol::FAILED, "a malformed verify request".into()),
        },
        op => (protocol::FAILED, format!("unknown request op {op}")),
    }
}

/// Writes one whole frame and flushes it.
fn send(out: &Mutex<io::Stdout>, frame: &[u8]) -> io::Result<()> {
    let mut out = out
        .lock()
        .map_err(|_| io::Error::other("stdout lock poisoned"))?;
    out.write_all(frame)?;
    out.flush()
}

/// Moves this process into a session, and so an autogroup, of its own and
/// sets that group's nice to 19; says what came of it.
///
/// With `kernel.sched_autogroup_enabled`, CFS weighs each session's group
/// alike: the service, and each PostgreSQL backend (every one calls
/// `setsid`). `SCHED_IDLE` threads yield only within their own group, so
/// hashes in the service's group took its full share beside every
/// backend. In a group of their own at nice 19 they weigh 15 against 1024
/// for each of those, and get the cores only when the others leave them
/// idle. An unprivileged process may lower its own group's priority.
fn isolate() -> String {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: setsid takes no arguments and only changes this process's
        // session; it fails (harmlessly) for a process group leader.
        if unsafe { libc::setsid() } == -1 {
            return format!("no session of its own: {}", io::Error::last_os_error());
        }
        let mut tries = 0;
        // The kernel refuses changes more often than ten a second, for all
        // processes together (EAGAIN): wait and retry a few times.
        let written = loop {
            match std::fs::write("/proc/self/autogroup", "19") {
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < 20 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other,
            }
        };
        let group = std::fs::read_to_string("/proc/self/autogroup")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|e| format!("no autogroup ({e})"));
        match written {
            Ok(()) => group,
            Err(e) => format!("{group} (setting nice 19 failed: {e})"),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        String::from("no autogroups on this system")
    }
}
