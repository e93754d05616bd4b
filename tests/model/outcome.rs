//! Concrete actions (an operation resolved against the model: real tokens,
//! real ids) and their outcomes, in terms both drivers report and the
//! model predicts.

use std::fmt;

/// A user as every response shows it (`created_at` aside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserOut {
    /// Store-assigned id.
    pub id: i64,
    /// Normalised email.
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
}

/// A post as readers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostOut {
    /// Store-assigned id.
    pub id: i64,
    /// Trimmed title.
    pub title: String,
    /// Content, exactly as sent.
    pub content: String,
    /// `false` for a draft.
    pub published: bool,
    /// Creation time by the injected clock, in Unix nanoseconds.
    pub created_at: i128,
    /// The owner, as stored now.
    pub owner: UserOut,
    /// Votes now.
    pub votes: i64,
}

/// A session as its owner lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOut {
    /// Store-assigned id.
    pub id: i64,
    /// The login, Unix nanoseconds.
    pub created_at: i128,
    /// The login or the latest refresh, Unix nanoseconds.
    pub last_used_at: i128,
    /// When its refresh token expires, Unix nanoseconds.
    pub expires_at: i128,
    /// The login's `User-Agent`.
    pub user_agent: Option<String>,
    /// The session of the token presented.
    pub current: bool,
}

/// A token string, which the model cannot predict: equal to any other.
#[derive(Clone)]
pub struct AnyToken(pub String);

impl PartialEq for AnyToken {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for AnyToken {}

impl fmt::Debug for AnyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<token>")
    }
}

/// What an action did: the success data, or the error variant the
/// contract prescribes (with the ids its message names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200/201 with a `UserOut` (register, profile, read, role change).
    User(UserOut),
    /// 200 with users in ascending id order.
    Users(Vec<UserOut>),
    /// 200 with a bearer token and a refresh token (login or refresh).
    LoggedIn {
        /// `expires_in`, seconds.
        expires_in: i64,
        /// The token (not compared).
        token: AnyToken,
        /// The refresh token (not compared).
        refresh: AnyToken,
        /// `refresh_expires_in`, seconds.
        refresh_expires_in: i64,
        /// The access token's `sid`: a new id on login, the same on refresh.
        session: i64,
    },
    /// 200 with the caller's sessions, newest first.
    Sessions(Vec<SessionOut>),
    /// Two requests sent at once: their outcomes, a success first.
    Raced(Vec<Outcome>),
    /// 401 `Invalid refresh token`.
    BadRefresh,
    /// 403 `Current password is incorrect`.
    WrongPassword,
    /// 404 `Session with id: N does not exist`.
    SessionNotFound(i64),
    /// 200/201 with a post.
    Post(PostOut),
    /// 200 with posts, newest first.
    Posts(Vec<PostOut>),
    /// 204 (logout, post or user deleted).
    Done,
    /// 201 `Successfully added vote`.
    VoteAdded,
    /// 201 `Successfully deleted vote`.
    VoteRemoved,
    /// 401 `Could not validate credentials`.
    BadToken,
    /// 401 `Invalid Credentials`.
    BadCredentials,
    /// 403.
    Forbidden,
    /// 404 `Post with id: N does not exist`.
    PostNotFound(i64),
    /// 404 `User with id: N does not exist`.
    UserNotFound(i64),
    /// 404 `Vote does not exist`.
    VoteNotFound,
    /// 409 `User with email: E already exists`.
    EmailTaken(String),
    /// 409 `Cannot remove the last admin`.
    LastAdmin,
    /// 409 `User U has already voted on post P`.
    AlreadyVoted {
        /// The voter.
        user: i64,
        /// The post.
        post: i64,
    },
    /// 422 naming this field.
    Invalid(String),
    /// Anything the contract does not allow here (status and body).
    Unexpected(String),
}

impl Outcome {
    /// The id of the user, post or session this outcome creates, if any.
    pub fn created_id(&self) -> Option<i64> {
        match self {
            Outcome::User(u) => Some(u.id),
            Outcome::Post(p) => Some(p.id),
            Outcome::LoggedIn { session, .. } => Some(*session),
            _ => None,
        }
    }

