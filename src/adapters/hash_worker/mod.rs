//! Password hashing in a child process of the service (`posts-api
//! hash-worker`), at the lowest priority the kernel has across processes.
//!
//! Why a process: on Linux with `kernel.sched_autogroup_enabled`, CFS shares
//! the CPU between sessions' groups first, and every PostgreSQL backend is
//! a session of its own. Hashing threads at `SCHED_IDLE` inside the
//! service's group yield to the service's threads only; while they run,
//! the service's group takes a full share beside each backend, slowing the
//! database and the reads behind it (benches/RESULTS.md, "the login storm
//! on PostgreSQL"). The worker starts a session of its own, sets its
//! group's nice to 19 (weight 15 against 1024 for the service and for each
//! backend) and its hashing threads to `SCHED_IDLE`: hashes get the cores the
//! service and the database leave idle, and a pure login load still uses
//! every core. Priorities, not a cap. What priorities cannot do: with
//! idle-class work on a core, this kernel's load balancer queues the
//! PostgreSQL backends on the other one, so a PostgreSQL-bound read's p99
//! still grows during a storm on shared cores (its p50 does not; measured
//! in benches/RESULTS.md, "The login storm on PostgreSQL").
//!
//! The [`PasswordHasher`] contract is kept as [`BcryptHasher`] keeps it:
//! the same slots (one hash per core at once, waited for here), the same
//! dummy hash for unknown users, and no match over 72 bytes. Requests go
//! over the child's stdin and come back over its stdout, with ids
//! ([`protocol`]), several in flight. Passwords travel only over that
//! private pipe. The child exits when its stdin ends (the service went).
//!
//! When the child dies, the requests it held fail with
//! [`StoreError::Unavailable`] (503), never with an answer; the next
//! request starts a new child, and while none can be started hashes run in
//! this process, as [`BcryptHasher`] runs them. A child that lives but no
//! longer answers (stopped, hung) would hold its slots, and every login
//! behind them, for as long as it lives: while requests wait on it, it is
//! pinged ([`watch`]), and one that leaves a ping unanswered for
//! [`UNRESPONSIVE_AFTER`] is killed, which is the case above. Pings are
//! answered by the child's reader thread, which is not at `SCHED_IDLE`:
//! a child starved of idle cores (its hashes slow, as they should be
//! under load) still answers them.

mod child;
pub mod protocol;

pub use child::run as run_worker;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretSlice};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use self::protocol::Frame;
use super::bcrypt::BcryptHasher;
use crate::domain::{MAX_PASSWORD_BYTES, Password, PasswordHash, StoreError};
use crate::ports::PasswordHasher;

/// The subcommand the worker runs as.
pub const SUBCOMMAND: &str = "hash-worker";

/// How long a new worker may take to say it is ready.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long after a failed start the next one is tried (meanwhile hashes
/// run in this process).
const RESPAWN_BACKOFF: Duration = Duration::from_secs(5);

/// How long a worker may leave a ping unanswered, while requests wait on
/// it, before it is killed. Its reader thread answers in microseconds
/// when it runs at all; seconds mean it does not run.
pub const UNRESPONSIVE_AFTER: Duration = Duration::from_secs(10);

/// bcrypt in a worker process, [`BcryptHasher`] where there is none.
pub struct WorkerHasher {
    local: BcryptHasher,
    program: PathBuf,
    unresponsive: Duration,
    worker: tokio::sync::Mutex<Slot>,
    next_id: AtomicU64,
}

/// The current worker, if any, and when starting one last failed.
#[derive(Default)]
struct Slot {
    worker: Option<Worker>,
    failed_at: Option<Instant>,
}

/// A running worker: where requests go, and what waits for replies.
struct Worker {
    pid: u32,
    requests: mpsc::UnboundedSender<SecretSlice<u8>>,
    pending: Arc<Pending>,
}

/// Requests sent and not yet answered, each with its reply's receiver and
/// its slot (held until the worker is done with it, not until the caller
/// stops waiting); closed once the worker is gone. Also what the
/// watchdog ([`watch`]) reads: how many frames the worker has sent, and a
/// wake-up when requests arrive.
struct Pending {
    table: Mutex<Option<HashMap<u64, Waiting>>>,
    frames: AtomicU64,
    arrived: tokio::sync::Notify,
}

