//! Failover: a primary and a synchronous standby (`deploy/topology.sh`),
//! two instances of the real binary on a multi-host `DATABASE_URL` with
//! `target_session_attrs=read-write` (one naming the nodes, one their
//! PgBouncers with `DATABASE_POOLER=transaction`), and writers posting
//! without pause.
//!
//! 1. The primary crashes (`pg_ctl -m immediate`) and the standby is
//!    promoted: requests answer 503 `{"detail"}` meanwhile (none hangs),
//!    both instances find the new primary by themselves, every post
//!    answered 201 is on it, and no connection to the dead primary is
//!    handed out once an instance writes again.
//! 2. The lost node rejoins as a standby, then a switchover fences the
//!    primary read-only (its sessions stay open) and promotes the standby:
//!    each instance spends at most one 503 per pooled connection to the
//!    fenced node, then writes to the new primary.
//!
//! Tokens and revocations are shared by the instances across both.
//! The figures (writes acknowledged and lost, seconds from promotion to the
//! first write, 503s) are printed: `cargo test --test postgres_failover --
//! --nocapture`.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::topology::{Instance, Topology};
use support::writers::{Outcome, Writers};
use tokio::time::Instant;

const SECRET: &str = "failover-tests-secret-0123456789abcdef";
const PASSWORD: &str = "correct horse battery";
/// `DATABASE_TIMEOUT_SECONDS` of the instances.
const TIMEOUT_SECONDS: &str = "2";
/// `DATABASE_POOL_SIZE` of the instances.
const POOL_SIZE: usize = 4;
/// Writers per instance.
const WRITERS: usize = 2;

