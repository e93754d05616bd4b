//! The model-based property test again, smaller, through HTTP: each script
//! runs against the real server (started in this process on port 0 with a
//! manual clock), and every answer is checked for its status, its exact
//! `{"detail"}` message (with `WWW-Authenticate: Bearer` on 401) and its
//! data against `model::reference`. Memory always; Postgres when
//! `DATABASE_URL` is set.
//!
//! `PROPTEST_CASES` scales it: a tenth of that many scripts on memory and
//! a twentieth on Postgres (default 32 and 16); failures are kept in
//! `proptest-regressions/prop_http-<store>.txt`.

mod model;

use base64::Engine as _;
use model::harness::{self, Driver, Store, build, check_script_property, run_script, with_store};
use model::ops::Script;
use model::outcome::{Action, AnyToken, Outcome, PostOut, SessionOut, UserOut};
use model::sessions::USER_AGENT;
use model::support::{POST_FIELDS, SESSION_FIELDS, USER_FIELDS, http_client};
use posts_api::adapters::clock::ManualClock;
use posts_api::app::{self, RunningApp};
use posts_api::config::StoreKind;
use posts_api::ports::Ports;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Longest script (after the fixed setup).
const MAX_STEPS: usize = 20;

/// Talks HTTP to a running server.
struct HttpDriver {
    base: String,
    client: reqwest::Client,
    ports: Ports,
    clock: ManualClock,
}

/// A whole response.
struct Resp {
    status: u16,
    www_authenticate: Option<String>,
    text: String,
}

impl Resp {
    fn unexpected(&self) -> Outcome {
        Outcome::Unexpected(format!("{} {}", self.status, self.text))
    }
}

/// A JSON value's field, or a description of what is missing.
fn field<'a>(value: &'a Value, name: &str) -> Result<&'a Value, String> {
    value
        .get(name)
        .ok_or_else(|| format!("no `{name}` in {value}"))
}

fn has_exactly(value: &Value, keys: &[&str]) -> Result<(), String> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("not an object: {value}"))?;
    let mut got: Vec<&str> = object.keys().map(String::as_str).collect();
    got.sort_unstable();
    let mut want = keys.to_vec();
    want.sort_unstable();
    if got == want {
        Ok(())
    } else {
        Err(format!("keys {got:?} instead of {want:?} in {value}"))
    }
}

fn int(value: &Value, name: &str) -> Result<i64, String> {
    field(value, name)?
        .as_i64()
        .ok_or_else(|| format!("`{name}` is not an integer in {value}"))
}

fn text(value: &Value, name: &str) -> Result<String, String> {
    Ok(field(value, name)?
        .as_str()
        .ok_or_else(|| format!("`{name}` is not a string in {value}"))?
        .to_owned())
}

/// A `UserOut`, exactly.
fn user_out(value: &Value) -> Result<UserOut, String> {
    has_exactly(value, USER_FIELDS)?;
    OffsetDateTime::parse(&text(value, "created_at")?, &Rfc3339)
        .map_err(|e| format!("created_at is not RFC 3339 ({e}) in {value}"))?;
    Ok(UserOut {
        id: int(value, "id")?,
        email: text(value, "email")?,
        role: text(value, "role")?,
    })
}

/// A `Post`, exactly.
fn post_out(value: &Value) -> Result<PostOut, String> {
    has_exactly(value, POST_FIELDS)?;
    let owner = user_out(field(value, "owner")?)?;
    if int(value, "owner_id")? != owner.id {
        return Err(format!("owner_id is not the owner's id in {value}"));
    }
    let created_at = OffsetDateTime::parse(&text(value, "created_at")?, &Rfc3339)
        .map_err(|e| format!("created_at is not RFC 3339 ({e}) in {value}"))?;
    Ok(PostOut {
        id: int(value, "id")?,
        title: text(value, "title")?,
        content: text(value, "content")?,
        published: field(value, "published")?
            .as_bool()
            .ok_or_else(|| format!("`published` is not a boolean in {value}"))?,
        created_at: created_at.unix_timestamp_nanos(),
        owner,
        votes: int(value, "votes")?,
    })
}

/// A `SessionOut`, exactly.
fn session_out(value: &Value) -> Result<SessionOut, String> {
    has_exactly(value, SESSION_FIELDS)?;
    let time = |name: &str| -> Result<i128, String> {
        OffsetDateTime::parse(&text(value, name)?, &Rfc3339)
            .map(OffsetDateTime::unix_timestamp_nanos)
            .map_err(|e| format!("{name} is not RFC 3339 ({e}) in {value}"))
    };
    Ok(SessionOut {
        id: int(value, "id")?,
        created_at: time("created_at")?,
        last_used_at: time("last_used_at")?,
        expires_at: time("expires_at")?,
        user_agent: field(value, "user_agent")?.as_str().map(str::to_owned),
        current: field(value, "current")?
            .as_bool()
            .ok_or_else(|| format!("`current` is not a boolean in {value}"))?,
    })
}