/// A request's reply channel and slot.
type Waiting = (oneshot::Sender<Frame>, OwnedSemaphorePermit);

/// Why a worker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WorkerStartError {
    /// The program could not be run.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It ran but did not say it was ready.
    #[error("{program} {SUBCOMMAND} did not start: {reason}")]
    NoHello {
        /// The program.
        program: String,
        /// What happened instead.
        reason: String,
    },
}

impl WorkerHasher {
    /// Starts a worker running `program hash-worker` (the `posts-api`
    /// binary) and hashes there at `local`'s cost and with its slots and
    /// dummy hash. Returns `local` with the reason when the worker does not
    /// start.
    ///
    /// # Errors
    /// `local` and the [`WorkerStartError`], to hash in process instead.
    pub async fn start(
        local: BcryptHasher,
        program: &Path,
    ) -> Result<(Self, String), (BcryptHasher, WorkerStartError)> {
        Self::start_with_patience(local, program, UNRESPONSIVE_AFTER).await
    }

    /// [`WorkerHasher::start`], killing a worker that leaves a ping
    /// unanswered for `unresponsive` rather than [`UNRESPONSIVE_AFTER`].
    ///
    /// # Errors
    /// As [`WorkerHasher::start`].
    pub async fn start_with_patience(
        local: BcryptHasher,
        program: &Path,
        unresponsive: Duration,
    ) -> Result<(Self, String), (BcryptHasher, WorkerStartError)> {
        match spawn(program, unresponsive).await {
            Ok((worker, hello)) => {
                let hasher = Self {
                    local,
                    program: program.to_owned(),
                    unresponsive,
                    worker: tokio::sync::Mutex::new(Slot {
                        worker: Some(worker),
                        failed_at: None,
                    }),
                    next_id: AtomicU64::new(1),
                };
                Ok((hasher, hello))
            }
            Err(e) => Err((local, e)),
        }
    }

    /// The worker's process id, when one is running (for tests and
    /// diagnostics).
    pub async fn worker_pid(&self) -> Option<u32> {
        let slot = self.worker.lock().await;
        slot.worker.as_ref().filter(|w| w.is_alive()).map(|w| w.pid)
    }

    /// A live worker's request queue and pending table, starting a new
    /// worker when the last one died; `None` while none can be started.
    async fn worker(&self) -> Option<(mpsc::UnboundedSender<SecretSlice<u8>>, Arc<Pending>)> {
        let mut slot = self.worker.lock().await;
        if let Some(worker) = slot.worker.as_ref().filter(|w| w.is_alive()) {
            return Some((worker.requests.clone(), worker.pending.clone()));
        }
        slot.worker = None;
        if slot
            .failed_at
            .is_some_and(|at| at.elapsed() < RESPAWN_BACKOFF)
        {
            return None;
        }
        match spawn(&self.program, self.unresponsive).await {
            Ok((worker, hello)) => {
                tracing::info!(pid = worker.pid, scheduling = %hello, "password hashing worker restarted");
                let found = (worker.requests.clone(), worker.pending.clone());
                *slot = Slot {
                    worker: Some(worker),
                    failed_at: None,
                };
                Some(found)
            }
            Err(e) => {
                tracing::warn!(
                    "password hashing worker cannot be restarted, hashing in process for {}s: {e}",
                    RESPAWN_BACKOFF.as_secs()
                );
                slot.failed_at = Some(Instant::now());
                None
            }
        }
    }

