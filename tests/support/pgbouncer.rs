//! PgBouncer in transaction mode in front of a PostgreSQL server, for the
//! tests that run the service behind a transaction pooler
//! (`DATABASE_POOLER=transaction`): [`shared`] is the one in front of
//! `DATABASE_URL`'s server, started once per test binary and reused by all
//! its tests; [`Pgbouncer::start`] makes one in front of any server (a
//! primary the failover tests made).
//!
//! Each runs from a directory of its own under the temporary directory
//! (its ini, userlist, log and pid file), on a free loopback port, with
//! `auth_type=trust`, `pool_mode=transaction` and 4 server connections per
//! database and user for any number of clients: the shape production
//! poolers have, small enough that clients really share connections.
//! It runs under a shell that stops it when its standard input closes,
//! that is when this process exits, however it exits (statics are never
//! dropped), or when the [`Pgbouncer`] is dropped. PgBouncer refuses to run
//! as root: as root it runs as the `postgres` user.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Server connections per database and user: a small pool, as in
/// production, so that a test's clients share them.
pub const POOL_SIZE: u32 = 4;

/// A running PgBouncer.
pub struct Pgbouncer {
    /// Its loopback port.
    pub port: u16,
    /// Its directory (ini, userlist, log).
    pub dir: PathBuf,
    /// The shell that runs it, and that shell's standard input: closing
    /// it stops PgBouncer.
    process: Mutex<Option<(Child, ChildStdin)>>,
}

/// The PgBouncer in front of `DATABASE_URL`'s server, started at the first
/// call and shared by every test of this binary; `None` (skip) without
/// `DATABASE_URL`, as [`super::db::server_url`] decides, or without
/// PgBouncer installed (unless `REQUIRE_POSTGRES=1`, when that fails).
pub fn shared() -> Option<&'static Pgbouncer> {
    static SHARED: OnceLock<Pgbouncer> = OnceLock::new();
    let url = super::db::server_url()?;
    if !installed() {
        assert!(
            std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "REQUIRE_POSTGRES=1 but pgbouncer is not installed (apt-get install pgbouncer)"
        );
        println!("skipped: pgbouncer not installed");
        return None;
    }
    Some(SHARED.get_or_init(|| Pgbouncer::start(&backend_of(&url))))
}

