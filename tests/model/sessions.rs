//! The sessions half of the reference model (API.md, "Sessions and
//! accounts"): a login starts a session; its access tokens work while
//! their `exp` has not passed and the session is active; its refresh token
//! rotates, and presenting a spent one ends the session (reuse is theft);
//! logout, logout everywhere, ending a session by id, an admin's kill
//! switch and a password change end sessions; `GET /sessions` lists the
//! active ones, newest first.

use super::ops::{Op, Who, slot_name};
use super::outcome::{Action, AnyToken, Outcome, SessionOut};
use super::reference::{GHOST_SESSION, Model, NANOS, TokenM, UserM, WRONG_PASSWORD, password_of};

/// Refresh token lifetime the tests configure, in seconds (one day, so
/// that scripts reach it with half-day clock steps).
pub const REFRESH_LIFETIME: i64 = 86_400;
/// The `User-Agent` of every login the drivers send.
pub const USER_AGENT: &str = "prop-test/1";

/// A session the model knows, active or ended.
#[derive(Debug, Clone)]
pub struct SessionM {
    /// The application's id.
    pub id: i64,
    /// Its owner.
    pub user: i64,
    /// The login, Unix nanoseconds.
    pub created_at: i128,
    /// The login or the latest refresh, Unix nanoseconds.
    pub last_used_at: i128,
    /// When its current refresh token expires, Unix nanoseconds.
    pub expires_at: i128,
    /// Its current refresh token (every earlier one is spent).
    pub refresh: String,
    /// Not ended (logout, theft, password change, user deleted, ...).
    pub alive: bool,
}

/// The other password of a slot: a change toggles between the two.
pub fn other_password(slot: u8, current: &str) -> String {
    let first = password_of(slot);
    if current == first {
        format!("{first}-changed")
    } else {
        first
    }
}

impl Model {
    /// A session by id.
    pub fn session(&self, id: i64) -> Option<&SessionM> {
        self.sessions.iter().find(|s| s.id == id)
    }

    fn session_mut(&mut self, id: i64) -> Option<&mut SessionM> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    /// Whether session `id` authenticates now.
    pub fn session_active(&self, id: i64) -> bool {
        self.session(id)
            .is_some_and(|s| s.alive && self.now < s.expires_at)
    }

    /// The login or refresh that gave this access token.
    pub fn grant(&self, token: &str) -> Option<&TokenM> {
        self.tokens.iter().flatten().find(|t| t.token == token)
    }

    /// The login or refresh that gave this refresh token.
    fn grant_by_refresh(&self, refresh: &str) -> Option<&TokenM> {
        self.tokens.iter().flatten().find(|t| t.refresh == refresh)
    }

    /// Ends every session of `user` but `keep`.
    pub fn end_sessions(&mut self, user: i64, keep: Option<i64>) {
        for s in &mut self.sessions {
            if s.user == user && Some(s.id) != keep {
                s.alive = false;
            }
        }
    }

