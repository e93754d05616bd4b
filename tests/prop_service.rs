//! Model-based property test of the access rules through the service and
//! its ports: random scripts by several users and admins (see
//! `model::ops`) run against `Service` on the memory store, and on a fresh
//! Postgres database when `DATABASE_URL` is set; every step's outcome and
//! the invariants after it are checked against `model::reference`.
//!
//! `PROPTEST_CASES` sets the number of scripts (default 320 on memory; the
//! Postgres run takes half). A failure prints the shrunk script (cut down
//! to the steps that matter) and the trace of what it did; its seed is
//! kept in `proptest-regressions/prop_service-<store>.txt` and replayed
//! first next time. The `regression_*` tests replay, as plain scripts, the
//! shrunk failures of the bugs the suite was validated against (planted
//! one at a time: a non-owner updating, a demoted admin keeping the rights,
//! a draft in another's list, a revoked token, 60 s of expiry leeway, a
//! deleted user's vote still counted; and for sessions: a spent refresh
//! token accepted, reuse not ending the session, logout everywhere keeping
//! the newest session, a password change ending the current session, a
//! session accepted with another user's `sub`, the one-round-trip read
//! ignoring an ended session).

mod model;

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use model::harness::{
    self, Driver, Store, build, check_script_property, post_out, run_script, user_out, with_store,
};
use model::ops::{Op, Script, Who};
use model::outcome::{Action, AnyToken, Outcome};
use model::reference::{ADMIN_EMAIL, ADMIN_PASSWORD};
use model::sessions::USER_AGENT;
use posts_api::adapters::clock::ManualClock;
use posts_api::config::StoreKind;
use posts_api::domain::{
    AuthError, EmailAddress, LoginError, NewPost, Page, Password, PasswordChangeError, PostContent,
    PostError, PostFilter, PostId, PostTitle, PostUpdate, PostView, ReadPostError, RefreshError,
    RefreshToken, RegisterError, Role, Search, SessionError, SessionId, StoreError, User,
    UserError, UserId, UserPage, VoteError,
};
use posts_api::ports::{AddVote, Ports, PostChange, PostStore, VoteStore, Voted};
use posts_api::service::{Caller, LoginOutcome, Service};
use time::OffsetDateTime;

/// Longest script (after the fixed setup).
const MAX_STEPS: usize = 40;

/// Drives the service directly, as the HTTP layer would.
struct ServiceDriver {
    service: Service,
    ports: Ports,
    clock: ManualClock,
}

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn post_error(e: PostError) -> Outcome {
    match e {
        PostError::NotFound(id) => Outcome::PostNotFound(id.get()),
        PostError::Forbidden => Outcome::Forbidden,
        PostError::Store(e) => Outcome::Unexpected(format!("store error: {e}")),
    }
}

fn user_error(e: UserError) -> Outcome {
    match e {
        UserError::NotFound(id) => Outcome::UserNotFound(id.get()),
        UserError::Forbidden => Outcome::Forbidden,
        UserError::LastAdmin => Outcome::LastAdmin,
        UserError::Store(e) => Outcome::Unexpected(format!("store error: {e}")),
    }
}

fn vote_error(e: VoteError) -> Outcome {
    match e {
        VoteError::PostNotFound(id) => Outcome::PostNotFound(id.get()),
        VoteError::AlreadyVoted { user, post } => Outcome::AlreadyVoted {
            user: user.get(),
            post: post.get(),
        },
        VoteError::VoteNotFound => Outcome::VoteNotFound,
        VoteError::Store(e) => Outcome::Unexpected(format!("store error: {e}")),
    }
}

/// Validates like the HTTP layer: a bad field is a 422 naming it.
macro_rules! parse_or_422 {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(err) => return Outcome::Invalid(err.field.to_owned()),
        }
    };
}