/// The token answer of a login or refresh, exactly; the session is the
/// access token's `sid` claim.
fn tokens_out(text_body: &str) -> Result<Outcome, String> {
    let body = json_body(text_body)?;
    has_exactly(
        &body,
        &[
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "refresh_expires_in",
        ],
    )?;
    if body["token_type"] != "bearer" {
        return Err(format!("token_type is not bearer: {body}"));
    }
    let token = text(&body, "access_token")?;
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .ok_or_else(|| format!("not a JWT: {token}"))?;
    let session = text(&claims, "sid")?
        .parse()
        .map_err(|e| format!("sid is not an integer ({e}) in {claims}"))?;
    Ok(Outcome::LoggedIn {
        expires_in: int(&body, "expires_in")?,
        token: AnyToken(token),
        refresh: AnyToken(text(&body, "refresh_token")?),
        refresh_expires_in: int(&body, "refresh_expires_in")?,
        session,
    })
}

fn list<T>(value: &Value, item: impl Fn(&Value) -> Result<T, String>) -> Result<Vec<T>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("not a list: {value}"))?
        .iter()
        .map(item)
        .collect()
}

/// `prefix<int>suffix` -> the integer.
fn number_between(detail: &str, prefix: &str, suffix: &str) -> Option<i64> {
    detail
        .strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}

/// An error answer in the contract's shape, as an outcome.
fn error_outcome(resp: &Resp) -> Outcome {
    let Ok(body) = serde_json::from_str::<Value>(&resp.text) else {
        return resp.unexpected();
    };
    if has_exactly(&body, &["detail"]).is_err() {
        return resp.unexpected();
    }
    let Some(detail) = body["detail"].as_str() else {
        return resp.unexpected();
    };
    if resp.status == 401 {
        let bearer = resp
            .www_authenticate
            .as_deref()
            .and_then(|h| h.split_whitespace().next())
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"));
        if !bearer {
            return Outcome::Unexpected(format!("401 without WWW-Authenticate: Bearer: {detail}"));
        }
    }
    match (resp.status, detail) {
        (401, "Could not validate credentials") => Outcome::BadToken,
        (401, "Invalid Credentials") => Outcome::BadCredentials,
        (401, "Invalid refresh token") => Outcome::BadRefresh,
        (403, "Current password is incorrect") => Outcome::WrongPassword,
        (403, "Not authorized to perform requested action") => Outcome::Forbidden,
        (404, "Vote does not exist") => Outcome::VoteNotFound,
        (404, d) => {
            if let Some(id) = number_between(d, "Post with id: ", " does not exist") {
                Outcome::PostNotFound(id)
            } else if let Some(id) = number_between(d, "User with id: ", " does not exist") {
                Outcome::UserNotFound(id)
            } else if let Some(id) = number_between(d, "Session with id: ", " does not exist") {
                Outcome::SessionNotFound(id)
            } else {
                resp.unexpected()
            }
        }
        (409, "Cannot remove the last admin") => Outcome::LastAdmin,
        (409, d) => {
            if let Some(email) = d
                .strip_prefix("User with email: ")
                .and_then(|r| r.strip_suffix(" already exists"))
            {
                return Outcome::EmailTaken(email.to_owned());
            }
            let parsed = d.strip_prefix("User ").and_then(|r| {
                let (user, post) = r.split_once(" has already voted on post ")?;
                Some((user.parse().ok()?, post.parse().ok()?))
            });
            match parsed {
                Some((user, post)) => Outcome::AlreadyVoted { user, post },
                None => resp.unexpected(),
            }
        }
        (422, d) => {
            let named = ["limit", "skip", "title", "content", "email", "password"]
                .into_iter()
                .find(|f| d.contains(f));
            Outcome::Invalid(named.unwrap_or(d).to_owned())
        }
        _ => resp.unexpected(),
    }
}

