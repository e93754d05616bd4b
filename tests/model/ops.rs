//! Operations of a random script, their generators, and a `Debug` that
//! reads like a test plan (`u2 PUT p0 "CATS" draft`).
//!
//! Operations name things relatively, so that any sub-sequence (what
//! shrinking tries) still means something:
//! - actors are slots: `admin` (slot 0, the start-up admin's email) and
//!   `u1`..`u3`; a slot keeps every token it was ever given, and `u1~1`
//!   means "u1's token before the latest one";
//! - posts are `p0`, `p1`, ...: the k-th post created in this run (deleted
//!   or not); one never created is a missing id;
//! - a user target is a slot's latest user (deleted or not).

use std::fmt;

use proptest::prelude::*;

/// Slot 0 is the start-up admin's email; slots 1..=3 are ordinary users.
pub const SLOTS: u8 = 4;
/// Post titles: cases, `%` and `_`, non-ASCII, and white space to trim.
pub const TITLES: &[&str] = &[
    "Rust tips",
    "rust 100%",
    "Cats_and dogs",
    "  CATS  ",
    "Été chaud",
    "a_b%c",
];
/// Searches over those titles: case-insensitive substrings, literal `%`
/// and `_`, one that matches nothing.
pub const SEARCHES: &[&str] = &["rust", "CAT", "%", "_", "ÉTÉ", "s d", "zzz"];
/// Clock steps in seconds; tokens live 1800 s, so sums of these reach the
/// expiry exactly, just before and just after; half a day moves towards
/// the end of sessions (their refresh tokens live a day in these tests).
pub const ADVANCES: &[i64] = &[1, 59, 60, 61, 900, 1799, 1800, 1801, 43_200];

/// Who acts: a slot, and which of its tokens (0 = the latest, 1 = the one
/// before, ... clamped to the oldest).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Who {
    /// 0 = admin, 1..=3 = u1..u3.
    pub slot: u8,
    /// Tokens back from the latest.
    pub back: u8,
}

impl Who {
    /// The latest token of `slot`.
    pub const fn latest(slot: u8) -> Self {
        Self { slot, back: 0 }
    }
}

/// `admin`, `u1`, `u2`, `u3`.
pub fn slot_name(slot: u8) -> String {
    if slot == 0 {
        "admin".to_owned()
    } else {
        format!("u{slot}")
    }
}

impl fmt::Debug for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&slot_name(self.slot))?;
        if self.back > 0 {
            write!(f, "~{}", self.back)?;
        }
        Ok(())
    }
}

