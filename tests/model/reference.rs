//! The reference model: API.md's rules over plain collections.
//!
//! Ids are the application's: the model learns each new id from the
//! answer (after checking it is positive and larger than every earlier one
//! of its table, since ids are never reused), so it works on stores whose
//! sequences leave gaps.

use std::collections::BTreeSet;

use super::ops::{Op, SEARCHES, TITLES, Who, slot_name};
use super::outcome::{Action, Outcome, PostOut, UserOut};
use super::sessions::{SessionM, other_password};

/// The start-up admin's email (slot 0).
pub const ADMIN_EMAIL: &str = "admin@example.com";
/// The start-up admin's password.
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// A password no user has.
pub const WRONG_PASSWORD: &str = "not-the-password";
/// Ids no store will reach in a test: posts never created, users never
/// registered.
pub const GHOST_POST: i64 = 8_000_000_000;
/// See [`GHOST_POST`].
pub const GHOST_USER: i64 = 9_000_000_000;
/// See [`GHOST_POST`]: sessions never started.
pub const GHOST_SESSION: i64 = 7_000_000_000;

/// The email of a slot.
pub fn email_of(slot: u8) -> String {
    if slot == 0 {
        ADMIN_EMAIL.to_owned()
    } else {
        format!("user{slot}@example.com")
    }
}

/// The password of a slot.
pub fn password_of(slot: u8) -> String {
    if slot == 0 {
        ADMIN_PASSWORD.to_owned()
    } else {
        format!("password-of-user-{slot}")
    }
}

/// A user the model knows, alive or deleted.
#[derive(Debug, Clone)]
pub struct UserM {
    /// The application's id.
    pub id: i64,
    /// The slot whose email it registered.
    pub slot: u8,
    /// Normalised email.
    pub email: String,
    /// Its password.
    pub password: String,
    /// Role.
    pub admin: bool,
    /// Not deleted.
    pub alive: bool,
}

/// A post the model knows, alive or deleted.
#[derive(Debug, Clone)]
pub struct PostM {
    /// The application's id.
    pub id: i64,
    /// The owner's id (never changes).
    pub owner: i64,
    /// Trimmed title.
    pub title: String,
    /// Content as sent.
    pub content: String,
    /// `false` for a draft.
    pub published: bool,
    /// Unix nanoseconds.
    pub created_at: i128,
    /// Who voted.
    pub voters: BTreeSet<i64>,
    /// Not deleted.
    pub alive: bool,
}

/// The tokens a slot was given by one login or refresh.
#[derive(Debug, Clone)]
pub struct TokenM {
    /// The encoded access token.
    pub token: String,
    /// The refresh token given with it.
    pub refresh: String,
    /// Their session.
    pub session: i64,
    /// Its user.
    pub user: i64,
    /// `exp`, Unix seconds.
    pub exp: i64,
}

/// An operation resolved against the model, with a line for the trace.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// What to do.
    pub action: Action,
    /// How the trace shows it.
    pub text: String,
}

/// The state the contract implies.
#[derive(Debug, Clone)]
pub struct Model {
    /// The injected clock, Unix nanoseconds.
    pub now: i128,
    /// Token lifetime in seconds.
    pub lifetime: i64,
    /// Every user ever, in creation order.
    pub users: Vec<UserM>,
    /// Every post ever, in creation order (`p0`, `p1`, ...).
    pub posts: Vec<PostM>,
    /// Every token each slot was given, oldest first.
    pub tokens: Vec<Vec<TokenM>>,
    /// Every session ever, in creation order.
    pub sessions: Vec<SessionM>,
}

/// Nanoseconds in a second.
pub const NANOS: i128 = 1_000_000_000;

impl Model {
    /// The start: only the start-up admin, no tokens.
    pub fn new(now: i128, lifetime: i64, admin: &UserOut) -> Self {
        Self {
            now,
            lifetime,
            users: vec![UserM {
                id: admin.id,
                slot: 0,
                email: admin.email.clone(),
                password: ADMIN_PASSWORD.to_owned(),
                admin: true,
                alive: true,
            }],
            posts: Vec::new(),
            tokens: vec![Vec::new(); usize::from(super::ops::SLOTS)],
            sessions: Vec::new(),
        }
    }