    /// Sends the request `build` makes (given its id) to the worker and
    /// waits for the reply.
    async fn ask(
        &self,
        slot: OwnedSemaphorePermit,
        build: impl FnOnce(u64) -> SecretSlice<u8>,
    ) -> Asked {
        let Some((requests, pending)) = self.worker().await else {
            return Asked::NoWorker(slot);
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if !pending.insert(id, (tx, slot)) {
            return Asked::Lost;
        }
        if requests.send(build(id)).is_err() {
            // The writer stopped: the worker is gone, and so is the entry
            // (the reader dropped it) or it is still there to take back.
            drop(pending.take(id));
            return Asked::Lost;
        }
        rx.await.map_or(Asked::Lost, Asked::Reply)
    }
}

/// What came of asking the worker.
enum Asked {
    /// Its reply.
    Reply(Frame),
    /// It died before replying.
    Lost,
    /// There is none: the slot back, to hash in process.
    NoWorker(OwnedSemaphorePermit),
}

/// The error for a request the worker took with it.
fn lost() -> StoreError {
    StoreError::Unavailable("the password hashing worker exited with the request".into())
}

/// The error for a reply that makes no sense for its request.
fn garbled(what: &str, reply: &Frame) -> StoreError {
    if reply.kind() == protocol::FAILED {
        let reason = String::from_utf8_lossy(reply.payload());
        StoreError::Unavailable(format!(
            "the password hashing worker failed to {what}: {reason}"
        ))
    } else {
        StoreError::Unavailable(format!(
            "the password hashing worker answered {} to {what}",
            reply.kind()
        ))
    }
}

#[async_trait]
impl PasswordHasher for WorkerHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        let slot = self.local.slot().await;
        // Costs are 4..=31 (checked when `local` was made).
        let cost = u8::try_from(self.local.cost()).unwrap_or(u8::MAX);
        let build = |id| protocol::hash_request(id, cost, password.expose().as_bytes());
        match self.ask(slot, build).await {
            Asked::Reply(reply) if reply.kind() == protocol::HASHED => {
                let hash =
                    std::str::from_utf8(reply.payload()).map_err(|_| garbled("hash", &reply))?;
                Ok(PasswordHash::new(hash.to_owned()))
            }
            Asked::Reply(reply) => Err(garbled("hash", &reply)),
            Asked::Lost => Err(lost()),
            Asked::NoWorker(slot) => Ok(self.local.hash_here(slot, password).await),
        }
    }

    async fn verify(
        &self,
        candidate: &str,
        hash: Option<&PasswordHash>,
    ) -> Result<bool, StoreError> {
        let (acceptable, hash) = self.local.verify_target(candidate, hash);
        let slot = self.local.slot().await;
        // bcrypt reads at most 72 bytes of a candidate; a longer one never
        // matches (`acceptable`) and costs the same, so only those travel.
        let sent = &candidate.as_bytes()[..candidate.len().min(MAX_PASSWORD_BYTES)];
        // A stored hash is 60 bytes; one too long for a frame is not
        // bcrypt and matches nothing: ask about the dummy instead (same
        // time), and do not count a match.
        let fits = protocol::verify_request(0, hash.expose(), sent).is_some();
        let (acceptable, asked) = if fits {
            (acceptable, hash.clone())
        } else {
            (false, self.local.verify_target("", None).1)
        };
        let build = |id| {
            protocol::verify_request(id, asked.expose(), sent).expect("checked to fit just above")
        };
        match self.ask(slot, build).await {
            Asked::Reply(reply) => match reply.kind() {
                protocol::MATCHED => Ok(acceptable),
                protocol::NOT_MATCHED => Ok(false),
                _ => Err(garbled("verify", &reply)),
            },
            Asked::Lost => Err(lost()),
            Asked::NoWorker(slot) => {
                let matched = self.local.matches_here(slot, candidate, hash).await;
                Ok(acceptable && matched)
            }
        }
    }
}

impl Worker {
    /// Whether its pipes are still open.
    fn is_alive(&self) -> bool {
        !self.requests.is_closed() && self.pending.is_open()
    }
}

impl Pending {
    /// An open, empty table.
    fn new() -> Self {
        Self {
            table: Mutex::new(Some(HashMap::new())),
            frames: AtomicU64::new(0),
            arrived: tokio::sync::Notify::new(),
        }
    }

