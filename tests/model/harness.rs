//! Runs scripts against the application and checks them against the model:
//! the outcome of every step, then the invariants after it.
//!
//! Also the plumbing the property tests share: the test configuration,
//! the store parameter (memory, or a fresh Postgres database per test run
//! from `tests/support/db.rs`), the service and its ports built side by
//! side, `PROPTEST_CASES`, and a proptest runner that
//! persists regressions under `proptest-regressions/` and prints the
//! shrunk script with its trace.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

use posts_api::adapters::clock::ManualClock;
use posts_api::app;
use posts_api::config::{Config, StoreKind};
use posts_api::domain::policy::Visibility;
use posts_api::domain::{
    EmailAddress, Page, Password, PostFilter, PostId, PostView, SessionId, User, UserId, UserPage,
};
use posts_api::ports::{Clock, Ports};
use posts_api::service::Service;
use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config as ProptestConfig, FileFailurePersistence, TestCaseError, TestError, TestRunner,
};
use time::Duration;

use super::ops::{Op, SLOTS, Script, Who, slot_name};
use super::outcome::{Action, Outcome, PostOut, UserOut};
use super::reference::{ADMIN_EMAIL, ADMIN_PASSWORD, GHOST_POST, Model};
use super::support::db::TestDb;

/// The signing key of every app the property tests start.
pub const SECRET: &str = "prop-test-secret-0123456789abcdef";
/// Token lifetime the tests configure (the default).
pub const LIFETIME_MINUTES: u32 = 30;

/// The number of cases: `PROPTEST_CASES` if set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `PROPTEST_CASES` divided by `divisor` (at least 1), else `default`:
/// the smaller runs (HTTP, Postgres) scale with the main one.
pub fn scaled_cases(default: u32, divisor: u32) -> u32 {
    match std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
    {
        Some(n) => (n / divisor).max(1),
        None => default,
    }
}

pub use super::support::{runtime, whole_second_clock};

/// Which store a run uses.
#[derive(Debug, Clone)]
pub enum Store {
    /// A fresh memory store per case.
    Memory,
    /// One fresh database per test run, emptied before each case.
    Postgres(TestDb),
}

impl Store {
    /// `memory` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Postgres(_) => "postgres",
        }
    }
}