/// A login's or refresh's tokens; with `check`, the access token must
/// authenticate as the user its claims name (not after a race, whose
/// loser ends the session).
async fn logged_in(s: &Service, t: LoginOutcome, check: bool) -> Outcome {
    if check {
        let Ok(caller) = s.authenticate(&t.access.token).await else {
            return Outcome::Unexpected("a fresh token does not authenticate".into());
        };
        if caller.user.id != t.access.claims.user_id {
            return Outcome::Unexpected("a fresh token names another user".into());
        }
    }
    Outcome::LoggedIn {
        expires_in: t.access.expires_in,
        token: AnyToken(t.access.token),
        refresh: AnyToken(t.refresh.expose().to_owned()),
        refresh_expires_in: t.refresh_expires_in,
        session: t.access.claims.session_id.get(),
    }
}

async fn refreshed(
    s: &Service,
    result: Result<LoginOutcome, RefreshError>,
    check: bool,
) -> Outcome {
    match result {
        Ok(t) => logged_in(s, t, check).await,
        Err(RefreshError::Invalid) => Outcome::BadRefresh,
        Err(e) => Outcome::Unexpected(format!("refresh: {e}")),
    }
}

fn store_error(what: &str, e: StoreError) -> Outcome {
    Outcome::Unexpected(format!("{what}: {e}"))
}

fn post_id(id: i64) -> PostId {
    PostId::new(id).expect("the model only names positive ids")
}

fn user_id(id: i64) -> UserId {
    UserId::new(id).expect("the model only names positive ids")
}