impl HttpDriver {
    async fn send(&self, request: RequestBuilder) -> Resp {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let www_authenticate = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("a readable body");
        Resp {
            status,
            www_authenticate,
            text,
        }
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends `request`; on `success` parses the body with `parse`, on an
    /// error status reads the `{"detail"}`.
    async fn call(
        &self,
        request: RequestBuilder,
        success: u16,
        parse: impl FnOnce(&str) -> Result<Outcome, String>,
    ) -> Outcome {
        let resp = self.send(request).await;
        if resp.status == success {
            return parse(&resp.text)
                .unwrap_or_else(|e| Outcome::Unexpected(format!("{}: {e}", resp.status)));
        }
        if resp.status >= 400 {
            return error_outcome(&resp);
        }
        resp.unexpected()
    }
}

fn json_body(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text}"))
}

fn empty(text: &str) -> Result<Outcome, String> {
    if text.is_empty() {
        Ok(Outcome::Done)
    } else {
        Err(format!("204 with a body: {text}"))
    }
}

fn post_body(title: &str, content: &str, published: Option<bool>) -> Value {
    let mut body = json!({ "title": title, "content": content });
    if let Some(published) = published {
        body["published"] = json!(published);
    }
    body
}

impl HttpDriver {
    /// The refresh grant, as the OAuth2 form.
    async fn refresh(&self, refresh: &str) -> Outcome {
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        let request = self.request(Method::POST, "/login", None).form(&form);
        self.call(request, 200, tokens_out).await
    }
}

impl Driver for HttpDriver {
    fn ports(&self) -> &Ports {
        &self.ports
    }

    fn clock(&self) -> &ManualClock {
        &self.clock
    }

    fn check_every_token(&self) -> bool {
        false
    }

    async fn exec(&mut self, action: &Action) -> Outcome {
        let token = action.token();
        match action {
            Action::Register { email, password } => {
                let request = self
                    .request(Method::POST, "/users", None)
                    .json(&json!({ "email": email, "password": password }));
                self.call(request, 201, |t| {
                    Ok(Outcome::User(user_out(&json_body(t)?)?))
                })
                .await
            }
            Action::Login { email, password } => {
                let form = [
                    ("username", email.as_str()),
                    ("password", password.as_str()),
                ];
                let request = self
                    .request(Method::POST, "/login", None)
                    .header("user-agent", USER_AGENT)
                    .form(&form);
                self.call(request, 200, tokens_out).await
            }
            Action::Refresh { refresh } => self.refresh(refresh).await,
            Action::RefreshRace { refresh } => {
                let (a, b) = tokio::join!(self.refresh(refresh), self.refresh(refresh));
                Outcome::race(a, b)
            }
            Action::LogoutAll { .. } => {
                let request = self.request(Method::POST, "/logout/all", token);
                self.call(request, 204, empty).await
            }
            Action::EndSession { id, .. } => {
                let request = self.request(Method::DELETE, &format!("/sessions/{id}"), token);
                self.call(request, 204, empty).await
            }
            Action::EndUserSessions { id, .. } => {
                let path = format!("/users/{id}/sessions");
                let request = self.request(Method::DELETE, &path, token);
                self.call(request, 204, empty).await
            }
            Action::ChangePassword { current, new, .. } => {
                let request = self
                    .request(Method::PUT, "/users/me/password", token)
                    .json(&json!({ "current_password": current, "new_password": new }));
                self.call(request, 204, empty).await
            }
            Action::Sessions { .. } => {
                let request = self.request(Method::GET, "/sessions", token);
                self.call(request, 200, |t| {
                    Ok(Outcome::Sessions(list(&json_body(t)?, session_out)?))
                })
                .await
            }
            Action::Logout { .. } => {
                let request = self.request(Method::POST, "/logout", token);
                self.call(request, 204, empty).await
            }
            Action::Profile { .. } => {
                let request = self.request(Method::GET, "/profile", token);
                self.call(request, 200, |t| {
                    let body = json_body(t)?;
                    has_exactly(&body, &["message", "user"])?;
                    let user = user_out(&body["user"])?;
                    if body["message"] != format!("Welcome {}", user.email) {
                        return Err(format!("wrong welcome: {body}"));
                    }
                    Ok(Outcome::User(user))
                })
                .await
            }
            Action::CreatePost {
                title,
                content,
                published,
                ..
            } => {
                let request = self
                    .request(Method::POST, "/posts", token)
                    .json(&post_body(title, content, *published));
                self.call(request, 201, |t| {
                    Ok(Outcome::Post(post_out(&json_body(t)?)?))
                })
                .await
            }
            Action::GetPost { id, .. } => {
                let request = self.request(Method::GET, &format!("/posts/{id}"), token);
                self.call(request, 200, |t| {
                    Ok(Outcome::Post(post_out(&json_body(t)?)?))
                })
                .await
            }
            Action::ListPosts {
                search,
                before,
                limit,
                skip,
                ..
            } => {
                let mut query = vec![("limit", limit.to_string()), ("skip", skip.to_string())];
                if let Some(search) = search {
                    query.push(("search", search.clone()));
                }
                if let Some(before) = before {
                    query.push(("before", before.to_string()));
                }
                let request = self.request(Method::GET, "/posts", token).query(&query);
                self.call(request, 200, |t| {
                    Ok(Outcome::Posts(list(&json_body(t)?, post_out)?))
                })
                .await
            }
            Action::UpdatePost {
                id,
                title,
                content,
                published,
                ..
            } => {
                let request = self
                    .request(Method::PUT, &format!("/posts/{id}"), token)
                    .json(&post_body(title, content, *published));
                self.call(request, 200, |t| {
                    Ok(Outcome::Post(post_out(&json_body(t)?)?))
                })
                .await
            }
            Action::DeletePost { id, .. } => {
                let request = self.request(Method::DELETE, &format!("/posts/{id}"), token);
                self.call(request, 204, empty).await
            }
            Action::Vote { id, up, .. } => {
                let request = self
                    .request(Method::POST, "/vote", token)
                    .json(&json!({ "post_id": id, "dir": i32::from(*up) }));
                self.call(request, 201, |t| {
                    let body = json_body(t)?;
                    has_exactly(&body, &["message"])?;
                    match body["message"].as_str() {
                        Some("Successfully added vote") => Ok(Outcome::VoteAdded),
                        Some("Successfully deleted vote") => Ok(Outcome::VoteRemoved),
                        _ => Err(format!("unknown vote message: {body}")),
                    }
                })
                .await
            }
            Action::GetUser { id, .. } => {
                let request = self.request(Method::GET, &format!("/users/{id}"), token);
                self.call(request, 200, |t| {
                    Ok(Outcome::User(user_out(&json_body(t)?)?))
                })
                .await
            }
            Action::ListUsers {
                after, limit, skip, ..
            } => {
                let mut query = vec![("limit", limit.to_string()), ("skip", skip.to_string())];
                if let Some(after) = after {
                    query.push(("after", after.to_string()));
                }
                let request = self.request(Method::GET, "/users", token).query(&query);
                self.call(request, 200, |t| {
                    Ok(Outcome::Users(list(&json_body(t)?, user_out)?))
                })
                .await
            }
            Action::SetRole { id, admin, .. } => {
                let role = if *admin { "admin" } else { "user" };
                let request = self
                    .request(Method::PATCH, &format!("/users/{id}/role"), token)
                    .json(&json!({ "role": role }));
                self.call(request, 200, |t| {
                    Ok(Outcome::User(user_out(&json_body(t)?)?))
                })
                .await
            }
            Action::DeleteUser { id, .. } => {
                let request = self.request(Method::DELETE, &format!("/users/{id}"), token);
                self.call(request, 204, empty).await
            }
        }
    }
}

