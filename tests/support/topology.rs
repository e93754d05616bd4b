//! A primary and a synchronous standby for the failover tests, built by
//! `deploy/topology.sh` (the one home of how the topology is made: the
//! tests drive the same script as anyone trying it locally), and the real
//! binary started against them.
//!
//! The topology needs PostgreSQL's server binaries (`pg_config --bindir`)
//! and, as root, the `postgres` OS user. When it cannot be built the tests
//! print "skipped" and pass, unless `REQUIRE_POSTGRES=1` (CI), when they
//! fail.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command};

use super::binary;

/// The database the script creates on the primary.
pub const DATABASE: &str = "posts";

/// A topology under a fresh directory of its own; torn down (processes
/// stopped, directory removed) when dropped.
pub struct Topology {
    dir: PathBuf,
    /// `deploy/topology.sh env`: ports, roles and URLs, as of the last
    /// command.
    env: HashMap<String, String>,
}

impl Topology {
    /// A primary and a synchronous standby, each with its PgBouncer
    /// (`pool_mode=transaction`), and no service instance (the tests start
    /// their own); `None` (skip) when it cannot be built and
    /// `REQUIRE_POSTGRES` is not `1`.
    ///
    /// # Panics
    /// When it cannot be built and `REQUIRE_POSTGRES=1`.
    pub fn up() -> Option<Self> {
        let dir = std::env::temp_dir().join(format!(
            "posts-api-failover-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut topology = Self {
            dir,
            env: HashMap::new(),
        };
        if let Err(e) = topology.try_run(&["--instances", "0", "up"]) {
            assert!(
                std::env::var("REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "REQUIRE_POSTGRES=1 but the failover topology cannot be built: {e}"
            );
            println!("skipped: cannot build the failover topology: {e}");
            return None;
        }
        Some(topology)
    }

    /// Runs a command of the script (`failover`, `stop-primary`,
    /// `promote`, `switchover`, `rejoin`, ...) and reloads the roles.
    ///
    /// # Panics
    /// When the command fails.
    pub fn run(&mut self, command: &str) {
        if let Err(e) = self.try_run(&[command]) {
            panic!("deploy/topology.sh {command} failed: {e}");
        }
    }

    fn try_run(&mut self, args: &[&str]) -> Result<(), String> {
        script(&self.dir, args)?;
        let env = script(&self.dir, &["env"])?;
        self.env = env
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        Ok(())
    }

    fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("deploy/topology.sh env gives no {key}"))
    }

    /// The URL naming both nodes with `target_session_attrs=read-write`.
    pub fn multi_host_url(&self) -> String {
        self.get("DIRECT_URL").to_owned()
    }

    /// A direct URL to the node that is the primary now.
    pub fn primary_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{DATABASE}",
            self.get("PRIMARY_PORT")
        )
    }

    /// The node that is the primary now (`node1` or `node2`).
    pub fn primary(&self) -> String {
        self.get("PRIMARY").to_owned()
    }

    /// Starts the real binary on the multi-host URL of the nodes with `env`
    /// on top (the caller sets `JWT_SECRET`, timeouts, pool size, ...). It
    /// migrates at start-up.
    pub fn start_instance(&self, env: &[(&str, &str)]) -> Instance {
        self.start_with(self.multi_host_url(), None, env)
    }

    /// Starts the real binary on the multi-host URL of the nodes'
    /// PgBouncers with `DATABASE_POOLER=transaction`, after migrating over
    /// the nodes' URL (a pooler cannot keep the migrations' lock); `None`
    /// when the binary has no `DATABASE_POOLER` (before the `pooler`
    /// branch), which a PgBouncer in transaction mode would break.
    pub fn start_pooled_instance(&self, env: &[(&str, &str)]) -> Option<Instance> {
        let bin = env!("CARGO_BIN_EXE_posts-api");
        let help = Command::new(bin).arg("--help").output().expect("--help");
        if !String::from_utf8_lossy(&help.stdout).contains("--database-pooler") {
            return None;
        }
        let migrated = Command::new(bin)
            .arg("migrate")
            .env_clear()
            .envs([
                ("STORE", "postgres"),
                ("DATABASE_URL", &self.multi_host_url()),
                ("RUST_LOG", "warn"),
            ])
            .status()
            .expect("posts-api migrate runs");
        assert!(migrated.success(), "posts-api migrate failed");
        let url = self.get("POOLED_URL").to_owned();
        Some(self.start_with(url, Some("transaction"), env))
    }

    fn start_with(&self, url: String, pooler: Option<&str>, env: &[(&str, &str)]) -> Instance {
        let mut all = vec![("STORE", "postgres"), ("DATABASE_URL", url.as_str())];
        all.extend(pooler.map(|p| ("DATABASE_POOLER", p)));
        all.extend_from_slice(env);
        let (child, addr) = binary::start(&all);
        Instance {
            child,
            base: format!("http://{addr}"),
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Err(e) = script(&self.dir, &["down"]) {
            eprintln!("deploy/topology.sh down failed: {e}");
        }
    }
}

/// A service process; killed when dropped.
pub struct Instance {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `deploy/topology.sh --dir DIR ARGS...`: its output, or its
/// messages when it fails.
fn script(dir: &std::path::Path, args: &[&str]) -> Result<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/topology.sh");
    let out = Command::new(path)
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {path}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{}{}",
            text,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