impl ServiceDriver {
    /// An action by an authenticated caller.
    async fn as_caller(&self, caller: &Caller, action: &Action) -> Outcome {
        let s = &self.service;
        match action {
            Action::Register { .. }
            | Action::Login { .. }
            | Action::Refresh { .. }
            | Action::RefreshRace { .. }
            | Action::GetPost { .. } => {
                unreachable!("handled in exec")
            }
            Action::LogoutAll { .. } => match s.logout_all(caller).await {
                Ok(()) => Outcome::Done,
                Err(e) => store_error("logout all", e),
            },
            Action::EndSession { id, .. } => {
                let id = SessionId::new(*id).expect("the model only names positive ids");
                match s.end_session(caller, id).await {
                    Ok(()) => Outcome::Done,
                    Err(SessionError::NotFound(id)) => Outcome::SessionNotFound(id.get()),
                    Err(e) => Outcome::Unexpected(format!("end session: {e}")),
                }
            }
            Action::EndUserSessions { id, .. } => {
                match s.end_user_sessions(caller, user_id(*id)).await {
                    Ok(()) => Outcome::Done,
                    Err(e) => user_error(e),
                }
            }
            Action::ChangePassword { current, new, .. } => {
                let new = parse_or_422!(Password::parse(new));
                match s.change_password(&caller.token, current, new, CLIENT).await {
                    Ok(()) => Outcome::Done,
                    Err(PasswordChangeError::Incorrect) => Outcome::WrongPassword,
                    Err(e) => Outcome::Unexpected(format!("change password: {e}")),
                }
            }
            Action::Sessions { .. } => match s.sessions(caller).await {
                Ok(list) => {
                    let current = caller.token.session_id;
                    Outcome::Sessions(
                        list.into_iter()
                            .map(|x| model::outcome::SessionOut {
                                id: x.id.get(),
                                created_at: x.created_at.unix_timestamp_nanos(),
                                last_used_at: x.last_used_at.unix_timestamp_nanos(),
                                expires_at: x.expires_at.unix_timestamp_nanos(),
                                user_agent: x.user_agent,
                                current: x.id == current,
                            })
                            .collect(),
                    )
                }
                Err(e) => store_error("sessions", e),
            },
            Action::Logout { .. } => match s.logout(caller).await {
                Ok(()) => Outcome::Done,
                Err(e) => Outcome::Unexpected(format!("logout: {e}")),
            },
            Action::Profile { .. } => Outcome::User(user_out(&caller.user)),
            Action::CreatePost {
                title,
                content,
                published,
                ..
            } => {
                let title = parse_or_422!(PostTitle::parse(title));
                let content = parse_or_422!(PostContent::parse(content));
                let published = published.unwrap_or(true);
                match s.create_post(caller, title, content, published).await {
                    Ok(p) => Outcome::Post(post_out(&p)),
                    Err(e) => post_error(e),
                }
            }
            Action::ListPosts {
                search,
                before,
                limit,
                skip,
                ..
            } => {
                let page = parse_or_422!(Page::new(*limit, *skip));
                let search = parse_or_422!(Search::parse(search.as_deref().unwrap_or("")));
                let before = before.map(post_id);
                match s.list_posts(caller, search, before, page).await {
                    Ok(posts) => Outcome::Posts(posts.iter().map(post_out).collect()),
                    Err(e) => post_error(e),
                }
            }
            Action::UpdatePost {
                id,
                title,
                content,
                published,
                ..
            } => {
                let update = PostUpdate {
                    title: parse_or_422!(PostTitle::parse(title)),
                    content: parse_or_422!(PostContent::parse(content)),
                    published: published.unwrap_or(true),
                };
                match s.update_post(caller, post_id(*id), update).await {
                    Ok(p) => Outcome::Post(post_out(&p)),
                    Err(e) => post_error(e),
                }
            }
            Action::DeletePost { id, .. } => match s.delete_post(caller, post_id(*id)).await {
                Ok(()) => Outcome::Done,
                Err(e) => post_error(e),
            },
            Action::Vote { id, up, .. } => match s.vote(caller, post_id(*id), *up).await {
                Ok(()) if *up => Outcome::VoteAdded,
                Ok(()) => Outcome::VoteRemoved,
                Err(e) => vote_error(e),
            },
            Action::GetUser { id, .. } => match s.get_user(user_id(*id)).await {
                Ok(u) => Outcome::User(user_out(&u)),
                Err(e) => user_error(e),
            },
            Action::ListUsers {
                after, limit, skip, ..
            } => {
                let page = parse_or_422!(Page::new(*limit, *skip));
                let after = after.map(user_id);
                match s.list_users(caller, UserPage { after, page }).await {
                    Ok(users) => Outcome::Users(users.iter().map(user_out).collect()),
                    Err(e) => user_error(e),
                }
            }
            Action::SetRole { id, admin, .. } => {
                let role = if *admin { Role::Admin } else { Role::User };
                match s.set_role(caller, user_id(*id), role).await {
                    Ok(u) => Outcome::User(user_out(&u)),
                    Err(e) => user_error(e),
                }
            }
            Action::DeleteUser { id, .. } => match s.delete_user(caller, user_id(*id)).await {
                Ok(()) => Outcome::Done,
                Err(e) => user_error(e),
            },
        }
    }
}

impl Driver for ServiceDriver {
    fn ports(&self) -> &Ports {
        &self.ports
    }

    fn clock(&self) -> &ManualClock {
        &self.clock
    }