/// One step of a script.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /users` with the slot's email (`shout`: upper-cased and padded).
    Register {
        /// Whose email.
        slot: u8,
        /// Send the email upper-cased with spaces around it.
        shout: bool,
    },
    /// `POST /login`; the slot gains a token on success.
    Login {
        /// Whose email.
        slot: u8,
        /// Send a wrong password (the slot's former one after a change).
        wrong: bool,
        /// Send the email upper-cased with spaces around it.
        shout: bool,
    },
    /// `POST /logout` with that token: ends its session.
    Logout(Who),
    /// `GET /profile` (the service's `authenticate`).
    Profile(Who),
    /// `POST /posts`; `published: None` omits the field.
    Create {
        /// The author.
        who: Who,
        /// Index into [`TITLES`].
        title: u8,
        /// The flag sent, if any.
        published: Option<bool>,
    },
    /// `GET /posts/{p}`.
    Read {
        /// The reader.
        who: Who,
        /// Which post.
        post: u8,
    },
    /// `GET /posts?search=&limit=&skip=&before=`.
    List {
        /// The reader.
        who: Who,
        /// Index into [`SEARCHES`].
        search: Option<u8>,
        /// The cursor `before`: a post reference's id (`p{k}`, which may
        /// be deleted or never created), so pages start anywhere.
        before: Option<u8>,
        /// Page size (0 and 101 are invalid).
        limit: i64,
        /// Rows to skip (-1 is invalid).
        skip: i64,
    },
    /// `PUT /posts/{p}`; `published: None` omits the field (publishes).
    Update {
        /// The editor.
        who: Who,
        /// Which post.
        post: u8,
        /// Index into [`TITLES`].
        title: u8,
        /// The flag sent, if any.
        published: Option<bool>,
    },
    /// `DELETE /posts/{p}`.
    Delete {
        /// Who deletes.
        who: Who,
        /// Which post.
        post: u8,
    },
    /// `POST /vote` with `dir` 1 (`up`) or 0.
    Vote {
        /// The voter.
        who: Who,
        /// Which post.
        post: u8,
        /// Add (`true`) or remove the vote.
        up: bool,
    },
    /// `POST /vote` with `dir` 0 on the newest post this actor's user has
    /// a vote on (`p0` if none).
    Unvote(Who),
    /// `GET /users/{id}` of a slot's latest user.
    GetUser {
        /// The reader.
        who: Who,
        /// Whose user.
        target: u8,
    },
    /// `GET /users?limit=&skip=&after=` (admins).
    ListUsers {
        /// The reader.
        who: Who,
        /// The cursor `after`: a slot's latest user's id, if any.
        after: Option<u8>,
        /// Page size.
        limit: i64,
        /// Rows to skip.
        skip: i64,
    },
    /// `PATCH /users/{id}/role` (admins): promote or demote.
    SetRole {
        /// Who changes it.
        who: Who,
        /// Whose user.
        target: u8,
        /// `admin` (`true`) or `user`.
        admin: bool,
    },
    /// `DELETE /users/{id}` (themself or an admin).
    DeleteUser {
        /// Who deletes.
        who: Who,
        /// Whose user.
        target: u8,
    },
    /// Moves the injected clock forward this many seconds.
    Advance(i64),
    /// The refresh grant with the refresh token of that login or refresh
    /// (an older one than the session's latest is spent: reuse).
    Refresh(Who),
    /// Two refresh grants at once with the same refresh token.
    RefreshRace(Who),
    /// `POST /logout/all`.
    LogoutAll(Who),
    /// `DELETE /sessions/{id}` of the session `session`'s token names.
    EndSession {
        /// Who ends it.
        who: Who,
        /// Whose token's session (possibly another user's, or ended).
        session: Who,
    },
    /// `DELETE /users/{id}/sessions` (admins).
    EndUserSessions {
        /// Who ends them.
        who: Who,
        /// Whose user.
        target: u8,
    },
    /// `PUT /users/me/password`: to the slot's other password, giving the
    /// current one (or a wrong one).
    ChangePassword {
        /// Whose password (the token's user).
        who: Who,
        /// Give a wrong current password.
        wrong: bool,
    },
    /// `GET /sessions`.
    Sessions(Who),
}

impl Op {
    /// The operation's name, for statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Register { .. } => "register",
            Op::Login { .. } => "login",
            Op::Logout(_) => "logout",
            Op::Profile(_) => "profile",
            Op::Create { .. } => "create",
            Op::Read { .. } => "read",
            Op::List { .. } => "list",
            Op::Update { .. } => "update",
            Op::Delete { .. } => "delete",
            Op::Vote { up: true, .. } => "vote",
            Op::Vote { up: false, .. } => "vote-0",
            Op::Unvote(_) => "unvote",
            Op::GetUser { .. } => "get-user",
            Op::ListUsers { .. } => "list-users",
            Op::SetRole { admin: true, .. } => "promote",
            Op::SetRole { admin: false, .. } => "demote",
            Op::DeleteUser { .. } => "del-user",
            Op::Advance(_) => "advance",
            Op::Refresh(_) => "refresh",
            Op::RefreshRace(_) => "refresh-race",
            Op::LogoutAll(_) => "logout-all",
            Op::EndSession { .. } => "end-session",
            Op::EndUserSessions { .. } => "kill-sessions",
            Op::ChangePassword { .. } => "password",
            Op::Sessions(_) => "sessions",
        }
    }
}

/// `"published"` as the script sends it.
fn flag(published: Option<bool>) -> &'static str {
    match published {
        Some(true) => "published",
        Some(false) => "draft",
        None => "(no flag)",
    }
}