#[test]
fn the_service_survives_a_crashed_primary_and_a_switchover() {
    let Some(mut topology) = Topology::up() else {
        return;
    };
    support::runtime().block_on(async {
        let pool_size = POOL_SIZE.to_string();
        let env = [
            ("JWT_SECRET", SECRET),
            ("BCRYPT_COST", "4"),
            ("DATABASE_TIMEOUT_SECONDS", TIMEOUT_SECONDS),
            ("DATABASE_POOL_SIZE", pool_size.as_str()),
        ];
        // One instance on the nodes, one behind their PgBouncers (once the
        // binary has DATABASE_POOLER; until then both on the nodes).
        let one = topology.start_instance(&env);
        let two = topology.start_pooled_instance(&env).unwrap_or_else(|| {
            println!("instance two on the nodes: this binary has no DATABASE_POOLER");
            topology.start_instance(&env)
        });
        let http = support::http_client(reqwest::redirect::Policy::none());
        let (a, b) = (Api::new(&http, &one), Api::new(&http, &two));
        let author = a.user("author@example.com").await;
        let kept = b.login("author@example.com").await;
        let revoked_after_crash = a.login("author@example.com").await;
        let revoked_after_switchover = b.login("author@example.com").await;

        // 1. A crash.
        let writers = Writers::start(&http, [&one, &two], &author, WRITERS);
        writers.wait_for_acks(40).await;
        topology.run("stop-primary");
        let stopped = Instant::now();
        writers.wait_for_unavailable().await;
        let promoted = Instant::now();
        topology.run("promote");
        writers.wait_for_acks_after(promoted, 40).await;
        let outcomes = writers.finish().await;
        let crash = check(&topology, "crash", &outcomes, stopped, promoted).await;
        for (i, mine) in per_instance(&outcomes) {
            let first = first_ack_after(&mine, promoted).expect("each instance writes again");
            let later_503 = mine
                .iter()
                .filter(|o| o.started > first && o.status == StatusCode::SERVICE_UNAVAILABLE)
                .count();
            assert_eq!(
                later_503, 0,
                "instance {i}: a connection to the dead primary was handed out after it wrote to the new one"
            );
        }
        // Shared state across the failover: a token from before it works on
        // the other instance; a logout on one is honoured by the other.
        assert_eq!(a.status("/profile", &kept).await, StatusCode::OK);
        assert_eq!(b.logout(&revoked_after_crash).await, StatusCode::NO_CONTENT);
        assert_eq!(
            a.status("/profile", &revoked_after_crash).await,
            StatusCode::UNAUTHORIZED
        );

        // 2. The lost node back as a standby, then a switchover.
        topology.run("rejoin");
        let writers = Writers::start(&http, [&one, &two], &author, WRITERS);
        writers.wait_for_acks(40).await;
        let fencing = Instant::now();
        let old_primary = topology.primary();
        topology.run("switchover");
        let promoted = Instant::now();
        assert_ne!(topology.primary(), old_primary);
        writers.wait_for_acks_after(promoted, 40).await;
        let outcomes = writers.finish().await;
        let switchover = check(&topology, "switchover", &outcomes, promoted, fencing).await;
        // Until the promotion ends no node takes writes (503s are right);
        // after it, each pooled connection to the fenced node may fail one
        // write before it leaves the pool.
        for (i, mine) in per_instance(&outcomes) {
            let refused = mine
                .iter()
                .filter(|o| o.started > promoted && o.status == StatusCode::SERVICE_UNAVAILABLE)
                .count();
            assert!(
                refused <= POOL_SIZE,
                "instance {i}: {refused} writes refused after the switchover: connections to the \
                 read-only old primary were handed out again (at most one 503 per pooled connection)"
            );
        }
        assert_eq!(
            b.status("/profile", &revoked_after_crash).await,
            StatusCode::UNAUTHORIZED,
            "still revoked on the new primary"
        );
        assert_eq!(a.logout(&revoked_after_switchover).await, StatusCode::NO_CONTENT);
        assert_eq!(
            b.status("/profile", &revoked_after_switchover).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(b.status("/profile", &kept).await, StatusCode::OK);
        println!("failover figures: crash {crash}; switchover {switchover}");
    });
}

/// Checks one phase's outcomes against the new primary and returns its
/// figures: every request answered 201 or 503 `{"detail"}`, none hung, and
/// every post answered 201 is on the new primary with its title. The
/// first write is the first 201 asked after `outage` (when no write could
/// reach the old primary any more), timed from `promoted` (when the
/// promotion began).
async fn check(
    topology: &Topology,
    phase: &str,
    outcomes: &[Outcome],
    outage: Instant,
    promoted: Instant,
) -> String {
    // Each request makes a few store calls, each within the timeout: this
    // bound only catches a hang.
    let hang = Duration::from_secs(10);
    for o in outcomes {
        assert!(o.took < hang, "{phase}: a request took {:?}: {o:?}", o.took);
        match o.status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(
                o.body,
                json!({ "detail": "Service temporarily unavailable" }),
                "{phase}"
            ),
            other => panic!("{phase}: a write answered {other}: {o:?}"),
        }
    }
    let acked: HashMap<i64, &str> = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::CREATED)
        .map(|o| (o.body["id"].as_i64().expect("an id"), o.title.as_str()))
        .collect();
    let db = support::db::connect(&topology.primary_url()).await;
    let ids: Vec<i64> = acked.keys().copied().collect();
    let rows = db
        .query("SELECT id, title FROM posts WHERE id = ANY($1)", &[&ids])
        .await
        .expect("read the new primary");
    let stored: HashMap<i64, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|(id, title)| stored.get(id).map(String::as_str) != Some(**title))
        .collect();
    let first = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::CREATED && o.started > outage)
        .map(|o| o.finished)
        .min()
        .expect("a write after the failover");
    let refused = outcomes
        .iter()
        .filter(|o| o.status == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap_or_default();
    let figures = format!(
        "{} writes acknowledged, {} lost, first write {:.2} s after the promotion began, \
         {refused} answered 503, slowest answer {:.2} s",
        acked.len(),
        lost.len(),
        first.saturating_duration_since(promoted).as_secs_f64(),
        slowest.as_secs_f64(),
    );
    println!("{phase}: {figures}");
    assert!(
        lost.is_empty(),
        "{phase}: acknowledged writes lost: {lost:?}"
    );
    assert!(
        refused > 0 || phase != "crash",
        "{phase}: the writers never saw the outage"
    );
    figures
}