    async fn exec(&mut self, action: &Action) -> Outcome {
        let s = &self.service;
        match action {
            Action::Register { email, password } => {
                let email = parse_or_422!(EmailAddress::parse(email));
                let password = parse_or_422!(Password::parse(password));
                match s.register(email, password).await {
                    Ok(u) => Outcome::User(user_out(&u)),
                    Err(RegisterError::EmailTaken(e)) => Outcome::EmailTaken(e.as_str().into()),
                    Err(e) => Outcome::Unexpected(format!("register: {e}")),
                }
            }
            Action::Login { email, password } => {
                match s.login(email, password, CLIENT, Some(USER_AGENT)).await {
                    Ok(t) => logged_in(s, t, true).await,
                    Err(LoginError::InvalidCredentials) => Outcome::BadCredentials,
                    Err(e) => Outcome::Unexpected(format!("login: {e}")),
                }
            }
            Action::Refresh { refresh } => {
                let result = s.refresh(&RefreshToken::new(refresh)).await;
                refreshed(s, result, true).await
            }
            Action::RefreshRace { refresh } => {
                // Two tasks, so that on Postgres the two really overlap.
                let presented = RefreshToken::new(refresh);
                let spawn = |presented: RefreshToken| {
                    let s = s.clone();
                    tokio::spawn(async move { s.refresh(&presented).await })
                };
                let (a, b) = (spawn(presented.clone()), spawn(presented));
                let a = a.await.expect("a refresh task");
                let b = b.await.expect("a refresh task");
                Outcome::race(refreshed(s, a, false).await, refreshed(s, b, false).await)
            }
            // The one-round-trip read, as `GET /posts/{id}` does it: the
            // token verified, then the bearer checked with the post read.
            Action::GetPost { token, id } => {
                let claims = match s.verify_token(token) {
                    Ok(claims) => claims,
                    Err(_) => return Outcome::BadToken,
                };
                match s.get_post_for_token(&claims, post_id(*id)).await {
                    Ok(p) => Outcome::Post(post_out(&p)),
                    Err(ReadPostError::Auth(AuthError::InvalidToken)) => Outcome::BadToken,
                    Err(ReadPostError::Post(e)) => post_error(e),
                    Err(e) => Outcome::Unexpected(format!("read: {e}")),
                }
            }
            _ => {
                let token = action.token().expect("an authenticated action");
                match s.authenticate(token).await {
                    Ok(caller) => self.as_caller(&caller, action).await,
                    Err(AuthError::InvalidToken) => Outcome::BadToken,
                    Err(e) => Outcome::Unexpected(format!("authenticate: {e}")),
                }
            }
        }
    }
}

/// A service built for an earlier case, with its ports and clock.
type Built = RefCell<Option<(Service, Ports, ManualClock)>>;

/// Runs one script on a fresh service: on memory a new one (a new store);
/// on Postgres the run's one service, its database emptied (building one,
/// with its pool and migrations, costs as much as a short script). The
/// clock only moves forward, case after case.
fn run_one(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    built: &Built,
    script: &Script,
) -> Result<(), String> {
    rt.block_on(async {
        let reuse = match store {
            Store::Memory => None,
            Store::Postgres(_) => built.borrow().clone(),
        };
        let (service, ports, clock) = match reuse {
            Some((service, ports, clock)) => {
                harness::reset(store, &service).await;
                (service, ports, clock)
            }
            None => {
                let clock = harness::whole_second_clock();
                let (service, ports) = build(store, &harness::config(store), &clock).await;
                *built.borrow_mut() = Some((service.clone(), ports.clone(), clock.clone()));
                (service, ports, clock)
            }
        };
        let mut driver = ServiceDriver {
            service,
            ports,
            clock,
        };
        run_script(&mut driver, script).await
    })
}

/// Memory runs `PROPTEST_CASES` scripts (default 320), Postgres half as
/// many (default 160): enough for each store to find, on its own, every
/// bug the suite was validated against (see the `regression_*` tests) in
/// nearly every run.
fn model_based(kind: StoreKind, default_cases: u32, divisor: u32) {
    with_store(kind, |rt, store| {
        let built = Built::default();
        check_script_property(
            &format!("prop_service on {}", store.name()),
            MAX_STEPS,
            harness::scaled_cases(default_cases, divisor),
            regressions(store),
            |s| run_one(rt, store, &built, s),
        );
    });
}

/// Each store keeps its own failures: a seed found on one store replays
/// first on that store.
fn regressions(store: &Store) -> &'static str {
    match store {
        Store::Memory => "proptest-regressions/prop_service-memory.txt",
        Store::Postgres(_) => "proptest-regressions/prop_service-postgres.txt",
    }
}