    /// The same outcome with the created entity's id replaced by `id`.
    pub fn with_created_id(mut self, id: i64) -> Self {
        match &mut self {
            Outcome::User(u) => u.id = id,
            Outcome::Post(p) => p.id = id,
            Outcome::LoggedIn { session, .. } => *session = id,
            _ => {}
        }
        self
    }

    /// Two outcomes of requests sent at once, in a fixed order (a
    /// success first), so that either order of arrival compares equal.
    pub fn race(a: Outcome, b: Outcome) -> Self {
        let mut both = vec![a, b];
        both.sort_by_key(|o| !matches!(o, Outcome::LoggedIn { .. }));
        Outcome::Raced(both)
    }
}

fn short_post(p: &PostOut) -> String {
    format!(
        "#{} {:?}{} by #{} votes={}",
        p.id,
        p.title,
        if p.published { "" } else { " (draft)" },
        p.owner.id,
        p.votes
    )
}

impl fmt::Display for Outcome {
    /// One line for the trace.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::User(u) => write!(f, "user #{} {} ({})", u.id, u.email, u.role),
            Outcome::Users(us) => {
                let ids: Vec<String> = us.iter().map(|u| format!("#{}", u.id)).collect();
                write!(f, "users [{}]", ids.join(", "))
            }
            Outcome::LoggedIn {
                expires_in,
                session,
                ..
            } => write!(f, "tokens of session #{session} (expires_in {expires_in})"),
            Outcome::Sessions(ss) => {
                let items: Vec<String> = ss
                    .iter()
                    .map(|s| format!("#{}{}", s.id, if s.current { " (current)" } else { "" }))
                    .collect();
                write!(f, "sessions [{}]", items.join(", "))
            }
            Outcome::Raced(all) => {
                let items: Vec<String> = all.iter().map(ToString::to_string).collect();
                write!(f, "at once: [{}]", items.join(" | "))
            }
            Outcome::BadRefresh => f.write_str("401 Invalid refresh token"),
            Outcome::WrongPassword => f.write_str("403 Current password is incorrect"),
            Outcome::SessionNotFound(id) => write!(f, "404 session {id}"),
            Outcome::Post(p) => write!(f, "post {}", short_post(p)),
            Outcome::Posts(ps) => {
                let items: Vec<String> = ps.iter().map(short_post).collect();
                write!(f, "posts [{}]", items.join("; "))
            }
            Outcome::Done => f.write_str("204"),
            Outcome::VoteAdded => f.write_str("vote added"),
            Outcome::VoteRemoved => f.write_str("vote removed"),
            Outcome::BadToken => f.write_str("401 Could not validate credentials"),
            Outcome::BadCredentials => f.write_str("401 Invalid Credentials"),
            Outcome::Forbidden => f.write_str("403"),
            Outcome::PostNotFound(id) => write!(f, "404 post {id}"),
            Outcome::UserNotFound(id) => write!(f, "404 user {id}"),
            Outcome::VoteNotFound => f.write_str("404 vote"),
            Outcome::EmailTaken(e) => write!(f, "409 email {e}"),
            Outcome::LastAdmin => f.write_str("409 last admin"),
            Outcome::AlreadyVoted { user, post } => {
                write!(f, "409 user {user} already voted on {post}")
            }
            Outcome::Invalid(field) => write!(f, "422 {field}"),
            Outcome::Unexpected(what) => write!(f, "UNEXPECTED {what}"),
        }
    }
}