/// Runs one script against a freshly started server.
fn run_one(
    rt: &tokio::runtime::Runtime,
    store: &Store,
    client: &reqwest::Client,
    script: &Script,
) -> Result<(), String> {
    rt.block_on(async {
        let clock = harness::whole_second_clock();
        let config = harness::config(store);
        let (service, ports) = build(store, &config, &clock).await;
        let running: RunningApp = app::start_with(&config, service)
            .await
            .unwrap_or_else(|e| panic!("the server did not start: {e}"));
        let mut driver = HttpDriver {
            base: format!("http://{}", running.addr()),
            client: client.clone(),
            ports,
            clock,
        };
        let result = run_script(&mut driver, script).await;
        running.stop().await.expect("the server stops cleanly");
        result
    })
}

fn model_based_http(kind: StoreKind, default_cases: u32, divisor: u32) {
    // No redirects: the driver reads each answer as the model predicts it.
    let client = http_client(reqwest::redirect::Policy::none());
    with_store(kind, |rt, store| {
        check_script_property(
            &format!("prop_http on {}", store.name()),
            MAX_STEPS,
            harness::scaled_cases(default_cases, divisor),
            match store {
                Store::Memory => "proptest-regressions/prop_http-memory.txt",
                Store::Postgres(_) => "proptest-regressions/prop_http-postgres.txt",
            },
            |s| run_one(rt, store, &client, s),
        );
    });
}

#[test]
fn http_follows_the_model_on_memory() {
    model_based_http(StoreKind::Memory, 32, 10);
}

#[test]
fn http_follows_the_model_on_postgres() {
    model_based_http(StoreKind::Postgres, 16, 20);
}