fn per_instance(outcomes: &[Outcome]) -> Vec<(usize, Vec<&Outcome>)> {
    (0..2)
        .map(|i| (i, outcomes.iter().filter(|o| o.instance == i).collect()))
        .collect()
}

fn first_ack_after(outcomes: &[&Outcome], after: Instant) -> Option<Instant> {
    outcomes
        .iter()
        .filter(|o| o.status == StatusCode::CREATED && o.started > after)
        .map(|o| o.finished)
        .min()
}

/// The few calls the test makes outside the writers.
struct Api<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
}

impl<'a> Api<'a> {
    fn new(http: &'a reqwest::Client, instance: &'a Instance) -> Self {
        Self {
            http,
            base: &instance.base,
        }
    }

    /// Registers `email` and logs in: a token.
    async fn user(&self, email: &str) -> String {
        let status = self
            .http
            .post(format!("{}/users", self.base))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .expect("register")
            .status();
        assert_eq!(status, StatusCode::CREATED);
        self.login(email).await
    }

    async fn login(&self, email: &str) -> String {
        let body: Value = self
            .http
            .post(format!("{}/login", self.base))
            .form(&[("username", email), ("password", PASSWORD)])
            .send()
            .await
            .expect("log in")
            .json()
            .await
            .expect("a JSON login answer");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("a token: {body}"))
            .to_owned()
    }

    async fn status(&self, path: &str, token: &str) -> StatusCode {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("an answer")
            .status()
    }

    async fn logout(&self, token: &str) -> StatusCode {
        self.http
            .post(format!("{}/logout", self.base))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await
            .expect("an answer")
            .status()
    }
}

/// A dead machine answers no SYN: a first host that swallows connection
/// attempts must not use up the whole timeout, or the service never tries
/// the next host, the primary (here the test server, after a listener
/// whose accept queue is full, which drops SYNs).
#[test]
fn a_first_host_that_drops_packets_does_not_hide_the_primary() {
    support::runtime().block_on(async {
        let Some(db) = support::db::TestDb::create().await else {
            return;
        };
        let hole = tokio::net::TcpSocket::new_v4().expect("a socket");
        hole.bind("127.0.0.1:0".parse().expect("an address"))
            .expect("bind");
        let hole = hole.listen(0).expect("listen");
        let port = hole.local_addr().expect("its address").port();
        // Fill the accept queue (never accepted), until a connection hangs.
        let mut held = Vec::new();
        loop {
            let attempt = tokio::net::TcpStream::connect(("127.0.0.1", port));
            match tokio::time::timeout(Duration::from_millis(300), attempt).await {
                Ok(Ok(stream)) => held.push(stream),
                Ok(Err(e)) => panic!("the black hole refused a connection: {e}"),
                Err(_) => break,
            }
            assert!(held.len() < 100, "the accept queue never fills");
        }
        let server = db.url.split("://").nth(1).expect("a URL");
        let (authority, rest) = server.split_once('/').expect("a database name");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let url = format!(
            "postgres://postgres@127.0.0.1:{port},{host}/{}?target_session_attrs=read-write",
            rest.split('?').next().unwrap_or(rest)
        );
        let (mut child, addr) = support::binary::start(&[
            ("STORE", "postgres"),
            ("DATABASE_URL", &url),
            ("DATABASE_TIMEOUT_SECONDS", "2"),
            ("JWT_SECRET", SECRET),
            ("BCRYPT_COST", "4"),
        ]);
        let http = support::http_client(reqwest::redirect::Policy::none());
        let answer = http
            .post(format!("http://{addr}/users"))
            .json(&json!({ "email": "hole@example.com", "password": PASSWORD }))
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status(), StatusCode::CREATED);
        let _ = child.kill();
        let _ = child.wait();
        drop(held);
        db.drop().await;
    });
}