fn title(i: u8) -> &'static str {
    TITLES[usize::from(i) % TITLES.len()]
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Register { slot, shout } => {
                write!(f, "register {}", slot_name(*slot))?;
                if *shout {
                    f.write_str(" (EMAIL SHOUTED)")?;
                }
                Ok(())
            }
            Op::Login { slot, wrong, shout } => {
                write!(f, "login {}", slot_name(*slot))?;
                if *wrong {
                    f.write_str(" with a wrong password")?;
                }
                if *shout {
                    f.write_str(" (EMAIL SHOUTED)")?;
                }
                Ok(())
            }
            Op::Logout(who) => write!(f, "{who:?} logout"),
            Op::Profile(who) => write!(f, "{who:?} GET /profile"),
            Op::Create {
                who,
                title: t,
                published,
            } => write!(f, "{who:?} create {:?} {}", title(*t), flag(*published)),
            Op::Read { who, post } => write!(f, "{who:?} GET p{post}"),
            Op::List {
                who,
                search,
                before,
                limit,
                skip,
            } => {
                write!(f, "{who:?} list")?;
                if let Some(k) = before {
                    write!(f, " before=p{k}")?;
                }
                if let Some(s) = search {
                    write!(
                        f,
                        " search={:?}",
                        SEARCHES[usize::from(*s) % SEARCHES.len()]
                    )?;
                }
                write!(f, " limit={limit} skip={skip}")
            }
            Op::Update {
                who,
                post,
                title: t,
                published,
            } => write!(
                f,
                "{who:?} PUT p{post} {:?} {}",
                title(*t),
                flag(*published)
            ),
            Op::Delete { who, post } => write!(f, "{who:?} DELETE p{post}"),
            Op::Vote { who, post, up } => {
                let dir = if *up { "up (dir 1)" } else { "unvote (dir 0)" };
                write!(f, "{who:?} vote p{post} {dir}")
            }
            Op::Unvote(who) => write!(f, "{who:?} unvote (their newest vote)"),
            Op::GetUser { who, target } => write!(f, "{who:?} GET user {}", slot_name(*target)),
            Op::ListUsers {
                who,
                after,
                limit,
                skip,
            } => {
                write!(f, "{who:?} list users")?;
                if let Some(slot) = after {
                    write!(f, " after={}", slot_name(*slot))?;
                }
                write!(f, " limit={limit} skip={skip}")
            }
            Op::SetRole { who, target, admin } => {
                let role = if *admin { "promote" } else { "demote" };
                write!(f, "{who:?} {role} {}", slot_name(*target))
            }
            Op::DeleteUser { who, target } => {
                write!(f, "{who:?} DELETE user {}", slot_name(*target))
            }
            Op::Advance(secs) => write!(f, "clock +{secs}s"),
            Op::Refresh(who) => write!(f, "{who:?} refresh"),
            Op::RefreshRace(who) => write!(f, "{who:?} refresh twice at once"),
            Op::LogoutAll(who) => write!(f, "{who:?} logout everywhere"),
            Op::EndSession { who, session } => {
                write!(f, "{who:?} DELETE /sessions/(session of {session:?})")
            }
            Op::EndUserSessions { who, target } => {
                write!(f, "{who:?} DELETE /users/{}/sessions", slot_name(*target))
            }
            Op::ChangePassword { who, wrong } => {
                write!(f, "{who:?} change password")?;
                if *wrong {
                    f.write_str(" giving a wrong current password")?;
                }
                Ok(())
            }
            Op::Sessions(who) => write!(f, "{who:?} GET /sessions"),
        }
    }
}

/// A script: the operations after the fixed setup (the start-up admin
/// logged in; u1, u2, u3 registered and logged in; `p0` by u1, `p1` a
/// draft by u2, `p2` by u3).
#[derive(Clone, PartialEq, Eq)]
pub struct Script(pub Vec<Op>);

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Script [")?;
        for (i, op) in self.0.iter().enumerate() {
            writeln!(f, "  {:>2}. {op:?}", i + 1)?;
        }
        f.write_str("]")
    }
}

/// An actor: mostly the latest token, sometimes an older one.
pub fn who() -> impl Strategy<Value = Who> {
    let back = prop_oneof![8 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)];
    (0..SLOTS, back).prop_map(|(slot, back)| Who { slot, back })
}

/// A refresh token: the latest often, older ones (spent, unless a login
/// came after) often enough to reuse them.
fn refresher() -> impl Strategy<Value = Who> {
    let back = prop_oneof![5 => Just(0u8), 3 => Just(1u8), 2 => Just(2u8)];
    (0..SLOTS, back).prop_map(|(slot, back)| Who { slot, back })
}

/// The operations on sessions and accounts (API.md, "Sessions and
/// accounts").
fn session_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => refresher().prop_map(Op::Refresh),
        2 => refresher().prop_map(Op::RefreshRace),
        2 => who().prop_map(Op::LogoutAll),
        3 => (who(), prop_oneof![2 => refresher(), 1 => who()])
            .prop_map(|(who, session)| Op::EndSession { who, session }),
        2 => (role_changer(), 0..SLOTS)
            .prop_map(|(who, target)| Op::EndUserSessions { who, target }),
        3 => (who(), prop::bool::weighted(0.3))
            .prop_map(|(who, wrong)| Op::ChangePassword { who, wrong }),
        2 => who().prop_map(Op::Sessions),
    ]
}