    /// Why a refresh token does not refresh, or `None` if it does.
    fn refresh_problem(&self, refresh: &str) -> Option<&'static str> {
        let Some(t) = self.grant_by_refresh(refresh) else {
            return Some("never issued");
        };
        let s = self.session(t.session).expect("a grant's session");
        if !s.alive {
            Some("session ended")
        } else if s.refresh != refresh {
            Some("spent: reuse")
        } else if self.now >= s.expires_at {
            Some("expired")
        } else if self.user(s.user).is_none() {
            Some("user deleted")
        } else {
            None
        }
    }

    /// The refresh token of `who`'s grant, and how the trace names it.
    fn refresher(&self, who: Who) -> (String, String) {
        let name = slot_name(who.slot);
        match self.token_of(who) {
            Some((index, t)) => {
                let n = self.tokens[usize::from(who.slot)].len();
                let state = self.refresh_problem(&t.refresh).unwrap_or("current");
                let text = format!(
                    "{name}[refresh token {}/{n}, session #{}, {state}]",
                    index + 1,
                    t.session
                );
                (t.refresh.clone(), text)
            }
            None => (
                "no-refresh-yet".to_owned(),
                format!("{name}[no refresh token]"),
            ),
        }
    }

    /// Resolves the operations on sessions and accounts.
    pub fn resolve_session_op(&self, op: &Op) -> Option<(Action, String)> {
        Some(match *op {
            Op::Refresh(who) => {
                let (refresh, text) = self.refresher(who);
                (Action::Refresh { refresh }, format!("{text} refresh"))
            }
            Op::RefreshRace(who) => {
                let (refresh, text) = self.refresher(who);
                let text = format!("{text} refresh twice at once");
                (Action::RefreshRace { refresh }, text)
            }
            Op::LogoutAll(who) => {
                let (token, who) = self.actor(who);
                (
                    Action::LogoutAll { token },
                    format!("{who} logout everywhere"),
                )
            }
            Op::EndSession { who, session } => {
                let (token, who) = self.actor(who);
                let id = match self.token_of(session) {
                    Some((_, t)) => t.session,
                    None => GHOST_SESSION + i64::from(session.slot),
                };
                let state = if self.session_active(id) {
                    "active"
                } else {
                    "not active"
                };
                let text = format!("{who} DELETE /sessions/{id} ({state})");
                (Action::EndSession { token, id }, text)
            }
            Op::EndUserSessions { who, target } => {
                let (token, who) = self.actor(who);
                let (id, target) = self.user_ref(target);
                let text = format!("{who} DELETE /users/{target}/sessions");
                (Action::EndUserSessions { token, id }, text)
            }
            Op::ChangePassword { who, wrong } => {
                let (token, text) = self.actor(who);
                let user = self
                    .token_of(who)
                    .and_then(|(_, t)| self.users.iter().find(|u| u.id == t.user));
                let (current, new) = match user {
                    Some(u) => (u.password.clone(), other_password(u.slot, &u.password)),
                    None => (WRONG_PASSWORD.to_owned(), password_of(who.slot)),
                };
                let current = if wrong {
                    WRONG_PASSWORD.to_owned()
                } else {
                    current
                };
                let text = format!(
                    "{text} change password{}",
                    if wrong { " (wrong current one)" } else { "" }
                );
                let action = Action::ChangePassword {
                    token,
                    current,
                    new,
                };
                (action, text)
            }
            Op::Sessions(who) => {
                let (token, who) = self.actor(who);
                (Action::Sessions { token }, format!("{who} GET /sessions"))
            }
            _ => return None,
        })
    }

    /// A successful login's or refresh's answer in session `session`.
    pub fn logged_in(&self, session: i64) -> Outcome {
        Outcome::LoggedIn {
            expires_in: self.lifetime,
            token: AnyToken(String::new()),
            refresh: AnyToken(String::new()),
            refresh_expires_in: REFRESH_LIFETIME,
            session,
        }
    }

    fn predict_refresh(&self, refresh: &str) -> Outcome {
        match self.refresh_problem(refresh) {
            None => {
                let t = self.grant_by_refresh(refresh).expect("a current token");
                self.logged_in(t.session)
            }
            Some(_) => Outcome::BadRefresh,
        }
    }

    /// The outcome of an action on sessions and accounts; `me` is the
    /// authenticated caller of those that need one.
    pub fn predict_session(&self, action: &Action, me: Option<&UserM>) -> Option<Outcome> {
        let me = || me.expect("authenticated");
        Some(match action {
            Action::Refresh { refresh } => self.predict_refresh(refresh),
            Action::RefreshRace { refresh } => match self.predict_refresh(refresh) {
                won @ Outcome::LoggedIn { .. } => Outcome::race(won, Outcome::BadRefresh),
                lost => Outcome::race(lost.clone(), lost),
            },
            Action::LogoutAll { .. } => Outcome::Done,
            Action::EndSession { id, .. } => match self.session(*id) {
                Some(s) if s.user == me().id && self.session_active(*id) => Outcome::Done,
                _ => Outcome::SessionNotFound(*id),
            },
            Action::EndUserSessions { id, .. } => {
                if !me().admin {
                    Outcome::Forbidden
                } else if self.user(*id).is_none() {
                    Outcome::UserNotFound(*id)
                } else {
                    Outcome::Done
                }
            }
            Action::ChangePassword { current, .. } => {
                if *current == me().password {
                    Outcome::Done
                } else {
                    Outcome::WrongPassword
                }
            }
            Action::Sessions { token } => {
                let current = self.grant(token).map(|t| t.session);
                Outcome::Sessions(self.sessions_of(me().id, current))
            }
            _ => return None,
        })
    }

    /// `user`'s active sessions, newest first, as `GET /sessions` shows
    /// them to the bearer of a token of session `current`.
    pub fn sessions_of(&self, user: i64, current: Option<i64>) -> Vec<SessionOut> {
        let mut out: Vec<SessionOut> = self
            .sessions
            .iter()
            .filter(|s| s.user == user && self.session_active(s.id))
            .map(|s| SessionOut {
                id: s.id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
                user_agent: Some(USER_AGENT.to_owned()),
                current: Some(s.id) == current,
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.id));
        out
    }

    /// Records a login's or refresh's tokens for `slot`.
    pub fn add_grant(&mut self, slot: u8, outcome: &Outcome) {
        let Outcome::LoggedIn {
            token,
            refresh,
            session,
            ..
        } = outcome
        else {
            return;
        };
        let now = self.now;
        let expires_at = now + i128::from(REFRESH_LIFETIME) * NANOS;
        let user = self.session(*session).expect("a session").user;
        let s = self.session_mut(*session).expect("a session");
        s.refresh = refresh.0.clone();
        s.last_used_at = now;
        s.expires_at = expires_at;
        let exp = ((now / NANOS) + i128::from(self.lifetime)) as i64;
        self.tokens[usize::from(slot)].push(TokenM {
            token: token.0.clone(),
            refresh: refresh.0.clone(),
            session: *session,
            user,
            exp,
        });
    }

    /// Starts the session a login's `outcome` names, for `user`.
    pub fn start_session(&mut self, user: i64, outcome: &Outcome) {
        if let Outcome::LoggedIn { session, .. } = outcome {
            let now = self.now;
            self.sessions.push(SessionM {
                id: *session,
                user,
                created_at: now,
                last_used_at: now,
                expires_at: now + i128::from(REFRESH_LIFETIME) * NANOS,
                refresh: String::new(),
                alive: true,
            });
        }
    }

    /// A refresh that failed: a spent token ends its session.
    fn refresh_failed(&mut self, refresh: &str) {
        if self.refresh_problem(refresh) == Some("spent: reuse")
            && let Some(id) = self.grant_by_refresh(refresh).map(|t| t.session)
            && let Some(s) = self.session_mut(id)
        {
            s.alive = false;
        }
    }

    /// Applies an action on sessions and accounts whose outcome matched.
    pub fn commit_session(&mut self, action: &Action, outcome: &Outcome, slot: Option<u8>) {
        let caller = action.token().and_then(|t| self.caller(t)).map(|u| u.id);
        let current = action
            .token()
            .and_then(|t| self.grant(t))
            .map(|t| t.session);
        match (action, outcome) {
            (Action::Refresh { .. }, Outcome::LoggedIn { .. }) => {
                self.add_grant(slot.expect("a refresh names a slot"), outcome);
            }
            (Action::Refresh { refresh }, Outcome::BadRefresh) => self.refresh_failed(refresh),
            (Action::RefreshRace { refresh }, Outcome::Raced(both)) => match both.first() {
                Some(won @ Outcome::LoggedIn { session, .. }) => {
                    self.add_grant(slot.expect("a refresh names a slot"), won);
                    // The loser presented a spent token: theft.
                    if let Some(s) = self.session_mut(*session) {
                        s.alive = false;
                    }
                }
                _ => self.refresh_failed(refresh),
            },
            (Action::Logout { .. }, Outcome::Done) => {
                if let Some(s) = current.and_then(|id| self.session_mut(id)) {
                    s.alive = false;
                }
            }
            (Action::LogoutAll { .. }, Outcome::Done) => {
                self.end_sessions(caller.expect("a caller"), None);
            }
            (Action::EndSession { id, .. }, Outcome::Done) => {
                if let Some(s) = self.session_mut(*id) {
                    s.alive = false;
                }
            }
            (Action::EndUserSessions { id, .. }, Outcome::Done) => self.end_sessions(*id, None),
            (Action::ChangePassword { new, .. }, Outcome::Done) => {
                let me = caller.expect("a caller");
                if let Some(u) = self.users.iter_mut().find(|u| u.id == me && u.alive) {
                    u.password = new.clone();
                }
                self.end_sessions(me, current);
            }
            _ => {}
        }
    }
}