#[test]
fn service_follows_the_model_on_memory() {
    model_based(StoreKind::Memory, 320, 1);
}

#[test]
fn service_follows_the_model_on_postgres() {
    model_based(StoreKind::Postgres, 160, 2);
}

/// Runs a fixed script on memory and on Postgres (when configured).
fn replay(ops: Vec<Op>) {
    let script = Script(ops);
    for kind in [StoreKind::Memory, StoreKind::Postgres] {
        with_store(kind, |rt, store| {
            if let Err(failure) = run_one(rt, store, &Built::default(), &script) {
                panic!("{script:#?}\non {}: {failure}", store.name());
            }
        });
    }
}

const ADMIN: Who = Who::latest(0);
const U1: Who = Who::latest(1);
const U2: Who = Who::latest(2);

#[test]
fn regression_non_owner_cannot_update() {
    replay(vec![
        Op::Create {
            who: U1,
            title: 0,
            published: Some(true),
        },
        Op::Update {
            who: U2,
            post: 0,
            title: 1,
            published: Some(true),
        },
    ]);
}

#[test]
fn regression_demoted_admin_loses_rights_at_once() {
    replay(vec![
        Op::SetRole {
            who: ADMIN,
            target: 1,
            admin: true,
        },
        Op::Login {
            slot: 1,
            wrong: false,
            shout: false,
        },
        Op::SetRole {
            who: ADMIN,
            target: 1,
            admin: false,
        },
        Op::ListUsers {
            who: U1,
            after: None,
            limit: 100,
            skip: 0,
        },
    ]);
}

#[test]
fn regression_drafts_stay_private() {
    replay(vec![
        Op::Create {
            who: U1,
            title: 0,
            published: Some(false),
        },
        Op::List {
            who: U2,
            search: None,
            before: None,
            limit: 10,
            skip: 0,
        },
    ]);
}

#[test]
fn regression_revoked_token_stays_revoked() {
    replay(vec![Op::Logout(U1), Op::Profile(U1)]);
}

#[test]
fn regression_token_expires_exactly_at_exp() {
    replay(vec![
        Op::Advance(1799),
        Op::Profile(U1),
        Op::Advance(1),
        Op::Profile(U1),
    ]);
}

#[test]
fn regression_deleted_voter_leaves_no_vote() {
    replay(vec![
        Op::Create {
            who: U1,
            title: 0,
            published: Some(true),
        },
        Op::Vote {
            who: U2,
            post: 0,
            up: true,
        },
        Op::DeleteUser { who: U2, target: 2 },
    ]);
}

#[test]
fn regression_spent_refresh_token_is_refused() {
    replay(vec![
        Op::Refresh(U1),
        Op::Refresh(Who { slot: 1, back: 1 }),
        Op::Profile(U1),
    ]);
}

#[test]
fn regression_two_refreshes_with_one_token_one_winner() {
    replay(vec![Op::RefreshRace(ADMIN), Op::Refresh(ADMIN)]);
}

#[test]
fn regression_logout_everywhere_ends_every_session() {
    replay(vec![
        Op::Login {
            slot: 1,
            wrong: false,
            shout: false,
        },
        Op::LogoutAll(U1),
    ]);
}

#[test]
fn regression_password_change_keeps_the_current_session_only() {
    replay(vec![
        Op::Login {
            slot: 1,
            wrong: false,
            shout: false,
        },
        Op::ChangePassword {
            who: U1,
            wrong: false,
        },
        Op::Login {
            slot: 1,
            wrong: true,
            shout: false,
        },
    ]);
}

#[test]
fn regression_ended_session_fails_the_one_round_trip_read() {
    replay(vec![Op::Logout(U1), Op::Read { who: U1, post: 0 }]);
}

/// A posts and votes store that fails every read (and every vote, which
/// reads the post) while `failing` is set, and otherwise passes
/// everything to the real one.
struct FailingReads {
    inner: Arc<dyn PostStore>,
    votes: Arc<dyn VoteStore>,
    failing: AtomicBool,
}