/// `p0`..`p5`: the setup's three posts mostly, so that scripts act on the
/// same posts often; `p3`.. exist once the script creates them.
fn post() -> impl Strategy<Value = u8> {
    prop_oneof![4 => 0u8..3, 1 => 3u8..6]
}

fn published() -> impl Strategy<Value = Option<bool>> {
    prop_oneof![3 => Just(Some(true)), 3 => Just(Some(false)), 1 => Just(None)]
}

fn title_index() -> impl Strategy<Value = u8> {
    0..TITLES.len() as u8
}

/// Page sizes: mostly valid, sometimes out of range (422).
fn limit(invalid: bool) -> BoxedStrategy<i64> {
    let valid = prop_oneof![Just(100i64), Just(1), Just(2), Just(3), Just(10)];
    if invalid {
        prop_oneof![9 => valid, 1 => Just(0i64), 1 => Just(101i64)].boxed()
    } else {
        valid.boxed()
    }
}

fn skip(invalid: bool) -> BoxedStrategy<i64> {
    let valid = prop_oneof![Just(0i64), Just(1), Just(2), Just(4)];
    if invalid {
        prop_oneof![9 => valid, 1 => Just(-1i64)].boxed()
    } else {
        valid.boxed()
    }
}

/// Who changes a role: mostly the admin slot (whose token may still be an
/// admin's), else anyone (403 unless promoted meanwhile).
fn role_changer() -> impl Strategy<Value = Who> {
    prop_oneof![3 => Just(Who::latest(0)), 2 => who()]
}

/// A role change: promotions and demotions of anyone, the admin slot's own
/// included (an admin demoting themself must lose the rights at once).
fn set_role() -> impl Strategy<Value = Op> {
    (role_changer(), 0..SLOTS, any::<bool>()).prop_map(|(who, target, admin)| Op::SetRole {
        who,
        target,
        admin,
    })
}

/// A user deletion: mostly one that succeeds (the user themself, or the
/// admin slot), so that the deleted user's posts, votes and tokens have to
/// go; sometimes anyone (403 unless an admin).
fn delete_user() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..SLOTS).prop_map(|target| Op::DeleteUser { who: Who::latest(target), target }),
        1 => (0..SLOTS).prop_map(|target| Op::DeleteUser { who: Who::latest(0), target }),
        1 => (who(), 0..SLOTS).prop_map(|(who, target)| Op::DeleteUser { who, target }),
    ]
}

/// One operation, weighted towards the ones the access rules are about.
pub fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    prop_oneof![
        12 => (who(), title_index(), published())
            .prop_map(|(who, title, published)| Op::Create { who, title, published }),
        10 => (who(), post(), title_index(), published())
            .prop_map(|(who, post, title, published)| Op::Update { who, post, title, published }),
        14 => (who(), post(), prop::bool::weighted(0.85))
            .prop_map(|(who, post, up)| Op::Vote { who, post, up }),
        3 => who().prop_map(Op::Unvote),
        6 => (who(), post()).prop_map(|(who, post)| Op::Read { who, post }),
        6 => (who(), prop::option::weighted(0.4, 0..SEARCHES.len() as u8), prop::option::weighted(0.3, post()), limit(true), skip(true))
            .prop_map(|(who, search, before, limit, skip)| Op::List { who, search, before, limit, skip }),
        5 => (who(), post()).prop_map(|(who, post)| Op::Delete { who, post }),
        8 => set_role(),
        6 => (slot.clone(), prop::bool::weighted(0.2), prop::bool::weighted(0.2))
            .prop_map(|(slot, wrong, shout)| Op::Login { slot, wrong, shout }),
        4 => who().prop_map(Op::Logout),
        6 => delete_user(),
        3 => (slot.clone(), prop::bool::weighted(0.3))
            .prop_map(|(slot, shout)| Op::Register { slot, shout }),
        3 => (0..ADVANCES.len()).prop_map(|i| Op::Advance(ADVANCES[i])),
        2 => (who(), prop::option::weighted(0.3, 0..SLOTS), limit(false), skip(false))
            .prop_map(|(who, after, limit, skip)| Op::ListUsers { who, after, limit, skip }),
        2 => (who(), slot).prop_map(|(who, target)| Op::GetUser { who, target }),
        2 => who().prop_map(Op::Profile),
        20 => session_op(),
    ]
}

/// Scripts of 0 to `max_len` operations (empty: the setup alone).
pub fn script(max_len: usize) -> impl Strategy<Value = Script> {
    proptest::collection::vec(op(), 0..=max_len).prop_map(Script)
}