    /// The table, whatever a panic elsewhere left in its lock.
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<u64, Waiting>>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `id`; `false` once the worker is gone.
    fn insert(&self, id: u64, waiting: Waiting) -> bool {
        let inserted = match self.lock().as_mut() {
            Some(table) => {
                table.insert(id, waiting);
                true
            }
            None => false,
        };
        // A permit is kept when the watchdog is not waiting yet.
        self.arrived.notify_one();
        inserted
    }

    /// Takes `id`'s entry back.
    fn take(&self, id: u64) -> Option<Waiting> {
        self.lock().as_mut().and_then(|table| table.remove(&id))
    }

    /// Whether the worker is still there.
    fn is_open(&self) -> bool {
        self.lock().is_some()
    }

    /// Whether no request waits on the worker (also once it is gone).
    fn is_idle(&self) -> bool {
        self.lock().as_ref().is_none_or(HashMap::is_empty)
    }

    /// The worker is gone: every waiting request's channel is dropped (its
    /// caller gets an error) and its slot freed.
    fn close(&self) {
        let table = self.lock().take();
        drop(table);
        self.arrived.notify_one();
    }
}

/// Starts `program hash-worker`, waits for its hello, and starts the
/// threads that write its requests and read its replies (plain threads
/// over blocking pipes: two per worker, asleep but for a frame); the worker
/// and its hello.
async fn spawn(
    program: &Path,
    unresponsive: Duration,
) -> Result<(Worker, String), WorkerStartError> {
    let name = program.display().to_string();
    let no_hello = |reason: String| WorkerStartError::NoHello {
        program: name.clone(),
        reason,
    };
    let mut child = Command::new(program)
        .arg(SUBCOMMAND)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| WorkerStartError::Spawn {
            program: name.clone(),
            source,
        })?;
    let pid = child.id();
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        stop(&mut child);
        return Err(no_hello("no pipes".into()));
    };
    let child = Arc::new(Mutex::new(child));
    let pending = Arc::new(Pending::new());
    let (hello_tx, hello_rx) = oneshot::channel();
    let reader = {
        let (child, pending) = (child.clone(), pending.clone());
        std::thread::Builder::new()
            .name("hash-worker-read".into())
            .spawn(move || read_replies(&child, stdout, &pending, hello_tx))
    };
    if let Err(e) = reader {
        stop(&mut lock(&child));
        return Err(no_hello(format!("no thread to read it: {e}")));
    }
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, hello_rx).await {
        Ok(Ok(Ok(frame))) if frame.id() == 0 && frame.kind() == protocol::HELLO => {
            Ok(String::from_utf8_lossy(frame.payload()).into_owned())
        }
        Ok(Ok(Ok(_))) => Err("its first frame was not a hello".to_owned()),
        Ok(Ok(Err(why))) => Err(why),
        Ok(Err(_)) => Err("its reader stopped".to_owned()),
        Err(_) => Err(format!("no hello within {HELLO_TIMEOUT:?}")),
    }
    .map_err(|why| {
        // The reader reaps it once its stdout closes.
        let _ = lock(&child).kill();
        no_hello(why)
    })?;
    let (requests, queue) = mpsc::unbounded_channel::<SecretSlice<u8>>();
    let writer = std::thread::Builder::new()
        .name("hash-worker-write".into())
        .spawn(move || write_requests(stdin, queue));
    if let Err(e) = writer {
        let _ = lock(&child).kill();
        return Err(no_hello(format!("no thread to write to it: {e}")));
    }
    tokio::spawn(watch(
        child,
        pid,
        requests.downgrade(),
        pending.clone(),
        unresponsive,
    ));
    Ok((
        Worker {
            pid,
            requests,
            pending,
        },
        hello,
    ))
}