    /// Moves the clock.
    pub fn advance(&mut self, secs: i64) {
        self.now += i128::from(secs) * NANOS;
    }

    /// A live user.
    pub fn user(&self, id: i64) -> Option<&UserM> {
        self.users.iter().find(|u| u.id == id && u.alive)
    }

    /// The latest user of a slot, alive or not.
    pub fn slot_user(&self, slot: u8) -> Option<&UserM> {
        self.users.iter().rev().find(|u| u.slot == slot)
    }

    /// A live user with this (normalised) email.
    pub fn user_by_email(&self, email: &str) -> Option<&UserM> {
        self.users.iter().find(|u| u.alive && u.email == email)
    }

    /// The token a `Who` names, clamped to the oldest.
    pub fn token_of(&self, who: Who) -> Option<(usize, &TokenM)> {
        let list = &self.tokens[usize::from(who.slot)];
        let back = usize::from(who.back).min(list.len().checked_sub(1)?);
        let index = list.len() - 1 - back;
        Some((index, &list[index]))
    }

    /// Why a token does not authenticate, or `None` if it does.
    pub fn token_problem(&self, t: &TokenM) -> Option<&'static str> {
        let session = self.session(t.session);
        if !session.is_some_and(|s| s.alive) {
            Some("session ended")
        } else if !self.session_active(t.session) {
            Some("session expired")
        } else if session.is_some_and(|s| s.user != t.user) {
            Some("another user's session")
        } else if self.now >= i128::from(t.exp) * NANOS {
            Some("expired")
        } else if self.user(t.user).is_none() {
            Some("user deleted")
        } else {
            None
        }
    }

    /// The user a token authenticates, if it does.
    pub fn caller(&self, token: &str) -> Option<&UserM> {
        let t = self.tokens.iter().flatten().find(|t| t.token == token)?;
        match self.token_problem(t) {
            None => self.user(t.user),
            Some(_) => None,
        }
    }

    /// A live post.
    fn post(&self, id: i64) -> Option<&PostM> {
        self.posts.iter().find(|p| p.id == id && p.alive)
    }

    /// Drafts are for their owner and admins.
    fn visible(viewer: &UserM, post: &PostM) -> bool {
        post.published || post.owner == viewer.id || viewer.admin
    }

    /// Only the owner or an admin changes a post.
    fn may_change(actor: &UserM, post: &PostM) -> bool {
        post.owner == actor.id || actor.admin
    }

    /// How a user shows.
    pub fn user_out(u: &UserM) -> UserOut {
        UserOut {
            id: u.id,
            email: u.email.clone(),
            role: if u.admin { "admin" } else { "user" }.to_owned(),
        }
    }

    /// How a live post shows now.
    pub fn post_out(&self, p: &PostM) -> PostOut {
        let owner = self
            .user(p.owner)
            .expect("a live post has a live owner (model invariant)");
        PostOut {
            id: p.id,
            title: p.title.clone(),
            content: p.content.clone(),
            published: p.published,
            created_at: p.created_at,
            owner: Self::user_out(owner),
            votes: p.voters.len() as i64,
        }
    }

    /// What `viewer` may list, newest first, before paging.
    pub fn visible_posts(&self, viewer: &UserM, search: Option<&str>) -> Vec<PostOut> {
        let mut posts: Vec<&PostM> = self
            .posts
            .iter()
            .filter(|p| p.alive && Self::visible(viewer, p))
            .filter(|p| search.is_none_or(|s| p.title.to_lowercase().contains(&s.to_lowercase())))
            .collect();
        posts.sort_by_key(|p| std::cmp::Reverse(p.id));
        posts.into_iter().map(|p| self.post_out(p)).collect()
    }

    /// A post reference's id: the k-th post created, or a missing id.
    fn post_ref(&self, k: u8) -> (i64, String) {
        match self.posts.get(usize::from(k)) {
            Some(p) => (p.id, format!("p{k}=#{}", p.id)),
            None => {
                let id = GHOST_POST + i64::from(k);
                (id, format!("p{k}=#{id} (never created)"))
            }
        }
    }

    /// A user target's id: the slot's latest user, or a missing id.
    pub fn user_ref(&self, slot: u8) -> (i64, String) {
        let name = slot_name(slot);
        match self.slot_user(slot) {
            Some(u) if u.alive => (u.id, format!("{name}=#{}", u.id)),
            Some(u) => (u.id, format!("{name}=#{} (deleted)", u.id)),
            None => {
                let id = GHOST_USER + i64::from(slot);
                (id, format!("{name}=#{id} (never registered)"))
            }
        }
    }

    /// The token of `who` and how the trace names it.
    pub fn actor(&self, who: Who) -> (String, String) {
        let name = slot_name(who.slot);
        match self.token_of(who) {
            Some((index, t)) => {
                let n = self.tokens[usize::from(who.slot)].len();
                let mut text = format!("{name}[token {}/{n} of #{}", index + 1, t.user);
                if let Some(problem) = self.token_problem(t) {
                    text.push_str(", ");
                    text.push_str(problem);
                }
                text.push(']');
                (t.token.clone(), text)
            }
            None => ("no-token-yet".to_owned(), format!("{name}[no token]")),
        }
    }

    /// Resolves an operation (all but `Advance`) against the state.
    pub fn resolve(&self, op: &Op) -> Option<Resolved> {
        let title_of = |i: u8| TITLES[usize::from(i) % TITLES.len()].to_owned();
        let flag = |p: Option<bool>| match p {
            Some(true) => "published",
            Some(false) => "draft",
            None => "(no flag)",
        };
        let shout_email = |slot: u8, shout: bool| {
            let email = email_of(slot);
            if shout {
                format!("  {}  ", email.to_uppercase())
            } else {
                email
            }
        };
        if let Some((action, text)) = self.resolve_session_op(op) {
            return Some(Resolved { action, text });
        }
        let (action, text) = match *op {
            Op::Advance(_) => return None,
            Op::Register { slot, shout } => {
                let email = shout_email(slot, shout);
                let text = format!("register {email:?}");
                let password = password_of(slot);
                (Action::Register { email, password }, text)
            }
            Op::Login { slot, wrong, shout } => {
                let email = shout_email(slot, shout);
                let current = self
                    .slot_user(slot)
                    .filter(|u| u.alive)
                    .map(|u| u.password.clone());
                let password = match (current, wrong) {
                    (Some(current), false) => current,
                    (Some(current), true) => other_password(slot, &current),
                    (None, false) => password_of(slot),
                    (None, true) => WRONG_PASSWORD.to_owned(),
                };
                let text = format!(
                    "login {email:?}{}",
                    if wrong { " with a wrong password" } else { "" }
                );
                (Action::Login { email, password }, text)
            }
            Op::Logout(who) => {
                let (token, who) = self.actor(who);
                (Action::Logout { token }, format!("{who} logout"))
            }
            Op::Profile(who) => {
                let (token, who) = self.actor(who);
                (Action::Profile { token }, format!("{who} GET /profile"))
            }
            Op::Create {
                who,
                title,
                published,
            } => {
                let (token, who) = self.actor(who);
                let title = title_of(title);
                let content = format!("  about {}\n", title.trim());
                let text = format!("{who} create {title:?} {}", flag(published));
                let action = Action::CreatePost {
                    token,
                    title,
                    content,
                    published,
                };
                (action, text)
            }
            Op::Read { who, post } => {
                let (token, who) = self.actor(who);
                let (id, post) = self.post_ref(post);
                (Action::GetPost { token, id }, format!("{who} GET {post}"))
            }
            Op::List {
                who,
                search,
                before,
                limit,
                skip,
            } => {
                let (token, who) = self.actor(who);
                let search = search.map(|s| SEARCHES[usize::from(s) % SEARCHES.len()].to_owned());
                let before = before.map(|k| self.post_ref(k));
                let text = format!(
                    "{who} list search={search:?} before={:?} limit={limit} skip={skip}",
                    before.as_ref().map(|(_, name)| name)
                );
                let action = Action::ListPosts {
                    token,
                    search,
                    before: before.map(|(id, _)| id),
                    limit,
                    skip,
                };
                (action, text)
            }
            Op::Update {
                who,
                post,
                title,
                published,
            } => {
                let (token, who) = self.actor(who);
                let (id, post) = self.post_ref(post);
                let title = title_of(title);
                let content = format!("edited: {}", title.trim());
                let text = format!("{who} PUT {post} {title:?} {}", flag(published));
                let action = Action::UpdatePost {
                    token,
                    id,
                    title,
                    content,
                    published,
                };
                (action, text)
            }
            Op::Delete { who, post } => {
                let (token, who) = self.actor(who);
                let (id, post) = self.post_ref(post);
                (
                    Action::DeletePost { token, id },
                    format!("{who} DELETE {post}"),
                )
            }
            Op::Vote { who, post, up } => {
                let (token, who) = self.actor(who);
                let (id, post) = self.post_ref(post);
                let dir = if up { "dir=1" } else { "dir=0" };
                (
                    Action::Vote { token, id, up },
                    format!("{who} vote {post} {dir}"),
                )
            }
            Op::Unvote(who) => {
                let (token, text) = self.actor(who);
                let user = self.token_of(who).map(|(_, t)| t.user);
                let voted = self
                    .posts
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, p)| user.is_some_and(|u| p.voters.contains(&u)));
                let k = voted.map_or(0, |(k, _)| u8::try_from(k).unwrap_or(u8::MAX));
                let (id, post) = self.post_ref(k);
                let action = Action::Vote {
                    token,
                    id,
                    up: false,
                };
                (
                    action,
                    format!("{text} vote {post} dir=0 (their newest vote)"),
                )
            }
            Op::GetUser { who, target } => {
                let (token, who) = self.actor(who);
                let (id, target) = self.user_ref(target);
                (
                    Action::GetUser { token, id },
                    format!("{who} GET user {target}"),
                )
            }
            Op::ListUsers {
                who,
                after,
                limit,
                skip,
            } => {
                let (token, who) = self.actor(who);
                let after = after.map(|slot| self.user_ref(slot));
                let text = format!(
                    "{who} list users after={:?} limit={limit} skip={skip}",
                    after.as_ref().map(|(_, name)| name)
                );
                let after = after.map(|(id, _)| id);
                (
                    Action::ListUsers {
                        token,
                        after,
                        limit,
                        skip,
                    },
                    text,
                )
            }
            Op::SetRole { who, target, admin } => {
                let (token, who) = self.actor(who);
                let (id, target) = self.user_ref(target);
                let role = if admin { "admin" } else { "user" };
                let text = format!("{who} set role of {target} to {role}");
                (Action::SetRole { token, id, admin }, text)
            }
            Op::DeleteUser { who, target } => {
                let (token, who) = self.actor(who);
                let (id, target) = self.user_ref(target);
                (
                    Action::DeleteUser { token, id },
                    format!("{who} DELETE user {target}"),
                )
            }
            _ => unreachable!("resolved above: {op:?}"),
        };
        Some(Resolved { action, text })
    }

    /// The outcome the contract prescribes. A created entity's id is left
    /// 0: the application assigns it.
    pub fn predict(&self, action: &Action) -> Outcome {
        let caller = match action.token() {
            Some(token) => match self.caller(token) {
                Some(u) => Some(u),
                None => return Outcome::BadToken,
            },
            None => None,
        };
        if let Some(outcome) = self.predict_session(action, caller) {
            return outcome;
        }
        let me = || caller.expect("authenticated above");
        match action {
            Action::Register { email, .. } => {
                let email = email.trim().to_lowercase();
                if self.user_by_email(&email).is_some() {
                    Outcome::EmailTaken(email)
                } else {
                    Outcome::User(UserOut {
                        id: 0,
                        email,
                        role: "user".into(),
                    })
                }
            }
            Action::Login { email, password } => {
                match self.user_by_email(&email.trim().to_lowercase()) {
                    Some(u) if &u.password == password => self.logged_in(0),
                    _ => Outcome::BadCredentials,
                }
            }
            Action::Logout { .. } => Outcome::Done,
            Action::Profile { .. } => Outcome::User(Self::user_out(me())),
            Action::CreatePost {
                title,
                content,
                published,
                ..
            } => Outcome::Post(PostOut {
                id: 0,
                title: title.trim().to_owned(),
                content: content.clone(),
                published: published.unwrap_or(true),
                created_at: self.now,
                owner: Self::user_out(me()),
                votes: 0,
            }),
            Action::GetPost { id, .. } => match self.post(*id) {
                Some(p) if Self::visible(me(), p) => Outcome::Post(self.post_out(p)),
                _ => Outcome::PostNotFound(*id),
            },
            Action::ListPosts {
                search,
                before,
                limit,
                skip,
                ..
            } => {
                if !(1..=100).contains(limit) {
                    return Outcome::Invalid("limit".into());
                }
                if *skip < 0 {
                    return Outcome::Invalid("skip".into());
                }
                let mut all = self.visible_posts(me(), search.as_deref());
                // API.md "Paging": the cursor first, then skip and limit.
                all.retain(|p| before.is_none_or(|before| p.id < before));
                Outcome::Posts(page(all, *limit, *skip))
            }
            Action::UpdatePost {
                id,
                title,
                content,
                published,
                ..
            } => match self.post(*id) {
                Some(p) if !Self::visible(me(), p) => Outcome::PostNotFound(*id),
                Some(p) if !Self::may_change(me(), p) => Outcome::Forbidden,
                Some(p) => {
                    let mut out = self.post_out(p);
                    out.title = title.trim().to_owned();
                    out.content = content.clone();
                    out.published = published.unwrap_or(true);
                    Outcome::Post(out)
                }
                None => Outcome::PostNotFound(*id),
            },
            Action::DeletePost { id, .. } => match self.post(*id) {
                Some(p) if !Self::visible(me(), p) => Outcome::PostNotFound(*id),
                Some(p) if !Self::may_change(me(), p) => Outcome::Forbidden,
                Some(_) => Outcome::Done,
                None => Outcome::PostNotFound(*id),
            },
            Action::Vote { id, up, .. } => match self.post(*id) {
                Some(p) if Self::visible(me(), p) => {
                    let voted = p.voters.contains(&me().id);
                    match (up, voted) {
                        (true, true) => Outcome::AlreadyVoted {
                            user: me().id,
                            post: *id,
                        },
                        (true, false) => Outcome::VoteAdded,
                        (false, true) => Outcome::VoteRemoved,
                        (false, false) => Outcome::VoteNotFound,
                    }
                }
                _ => Outcome::PostNotFound(*id),
            },
            Action::GetUser { id, .. } => match self.user(*id) {
                Some(u) => Outcome::User(Self::user_out(u)),
                None => Outcome::UserNotFound(*id),
            },
            Action::ListUsers {
                after, limit, skip, ..
            } => {
                if !me().admin {
                    return Outcome::Forbidden;
                }
                let mut users: Vec<UserOut> = self
                    .users
                    .iter()
                    .filter(|u| u.alive && after.is_none_or(|after| u.id > after))
                    .map(Self::user_out)
                    .collect();
                users.sort_by_key(|u| u.id);
                Outcome::Users(page(users, *limit, *skip))
            }
            Action::SetRole { id, admin, .. } => {
                if !me().admin {
                    return Outcome::Forbidden;
                }
                match self.user(*id) {
                    Some(_) if !*admin && self.only_admin(*id) => Outcome::LastAdmin,
                    Some(u) => {
                        let mut out = Self::user_out(u);
                        out.role = if *admin { "admin" } else { "user" }.into();
                        Outcome::User(out)
                    }
                    None => Outcome::UserNotFound(*id),
                }
            }
            Action::DeleteUser { id, .. } => {
                if me().id != *id && !me().admin {
                    return Outcome::Forbidden;
                }
                match self.user(*id) {
                    Some(_) if self.only_admin(*id) => Outcome::LastAdmin,
                    Some(_) => Outcome::Done,
                    None => Outcome::UserNotFound(*id),
                }
            }
            _ => unreachable!("predicted above: {action:?}"),
        }
    }

    /// Whether `id` is the one admin left (API.md, "The last admin stays").
    fn only_admin(&self, id: i64) -> bool {
        let mut admins = self.users.iter().filter(|u| u.alive && u.admin);
        admins.next().is_some_and(|u| u.id == id) && admins.next().is_none()
    }

    /// The largest id the model has seen in the table `outcome` creates in.
    pub fn last_id(&self, outcome: &Outcome) -> i64 {
        match outcome {
            Outcome::User(_) => self.users.iter().map(|u| u.id).max().unwrap_or(0),
            Outcome::Post(_) => self.posts.iter().map(|p| p.id).max().unwrap_or(0),
            Outcome::LoggedIn { .. } => self.sessions.iter().map(|s| s.id).max().unwrap_or(0),
            _ => 0,
        }
    }

    /// Applies an action whose `outcome` matched the prediction.
    pub fn commit(&mut self, action: &Action, outcome: &Outcome, slot: Option<u8>) {
        self.commit_session(action, outcome, slot);
        let caller = action.token().and_then(|t| self.caller(t)).map(|u| u.id);
        match (action, outcome) {
            (Action::Register { password, .. }, Outcome::User(u)) => self.users.push(UserM {
                id: u.id,
                slot: slot.expect("registration names a slot"),
                email: u.email.clone(),
                password: password.clone(),
                admin: false,
                alive: true,
            }),
            (Action::Login { email, .. }, Outcome::LoggedIn { .. }) => {
                let user = self
                    .user_by_email(&email.trim().to_lowercase())
                    .expect("logged in as a live user")
                    .id;
                self.start_session(user, outcome);
                self.add_grant(slot.expect("login names a slot"), outcome);
            }
            (Action::CreatePost { .. }, Outcome::Post(p)) => self.posts.push(PostM {
                id: p.id,
                owner: p.owner.id,
                title: p.title.clone(),
                content: p.content.clone(),
                published: p.published,
                created_at: p.created_at,
                voters: BTreeSet::new(),
                alive: true,
            }),
            (Action::UpdatePost { id, .. }, Outcome::Post(p)) => {
                let post = self.post_mut(*id);
                post.title = p.title.clone();
                post.content = p.content.clone();
                post.published = p.published;
            }
            (Action::DeletePost { id, .. }, Outcome::Done) => self.post_mut(*id).alive = false,
            (Action::Vote { id, .. }, Outcome::VoteAdded) => {
                let me = caller.expect("a voter");
                self.post_mut(*id).voters.insert(me);
            }
            (Action::Vote { id, .. }, Outcome::VoteRemoved) => {
                let me = caller.expect("a voter");
                self.post_mut(*id).voters.remove(&me);
            }
            (Action::SetRole { id, admin, .. }, Outcome::User(_)) => {
                if let Some(u) = self.users.iter_mut().find(|u| u.id == *id && u.alive) {
                    u.admin = *admin;
                }
            }
            (Action::DeleteUser { id, .. }, Outcome::Done) => self.delete_user(*id),
            _ => {}
        }
    }

    fn post_mut(&mut self, id: i64) -> &mut PostM {
        self.posts
            .iter_mut()
            .find(|p| p.id == id && p.alive)
            .expect("a live post")
    }

    /// A deleted user takes their posts (with those posts' votes) and
    /// their votes on other posts; their tokens fail from then on.
    fn delete_user(&mut self, id: i64) {
        if let Some(u) = self.users.iter_mut().find(|u| u.id == id && u.alive) {
            u.alive = false;
        }
        self.end_sessions(id, None);
        for p in &mut self.posts {
            if p.owner == id {
                p.alive = false;
            }
            p.voters.remove(&id);
        }
    }
}

/// `skip` then `limit` of `items`.
fn page<T>(items: Vec<T>, limit: i64, skip: i64) -> Vec<T> {
    let skip = usize::try_from(skip).unwrap_or(0);
    let limit = usize::try_from(limit).unwrap_or(0);
    items.into_iter().skip(skip).take(limit).collect()
}