impl FailingReads {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("injected by the test".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl PostStore for FailingReads {
    async fn create(&self, post: NewPost, at: OffsetDateTime) -> Result<PostView, StoreError> {
        self.inner.create(post, at).await
    }

    async fn get(&self, id: PostId) -> Result<Option<PostView>, StoreError> {
        self.check()?;
        self.inner.get(id).await
    }

    async fn list(&self, filter: &PostFilter) -> Result<Vec<PostView>, StoreError> {
        self.check()?;
        self.inner.list(filter).await
    }

    async fn update_as(
        &self,
        actor: &User,
        id: PostId,
        update: PostUpdate,
    ) -> Result<PostChange<PostView>, StoreError> {
        self.inner.update_as(actor, id, update).await
    }

    async fn delete_as(&self, actor: &User, id: PostId) -> Result<PostChange<()>, StoreError> {
        self.inner.delete_as(actor, id).await
    }

    async fn update(&self, id: PostId, update: PostUpdate) -> Result<Option<PostView>, StoreError> {
        self.inner.update(id, update).await
    }

    async fn delete(&self, id: PostId) -> Result<bool, StoreError> {
        self.inner.delete(id).await
    }
}

#[async_trait::async_trait]
impl VoteStore for FailingReads {
    async fn vote_as(&self, voter: &User, post: PostId, up: bool) -> Result<Voted, StoreError> {
        self.check()?;
        self.votes.vote_as(voter, post, up).await
    }

    async fn add(&self, user: UserId, post: PostId) -> Result<AddVote, StoreError> {
        self.votes.add(user, post).await
    }

    async fn remove(&self, user: UserId, post: PostId) -> Result<bool, StoreError> {
        self.votes.remove(user, post).await
    }
}

/// A store failure while a vote looks its post up is a store failure (503
/// at the edge), never "post not found" nor a vote counted; the same for
/// the post routes (kills the mutant that drops `PostError::Store` from
/// `Service::vote`'s error mapping).
#[test]
fn a_store_failure_while_voting_is_not_a_missing_post() {
    let rt = harness::runtime();
    rt.block_on(async {
        let store = Store::Memory;
        let clock = harness::whole_second_clock();
        let (_, mut ports) = build(&store, &harness::config(&store), &clock).await;
        let posts = Arc::new(FailingReads {
            inner: ports.posts.clone(),
            votes: ports.votes.clone(),
            failing: AtomicBool::new(false),
        });
        ports.posts = posts.clone();
        ports.votes = posts.clone();
        let service = Service::new(ports);
        let token = service
            .login(ADMIN_EMAIL, ADMIN_PASSWORD, CLIENT, None)
            .await
            .expect("the start-up admin logs in")
            .access
            .token;
        let caller = service.authenticate(&token).await.expect("a fresh token");
        let title = PostTitle::parse("a post").expect("a title");
        let content = PostContent::parse("its content").expect("a content");
        let post = service
            .create_post(&caller, title, content, true)
            .await
            .expect("a post")
            .id;
        service.vote(&caller, post, true).await.expect("a vote");
        posts.failing.store(true, Ordering::SeqCst);
        for up in [true, false] {
            let outcome = service.vote(&caller, post, up).await;
            assert!(
                matches!(outcome, Err(VoteError::Store(_))),
                "vote dir={} while the store fails: {outcome:?}",
                u8::from(up)
            );
        }
        let outcome = service.get_post(&caller, post).await;
        assert!(matches!(outcome, Err(PostError::Store(_))), "{outcome:?}");
        posts.failing.store(false, Ordering::SeqCst);
        let votes = service
            .get_post(&caller, post)
            .await
            .expect("the post")
            .votes;
        assert_eq!(votes, 1, "the failed votes changed nothing");
    });
}