/// While requests wait on the worker, pings it (over `requests`, in line
/// with them: a pipe the worker stopped reading stalls the ping too) and
/// kills it when `unresponsive` passes with no frame from it since a ping.
/// Any frame counts: a hash's reply shows it alive as well as a pong.
/// Ends when the worker is gone.
async fn watch(
    child: Arc<Mutex<Child>>,
    pid: u32,
    requests: mpsc::WeakUnboundedSender<SecretSlice<u8>>,
    pending: Arc<Pending>,
    unresponsive: Duration,
) {
    let tick = (unresponsive / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    // When the last ping went, and the frame count then.
    let mut ping: Option<(Instant, u64)> = None;
    while pending.is_open() {
        if pending.is_idle() {
            ping = None;
            pending.arrived.notified().await;
            continue;
        }
        tokio::time::sleep(tick).await;
        let frames = pending.frames.load(Ordering::Relaxed);
        match ping {
            Some((_, before)) if frames != before => ping = None,
            Some((sent, _)) if sent.elapsed() >= unresponsive => {
                tracing::warn!(
                    pid,
                    "the password hashing worker answered nothing for {}s: killing it",
                    unresponsive.as_secs_f64()
                );
                // The reader holds the lock only once the worker is gone.
                if let Ok(mut child) = child.try_lock() {
                    let _ = child.kill();
                }
                return;
            }
            Some(_) => {}
            None => {
                let Some(requests) = requests.upgrade() else {
                    return;
                };
                if requests.send(protocol::ping(0)).is_err() {
                    return;
                }
                ping = Some((Instant::now(), frames));
            }
        }
    }
}

/// The child, whatever a panic elsewhere left in its lock.
fn lock(child: &Mutex<Child>) -> std::sync::MutexGuard<'_, Child> {
    child.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills and reaps a child that will not be used.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Writes whole frames, in order, from one thread (so that a caller that
/// stops waiting cannot leave half a frame in the pipe), until the pipe
/// breaks or every sender (the hasher) is gone; then the child's stdin
/// closes, which tells it to exit.
fn write_requests(mut stdin: ChildStdin, mut queue: mpsc::UnboundedReceiver<SecretSlice<u8>>) {
    while let Some(frame) = queue.blocking_recv() {
        if stdin.write_all(frame.expose_secret()).is_err() {
            break;
        }
    }
}

/// Reads the hello (handed to `hello`), then hands each reply to its
/// waiting request until the worker's stdout ends; then fails the rest and
/// reaps the child.
fn read_replies(
    child: &Mutex<Child>,
    mut stdout: ChildStdout,
    pending: &Pending,
    hello: oneshot::Sender<Result<Frame, String>>,
) {
    let first = match read_frame(&mut stdout) {
        Ok(Some(frame)) => Ok(frame),
        Ok(None) => Err("it exited".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    let started = first.is_ok();
    // Nobody waits any more when the start timed out.
    if hello.send(first).is_err() || !started {
        pending.close();
        stop(&mut lock(child));
        return;
    }
    let why = loop {
        match read_frame(&mut stdout) {
            Ok(Some(reply)) => {
                pending.frames.fetch_add(1, Ordering::Relaxed);
                // A pong (id 0) waits for nothing.
                if let Some((tx, slot)) = pending.take(reply.id()) {
                    drop(slot);
                    // The caller may have stopped waiting.
                    let _ = tx.send(reply);
                }
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    pending.close();
    let mut child = lock(child);
    let pid = child.id();
    // A worker that broke the protocol may still run.
    let _ = child.kill();
    let status = child.wait();
    match (why, &status) {
        // Its stdin closed: the hasher was dropped (the service stops).
        (None, Ok(status)) if status.success() => {
            tracing::debug!(pid, "the password hashing worker stopped");
        }
        (None, _) => tracing::warn!(pid, ?status, "the password hashing worker exited"),
        (Some(e), _) => {
            tracing::warn!(
                pid,
                ?status,
                "the password hashing worker broke its pipe: {e}"
            );
        }
    }
}

/// One frame off the worker's stdout; `None` at its end.
fn read_frame(stdout: &mut ChildStdout) -> std::io::Result<Option<Frame>> {
    let mut prefix = [0u8; 4];
    match stdout.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let broken = || std::io::Error::new(std::io::ErrorKind::InvalidData, "a malformed reply frame");
    let len = protocol::body_len(prefix).ok_or_else(broken)?;
    let mut body = vec![0u8; len];
    stdout.read_exact(&mut body)?;
    Frame::new(body).map(Some).ok_or_else(broken)
}