/// Whether [`program`] can run.
fn installed() -> bool {
    Command::new("sh")
        .args(["-c", "command -v \"$1\" >/dev/null", "sh", &program()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the behavioural suite runs through [`shared`]:
/// `TEST_POOLER=pgbouncer` (CI runs the PostgreSQL half of the suite a
/// second time so).
pub fn requested() -> bool {
    match std::env::var("TEST_POOLER").as_deref() {
        Ok("pgbouncer") => true,
        Ok("" | "none") | Err(_) => false,
        Ok(other) => panic!("TEST_POOLER={other}: expected pgbouncer or none"),
    }
}

impl Pgbouncer {
    /// Starts one in front of `backend` (`host:port`) and waits until it
    /// accepts connections.
    ///
    /// PgBouncer's own host lists are round robin, not failover: to follow
    /// a promoted standby, point it at the new primary with
    /// [`Self::set_backend`].
    ///
    /// # Panics
    /// When it cannot start within 10 seconds.
    pub fn start(backend: &str) -> Self {
        remove_leftovers();
        let dir = std::env::temp_dir().join(format!(
            "posts-pgbouncer-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for pgbouncer");
        let port = free_port();
        let bouncer = Self {
            port,
            dir,
            process: Mutex::new(None),
        };
        std::fs::write(bouncer.dir.join("userlist.txt"), "\"postgres\" \"\"\n")
            .expect("the userlist");
        bouncer.write_ini(backend);
        as_postgres_owned(&bouncer.dir);
        let ini = bouncer.dir.join("pgbouncer.ini");
        // `cat` returns when our end of its standard input closes.
        let script = "\"$1\" \"$2\" 2>/dev/null & p=$!; cat >/dev/null; kill $p; wait $p";
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "sh", "-c", script, "sh"]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", script, "sh"]);
            c
        };
        let mut child = command
            .arg(program())
            .arg(&ini)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh and pgbouncer (apt-get install pgbouncer) start");
        let stdin = child.stdin.take().expect("a piped stdin");
        *bouncer.process.lock().expect("not poisoned") = Some((child, stdin));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen on port {port}; its log: {}",
                bouncer.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    /// `url` (a `postgres://` URL of the backend) through this PgBouncer:
    /// the same user, database and query, its address.
    pub fn url(&self, url: &str) -> String {
        let start = url.find("://").map(|i| i + 3).expect("a postgres:// URL");
        let rest = &url[start..];
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let user = authority.rfind('@').map_or("", |at| &authority[..=at]);
        format!(
            "{}{user}127.0.0.1:{}{}",
            &url[..start],
            self.port,
            &rest[end..]
        )
    }

    /// Points it at `backend` (`host:port`) from now on: new server
    /// connections go there (the ini is rewritten and reloaded with
    /// SIGHUP; connections to the old backend close as they fail).
    pub fn set_backend(&self, backend: &str) {
        self.write_ini(backend);
        let pid =
            std::fs::read_to_string(self.dir.join("pgbouncer.pid")).expect("pgbouncer's pid file");
        let status = Command::new("kill")
            .args(["-HUP", pid.trim()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "pgbouncer reloads");
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// Writes the configuration for `backend`.
    fn write_ini(&self, backend: &str) {
        let (host, port) = backend.rsplit_once(':').expect("a backend as host:port");
        let dir = self.dir.display();
        // Any database through the wildcard entry, each its own pool.
        // Short idle timeouts: the tests' databases come and go, and
        // server connections to dropped ones must not pile up on the
        // shared server. tokio-postgres sends only parameters PgBouncer
        // tracks; the ignored one is what other clients (psql, JDBC) send.
        let ini = format!(
            "[databases]\n\
             * = host={host} port={port}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {dir}/userlist.txt\n\
             admin_users = postgres\n\
             pool_mode = transaction\n\
             default_pool_size = {POOL_SIZE}\n\
             max_client_conn = 2000\n\
             server_idle_timeout = 5\n\
             autodb_idle_timeout = 10\n\
             server_login_retry = 1\n\
             ignore_startup_parameters = extra_float_digits\n\
             logfile = {dir}/pgbouncer.log\n\
             pidfile = {dir}/pgbouncer.pid\n",
            self.port
        );
        let mut file =
            std::fs::File::create(self.dir.join("pgbouncer.ini")).expect("pgbouncer.ini");
        file.write_all(ini.as_bytes())
            .expect("pgbouncer.ini written");
    }
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        let process = self.process.get_mut().map(Option::take);
        if let Ok(Some((mut child, stdin))) = process {
            drop(stdin);
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The PgBouncer to run: `$PGBOUNCER`, else Debian's (in `/usr/sbin`,
/// which a non-root `PATH` may lack), else `pgbouncer` from `PATH`.
fn program() -> String {
    std::env::var("PGBOUNCER").unwrap_or_else(|_| {
        let debian = "/usr/sbin/pgbouncer";
        if std::path::Path::new(debian).exists() {
            debian.to_owned()
        } else {
            "pgbouncer".to_owned()
        }
    })
}

/// `host:port` of the server at `url`.
fn backend_of(url: &str) -> String {
    let config: tokio_postgres::Config = url.parse().expect("a valid DATABASE_URL");
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// Removes the directories of PgBouncers whose test process is gone (a
/// shared one is never dropped, so its directory outlives it).
fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("posts-pgbouncer-"))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Lets the `postgres` user (whom PgBouncer runs as under root) write its
/// log and pid file in `dir`.
fn as_postgres_owned(dir: &std::path::Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir)
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown postgres {}", dir.display());
    }
}