/// Runs `test` on `kind`: at once for memory; for Postgres in a fresh
/// `posts_prop_<uuid>` database (dropped afterwards, also when the test
/// fails), or not at all when `DATABASE_URL` is unset (see
/// `tests/support/db.rs`).
pub fn with_store(kind: StoreKind, test: impl FnOnce(&tokio::runtime::Runtime, &Store)) {
    let rt = runtime();
    let store = match kind {
        StoreKind::Memory => Store::Memory,
        StoreKind::Postgres => match rt.block_on(TestDb::create_with_prefix("posts_prop")) {
            Some(db) => Store::Postgres(db),
            None => return,
        },
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(&rt, &store)));
    if let Store::Postgres(db) = &store {
        rt.block_on(db.drop());
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// The configuration the property tests run with: bcrypt cost 4, a known
/// secret, the start-up admin, throttling off (the model does not count
/// failed logins), port 0.
pub fn config(store: &Store) -> Config {
    let (kind, database_url) = match store {
        Store::Memory => (StoreKind::Memory, None),
        Store::Postgres(db) => (StoreKind::Postgres, Some(db.url.clone())),
    };
    Config {
        access_token_expire_minutes: LIFETIME_MINUTES,
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        refresh_token_expire_days: 1,
        login_max_failures: 0,
        login_max_failures_per_addr: 0,
        ..super::support::config(kind, database_url, SECRET)
    }
}

/// Builds the ports and the service over them for one case, and runs
/// [`reset`]. The ports come back beside the service: the invariants read
/// the store through them, and a test may wrap one before building a
/// service of its own.
pub async fn build(store: &Store, config: &Config, clock: &ManualClock) -> (Service, Ports) {
    let (service, ports) = build_parts(config, clock).await;
    reset(store, &service).await;
    (service, ports)
}

/// [`build`] over the store as it is (another instance on the same
/// database): the ports, the service and the start-up admin, as
/// `app::build_service` builds them.
pub async fn build_over(config: &Config, clock: &ManualClock) -> (Service, Ports) {
    let (service, ports) = build_parts(config, clock).await;
    ensure_admin(&service).await;
    (service, ports)
}

/// The ports from `app::build_ports` and a service over a clone of them.
async fn build_parts(config: &Config, clock: &ManualClock) -> (Service, Ports) {
    let ports = app::build_ports(config, Arc::new(clock.clone()))
        .await
        .unwrap_or_else(|e| panic!("the ports did not build on {:?}: {e}", config.store));
    (Service::new(ports.clone()), ports)
}

/// Empties the database of an earlier case on Postgres (every user, with
/// posts, votes and revocations by cascade; ids go on growing; SQL, not
/// the store, which keeps its last admin), then makes the start-up admin;
/// on memory (a fresh store per case) only the admin.
pub async fn reset(store: &Store, service: &Service) {
    if let Store::Postgres(db) = store {
        db.client()
            .await
            .batch_execute("TRUNCATE users CASCADE")
            .await
            .expect("emptying the database");
    }
    ensure_admin(service).await;
}

/// The start-up admin of [`config`], as the app makes it at start-up.
async fn ensure_admin(service: &Service) {
    let email = EmailAddress::parse(ADMIN_EMAIL).expect("admin email");
    let password = Password::parse(ADMIN_PASSWORD).expect("admin password");
    service
        .ensure_admin(email, password)
        .await
        .expect("making the start-up admin");
}

/// A user as the outcome shows it.
pub fn user_out(u: &User) -> UserOut {
    UserOut {
        id: u.id.get(),
        email: u.email.as_str().to_owned(),
        role: u.role.as_str().to_owned(),
    }
}

/// A post as the outcome shows it.
pub fn post_out(p: &PostView) -> PostOut {
    PostOut {
        id: p.id.get(),
        title: p.title.as_str().to_owned(),
        content: p.content.as_str().to_owned(),
        published: p.published,
        created_at: p.created_at.unix_timestamp_nanos(),
        owner: user_out(&p.owner),
        votes: p.votes,
    }
}

/// A way to apply actions to the application.
#[allow(async_fn_in_trait)]
pub trait Driver {
    /// The ports under the service: the invariants read the store
    /// through them, the ground truth whatever the driver.
    fn ports(&self) -> &Ports;
    /// The injected clock.
    fn clock(&self) -> &ManualClock;
    /// Applies one action.
    async fn exec(&mut self, action: &Action) -> Outcome;
    /// Whether every token is re-checked after every step (cheap through
    /// the ports), or only each slot's latest (HTTP).
    fn check_every_token(&self) -> bool {
        true
    }
}

/// Outcome counts per operation kind, collected when `PROP_STATS=1` and
/// printed after the run: to see what the generators exercise.
static STATS: std::sync::Mutex<std::collections::BTreeMap<String, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn record_stat(op: &Op, outcome: &Outcome) {
    if std::env::var("PROP_STATS").as_deref() != Ok("1") {
        return;
    }
    let op_kind = op.kind();
    let outcome = format!("{outcome:?}");
    let outcome_kind: String = outcome
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    let key = format!("{op_kind:>10} -> {outcome_kind}");
    *STATS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(key)
        .or_default() += 1;
}

fn print_stats(name: &str) {
    let stats = STATS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !stats.is_empty() {
        println!("{name}: outcomes per operation:");
        for (key, n) in stats.iter() {
            println!("  {key}: {n}");
        }
    }
}

/// A script being run: the model and what happened so far.
struct Run {
    model: Model,
    trace: Vec<String>,
    /// Tokens seen rejected after a step where the model had them
    /// rejected: a token never comes back (expiry, revocation and deletion
    /// are final), so these are checked again only after the last step.
    rejected: BTreeSet<String>,
    /// Per slot, the last list checked: the token and the answer. While
    /// the store matches the model (checked first) and the answer the
    /// model expects for that token stays the same, the list is not asked
    /// again until after the last step.
    listed: Vec<Option<(String, Outcome)>>,
}

impl Run {
    fn fail(&self, what: &str) -> String {
        format!(
            "{what}\n\nwhat ran (setup, then the script):\n{}",
            self.trace.join("\n")
        )
    }

    /// Applies one operation and checks its outcome.
    async fn step<D: Driver>(&mut self, d: &mut D, op: &Op, label: &str) -> Result<(), String> {
        if let Op::Advance(secs) = *op {
            d.clock().advance(Duration::seconds(secs));
            self.model.advance(secs);
            self.trace.push(format!("{label}. clock +{secs}s"));
            return Ok(());
        }
        let resolved = self.model.resolve(op).expect("not an Advance");
        let slot = match *op {
            Op::Register { slot, .. } | Op::Login { slot, .. } => Some(slot),
            Op::Refresh(who) | Op::RefreshRace(who) => Some(who.slot),
            _ => None,
        };
        let mut expected = self.model.predict(&resolved.action);
        let actual = d.exec(&resolved.action).await;
        self.trace
            .push(format!("{label}. {} -> {actual}", resolved.text));
        if expected.created_id() == Some(0)
            && let Some(id) = actual.created_id()
        {
            let last = self.model.last_id(&expected);
            if id <= last {
                return Err(self.fail(&format!(
                    "step {label}: {}\n  new id {id} is not above every earlier id ({last}): ids are never reused",
                    resolved.text
                )));
            }
            expected = expected.with_created_id(id);
        }
        if label != "setup" {
            record_stat(op, &actual);
        }
        self.check_ownership(&resolved.action, &actual, label)?;
        if expected != actual {
            return Err(self.fail(&format!(
                "step {label}: {}\n  expected: {expected:?}\n  actual:   {actual:?}",
                resolved.text
            )));
        }
        self.model.commit(&resolved.action, &actual, slot);
        Ok(())
    }

    /// Nobody changes another's post without being admin.
    fn check_ownership(
        &self,
        action: &Action,
        actual: &Outcome,
        label: &str,
    ) -> Result<(), String> {
        let (token, id) = match (action, actual) {
            (Action::UpdatePost { token, id, .. }, Outcome::Post(_))
            | (Action::DeletePost { token, id, .. }, Outcome::Done) => (token, *id),
            _ => return Ok(()),
        };
        let Some(post) = self.model.posts.iter().find(|p| p.id == id && p.alive) else {
            return Ok(()); // the step check reports the rest
        };
        match self.model.caller(token) {
            Some(actor) if actor.id == post.owner || actor.admin => Ok(()),
            Some(actor) => Err(self.fail(&format!(
                "INVARIANT at step {label}: user #{} ({}) changed post #{id} of user #{} without being admin",
                actor.id,
                if actor.admin { "admin" } else { "user" },
                post.owner
            ))),
            None => Err(self.fail(&format!(
                "INVARIANT at step {label}: post #{id} was changed with a token that must not authenticate"
            ))),
        }
    }

    /// After every step: the store holds what the model holds; every token
    /// authenticates exactly when and as whom the model says, through both
    /// authentication paths (after the last step, all of them; before,
    /// those not yet seen rejected for good, or only each slot's latest if
    /// the driver says so); no token with another user's `sub` and an
    /// active session's `sid` authenticates; each slot's `GET /sessions`
    /// is the model's; each slot lists exactly what it may see, with the
    /// right vote counts.
    async fn invariants<D: Driver>(
        &mut self,
        d: &mut D,
        label: &str,
        last: bool,
    ) -> Result<(), String> {
        self.store_matches(d, label).await?;
        if d.check_every_token() || last {
            self.forged_tokens_fail(d, label).await?;
        }
        for slot in 0..SLOTS {
            let tokens = &self.model.tokens[usize::from(slot)];
            let first = if d.check_every_token() || last {
                0
            } else {
                tokens.len().saturating_sub(1)
            };
            for (i, t) in tokens.iter().enumerate().skip(first) {
                if !last && self.rejected.contains(&t.token) {
                    continue;
                }
                let mut rejected = true;
                for action in self.probes(&t.token) {
                    let expected = self.model.predict(&action);
                    let actual = d.exec(&action).await;
                    if expected != actual {
                        let state = self.model.token_problem(t).unwrap_or("valid");
                        return Err(self.fail(&format!(
                            "INVARIANT after step {label}: {}'s token {}/{} (user #{}, session #{}, {state}) on {}\n  expected: {expected:?}\n  actual:   {actual:?}",
                            slot_name(slot),
                            i + 1,
                            tokens.len(),
                            t.user,
                            t.session,
                            probe_name(&action)
                        )));
                    }
                    rejected &= actual == Outcome::BadToken;
                }
                if rejected {
                    self.rejected.insert(t.token.clone());
                }
            }
            let Some(latest) = tokens.last() else {
                continue;
            };
            let Some(viewer) = self.model.caller(&latest.token) else {
                continue;
            };
            let action = Action::Sessions {
                token: latest.token.clone(),
            };
            let expected = self.model.predict(&action);
            let actual = d.exec(&action).await;
            if expected != actual {
                return Err(self.fail(&format!(
                    "INVARIANT after step {label}: GET /sessions of {} (user #{}, session #{})\n  expected: {expected:?}\n  actual:   {actual:?}",
                    slot_name(slot),
                    viewer.id,
                    latest.session
                )));
            }
            let action = Action::ListPosts {
                token: latest.token.clone(),
                search: None,
                before: None,
                limit: 100,
                skip: 0,
            };
            let expected = self.model.predict(&action);
            let checked = &mut self.listed[usize::from(slot)];
            if !last
                && checked
                    .as_ref()
                    .is_some_and(|(token, answer)| *token == latest.token && *answer == expected)
            {
                continue;
            }
            *checked = Some((latest.token.clone(), expected.clone()));
            let actual = d.exec(&action).await;
            if expected != actual {
                return Err(self.fail(&format!(
                    "INVARIANT after step {label}: what {} (user #{}, {}) lists\n  expected: {expected}\n  actual:   {actual}",
                    slot_name(slot),
                    viewer.id,
                    if viewer.admin { "admin" } else { "user" }
                )));
            }
        }
        Ok(())
    }

    /// The requests that check a token through every authentication path
    /// of the HTTP layer: the general one (`Service::authenticate`, here
    /// `GET /profile`) and the one-round-trip read (`GET /posts/{id}`,
    /// `Service::get_post_for_token`) of the first post (or a missing one).
    fn probes(&self, token: &str) -> [Action; 2] {
        let id = self.model.posts.first().map_or(GHOST_POST, |p| p.id);
        let token = token.to_owned();
        [
            Action::Profile {
                token: token.clone(),
            },
            Action::GetPost { token, id },
        ]
    }

    /// Tokens that name an active session with another user's `sub`
    /// (signed with the right key): they must not authenticate, by either
    /// path (API.md: "a token ... with the `sid` of another user's session
    /// does not verify").
    async fn forged_tokens_fail<D: Driver>(&self, d: &mut D, label: &str) -> Result<(), String> {
        let live: Vec<i64> = self
            .model
            .users
            .iter()
            .filter(|u| u.alive)
            .map(|u| u.id)
            .collect();
        for s in &self.model.sessions {
            if !self.model.session_active(s.id) {
                continue;
            }
            let Some(&other) = live.iter().find(|&&u| u != s.user) else {
                continue;
            };
            let (Some(user), Some(session)) = (UserId::new(other), SessionId::new(s.id)) else {
                continue;
            };
            let forged = d.ports().token_issuer.issue(user, session).token;
            for action in self.probes(&forged) {
                let actual = d.exec(&action).await;
                if actual != Outcome::BadToken {
                    return Err(self.fail(&format!(
                        "INVARIANT after step {label}: a token with user #{other}'s sub and the sid of user #{}'s active session #{} on {}\n  expected: BadToken\n  actual:   {actual:?}",
                        s.user,
                        s.id,
                        probe_name(&action)
                    )));
                }
            }
        }
        Ok(())
    }

    /// The store, read through the ports, equals the model: every live
    /// user and post (posts with the owner as stored now and the vote count
    /// the model's voters give), read as two whole lists, so that it is
    /// cheap enough to run after every step.
    async fn store_matches<D: Driver>(&self, d: &D, label: &str) -> Result<(), String> {
        let ports = d.ports();
        let all = Page::new(100, 0).expect("a valid page");
        let got: Vec<UserOut> = match ports
            .users
            .list(UserPage {
                after: None,
                page: all,
            })
            .await
        {
            Ok(users) => users.iter().map(user_out).collect(),
            Err(e) => return Err(self.fail(&format!("store failed listing users: {e}"))),
        };
        let want: Vec<UserOut> = self
            .model
            .users
            .iter()
            .filter(|u| u.alive)
            .map(Model::user_out)
            .collect();
        if got != want {
            return Err(self.fail(&format!(
                "INVARIANT after step {label}: the users in the store\n{}",
                list_diff(&want, &got, |u| format!(
                    "#{} {} ({})",
                    u.id, u.email, u.role
                ))
            )));
        }
        let filter = PostFilter {
            visibility: Visibility::Everything,
            search: None,
            before: None,
            page: all,
        };
        let got: Vec<PostOut> = match ports.posts.list(&filter).await {
            Ok(posts) => posts.iter().map(post_out).collect(),
            Err(e) => return Err(self.fail(&format!("store failed listing posts: {e}"))),
        };
        let mut want: Vec<PostOut> = self
            .model
            .posts
            .iter()
            .filter(|p| p.alive)
            .map(|p| self.model.post_out(p))
            .collect();
        want.sort_by_key(|p| std::cmp::Reverse(p.id));
        if got != want {
            let voters: Vec<String> = self
                .model
                .posts
                .iter()
                .filter(|p| p.alive)
                .map(|p| format!("#{} {:?}", p.id, p.voters))
                .collect();
            return Err(self.fail(&format!(
                "INVARIANT after step {label}: the posts in the store (the model's voters: {})\n{}",
                voters.join(", "),
                list_diff(&want, &got, |p| Outcome::Post(p.clone()).to_string())
            )));
        }
        Ok(())
    }

    /// Every user and post the model ever saw, read one by one: the live
    /// ones as the model has them, the deleted ones gone.
    async fn store_matches_by_id<D: Driver>(&self, d: &D, label: &str) -> Result<(), String> {
        let ports = d.ports();
        for u in &self.model.users {
            let id = UserId::new(u.id).expect("a positive id");
            let got = match ports.users.get(id).await {
                Ok(user) => user.as_ref().map(user_out),
                Err(e) => return Err(self.fail(&format!("store failed reading user: {e}"))),
            };
            let want = u.alive.then(|| Model::user_out(u));
            if got != want {
                return Err(self.fail(&format!(
                    "INVARIANT after step {label}: user #{} in the store\n  expected: {want:?}\n  actual:   {got:?}",
                    u.id
                )));
            }
        }
        for p in &self.model.posts {
            let id = PostId::new(p.id).expect("a positive id");
            let got = match ports.posts.get(id).await {
                Ok(post) => post.as_ref().map(post_out),
                Err(e) => return Err(self.fail(&format!("store failed reading post: {e}"))),
            };
            let want = p.alive.then(|| self.model.post_out(p));
            if got != want {
                return Err(self.fail(&format!(
                    "INVARIANT after step {label}: post #{} in the store (votes counted from the model's voters {:?})\n  expected: {want:?}\n  actual:   {got:?}",
                    p.id, p.voters
                )));
            }
        }
        Ok(())
    }
}

/// How a failure names a probe.
fn probe_name(action: &Action) -> String {
    match action {
        Action::GetPost { id, .. } => format!("GET /posts/{id} (the one-round-trip read)"),
        _ => "GET /profile (Service::authenticate)".to_owned(),
    }
}

/// Two lists, one line each, then the first entry where they differ in full.
fn list_diff<T: PartialEq + Debug>(want: &[T], got: &[T], short: impl Fn(&T) -> String) -> String {
    let line = |items: &[T]| items.iter().map(&short).collect::<Vec<_>>().join("; ");
    let mut text = format!("  expected: [{}]\n  actual:   [{}]", line(want), line(got));
    let first = (0..want.len().max(got.len())).find(|&i| want.get(i) != got.get(i));
    if let Some(i) = first {
        text.push_str(&format!(
            "\n  first difference, entry {}:\n    expected: {:?}\n    actual:   {:?}",
            i + 1,
            want.get(i),
            got.get(i)
        ));
    }
    text
}

/// The fixed setup every script starts from: the start-up admin logs in;
/// u1, u2 and u3 register and log in; then `p0` (u1's, published), `p1`
/// (u2's draft) and `p2` (u3's, published) are created. Checked like any
/// step.
const SETUP: &[Op] = &[
    Op::Login {
        slot: 0,
        wrong: false,
        shout: false,
    },
    Op::Register {
        slot: 1,
        shout: false,
    },
    Op::Login {
        slot: 1,
        wrong: false,
        shout: false,
    },
    Op::Register {
        slot: 2,
        shout: false,
    },
    Op::Login {
        slot: 2,
        wrong: false,
        shout: false,
    },
    Op::Register {
        slot: 3,
        shout: false,
    },
    Op::Login {
        slot: 3,
        wrong: false,
        shout: false,
    },
    Op::Create {
        who: Who::latest(1),
        title: 0,
        published: Some(true),
    },
    Op::Create {
        who: Who::latest(2),
        title: 2,
        published: Some(false),
    },
    Op::Create {
        who: Who::latest(3),
        title: 4,
        published: Some(true),
    },
];

/// Runs the setup and `script` through `d`, checking every step against
/// the model and the invariants after each; `Err` carries the failure and
/// the trace of what ran.
pub async fn run_script<D: Driver>(d: &mut D, script: &Script) -> Result<(), String> {
    let ports = d.ports();
    let email = EmailAddress::parse(ADMIN_EMAIL).expect("admin email");
    let admin = match ports.users.get_credentials(&email).await {
        Ok(Some((user, _))) => user_out(&user),
        other => return Err(format!("the start-up admin is missing: {other:?}")),
    };
    if admin.role != "admin" {
        return Err(format!("the start-up admin is not an admin: {admin:?}"));
    }
    let now = d.clock().now().unix_timestamp_nanos();
    let lifetime = i64::from(LIFETIME_MINUTES) * 60;
    let mut run = Run {
        model: Model::new(now, lifetime, &admin),
        trace: vec![format!(
            "setup: start-up admin #{} {}",
            admin.id, admin.email
        )],
        rejected: BTreeSet::new(),
        listed: vec![None; usize::from(SLOTS)],
    };
    for op in SETUP {
        run.step(d, op, "setup").await?;
    }
    run.invariants(d, "setup", script.0.is_empty()).await?;
    for (i, op) in script.0.iter().enumerate() {
        let label = format!("{:>2}", i + 1);
        run.step(d, op, &label).await?;
        run.invariants(d, label.trim(), i + 1 == script.0.len())
            .await?;
    }
    run.store_matches_by_id(d, "the last step").await
}

/// Runs a property with `cases` cases, persisting failures in
/// `regressions` (a path under `proptest-regressions/`, replayed first on
/// every run); `Err` holds proptest's shrunk input and its failure.
pub fn run_property<S>(
    name: &str,
    strategy: S,
    cases: u32,
    regressions: &'static str,
    test: impl Fn(S::Value) -> Result<(), String>,
) -> Result<(), (S::Value, String)>
where
    S: Strategy,
    S::Value: Debug,
{
    let config = ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let started = std::time::Instant::now();
    match runner.run(&strategy, |value| test(value).map_err(TestCaseError::fail)) {
        Ok(()) => {
            println!(
                "{name}: {cases} cases passed in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Err(TestError::Fail(reason, value)) => Err((value, reason.message().to_owned())),
        Err(TestError::Abort(reason)) => panic!("{name}: aborted: {reason}"),
    }
}

/// [`run_property`], panicking with the shrunk input and its failure.
pub fn check_property<S>(
    name: &str,
    strategy: S,
    cases: u32,
    regressions: &'static str,
    test: impl Fn(S::Value) -> Result<(), String>,
) where
    S: Strategy,
    S::Value: Debug,
{
    if let Err((value, reason)) = run_property(name, strategy, cases, regressions, test) {
        panic!("{name}: property failed.\n\nminimal failing input:\n{value:#?}\n\n{reason}\n");
    }
}

/// [`check_property`] for scripts: proptest's shrinking deletes steps in
/// one pass before it simplifies them, so after it the failing script is
/// cut further, greedily, until no single step can go.
pub fn check_script_property(
    name: &str,
    max_len: usize,
    cases: u32,
    regressions: &'static str,
    test: impl Fn(&Script) -> Result<(), String>,
) {
    let strategy = super::ops::script(max_len);
    let result = run_property(name, strategy, cases, regressions, |s| test(&s));
    print_stats(name);
    let Err((shrunk, reason)) = result else {
        return;
    };
    let (script, reason) = minimize(shrunk, reason, &test);
    let steps = match script.0.len() {
        1 => "1 step".to_owned(),
        n => format!("{n} steps"),
    };
    panic!(
        "{name}: property failed.\n\nminimal failing script ({steps} after the setup):\n{script:#?}\n\n{reason}\n"
    );
}

/// Deletes steps while the script still fails, until none can go.
pub fn minimize(
    mut script: Script,
    mut reason: String,
    test: &impl Fn(&Script) -> Result<(), String>,
) -> (Script, String) {
    loop {
        let mut progress = false;
        let mut i = script.0.len();
        while i > 0 {
            i -= 1;
            let mut candidate = script.clone();
            candidate.0.remove(i);
            if let Err(why) = test(&candidate) {
                script = candidate;
                reason = why;
                progress = true;
            }
        }
        if !progress {
            return (script, reason);
        }
    }
}