/// An operation resolved to concrete values.
#[derive(Debug, Clone)]
pub enum Action {
    /// `POST /users`.
    Register {
        /// As sent.
        email: String,
        /// As sent.
        password: String,
    },
    /// `POST /login`.
    Login {
        /// As sent.
        email: String,
        /// As sent.
        password: String,
    },
    /// `POST /logout`.
    Logout {
        /// The bearer token.
        token: String,
    },
    /// `POST /login` with the refresh grant.
    Refresh {
        /// The refresh token.
        refresh: String,
    },
    /// Two refresh grants at once with one refresh token.
    RefreshRace {
        /// The refresh token.
        refresh: String,
    },
    /// `POST /logout/all`.
    LogoutAll {
        /// The bearer token.
        token: String,
    },
    /// `DELETE /sessions/{id}`.
    EndSession {
        /// The bearer token.
        token: String,
        /// The session id.
        id: i64,
    },
    /// `DELETE /users/{id}/sessions`.
    EndUserSessions {
        /// The bearer token.
        token: String,
        /// The user id.
        id: i64,
    },
    /// `PUT /users/me/password`.
    ChangePassword {
        /// The bearer token.
        token: String,
        /// `current_password` as sent.
        current: String,
        /// `new_password`.
        new: String,
    },
    /// `GET /sessions`.
    Sessions {
        /// The bearer token.
        token: String,
    },
    /// `GET /profile`.
    Profile {
        /// The bearer token.
        token: String,
    },
    /// `POST /posts`.
    CreatePost {
        /// The bearer token.
        token: String,
        /// As sent.
        title: String,
        /// As sent.
        content: String,
        /// As sent; `None` omits it.
        published: Option<bool>,
    },
    /// `GET /posts/{id}`.
    GetPost {
        /// The bearer token.
        token: String,
        /// The post id.
        id: i64,
    },
    /// `GET /posts`.
    ListPosts {
        /// The bearer token.
        token: String,
        /// `search`, if any.
        search: Option<String>,
        /// `before`, if any.
        before: Option<i64>,
        /// `limit`.
        limit: i64,
        /// `skip`.
        skip: i64,
    },
    /// `PUT /posts/{id}`.
    UpdatePost {
        /// The bearer token.
        token: String,
        /// The post id.
        id: i64,
        /// As sent.
        title: String,
        /// As sent.
        content: String,
        /// As sent; `None` omits it.
        published: Option<bool>,
    },
    /// `DELETE /posts/{id}`.
    DeletePost {
        /// The bearer token.
        token: String,
        /// The post id.
        id: i64,
    },
    /// `POST /vote`.
    Vote {
        /// The bearer token.
        token: String,
        /// The post id.
        id: i64,
        /// `dir` 1 (`true`) or 0.
        up: bool,
    },
    /// `GET /users/{id}`.
    GetUser {
        /// The bearer token.
        token: String,
        /// The user id.
        id: i64,
    },
    /// `GET /users`.
    ListUsers {
        /// The bearer token.
        token: String,
        /// `after`, if any.
        after: Option<i64>,
        /// `limit`.
        limit: i64,
        /// `skip`.
        skip: i64,
    },
    /// `PATCH /users/{id}/role`.
    SetRole {
        /// The bearer token.
        token: String,
        /// The user id.
        id: i64,
        /// `admin` (`true`) or `user`.
        admin: bool,
    },
    /// `DELETE /users/{id}`.
    DeleteUser {
        /// The bearer token.
        token: String,
        /// The user id.
        id: i64,
    },
}

impl Action {
    /// The bearer token this action presents, if any.
    pub fn token(&self) -> Option<&str> {
        match self {
            Action::Register { .. }
            | Action::Login { .. }
            | Action::Refresh { .. }
            | Action::RefreshRace { .. } => None,
            Action::Logout { token }
            | Action::LogoutAll { token }
            | Action::EndSession { token, .. }
            | Action::EndUserSessions { token, .. }
            | Action::ChangePassword { token, .. }
            | Action::Sessions { token }
            | Action::Profile { token }
            | Action::CreatePost { token, .. }
            | Action::GetPost { token, .. }
            | Action::ListPosts { token, .. }
            | Action::UpdatePost { token, .. }
            | Action::DeletePost { token, .. }
            | Action::Vote { token, .. }
            | Action::GetUser { token, .. }
            | Action::ListUsers { token, .. }
            | Action::SetRole { token, .. }
            | Action::DeleteUser { token, .. } => Some(token),
        }
    }
}
