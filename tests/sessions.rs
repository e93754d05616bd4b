//! Sessions and accounts through HTTP (API.md, "Sessions and accounts"):
//! the refresh grant (rotation, reuse as theft, one winner, expiry), the
//! grant types, `GET /users/me`, `GET /sessions`, ending sessions (one,
//! logout, everywhere, an admin's kill switch), password changes and their
//! throttling, the `sid` claim, and instances sharing the store; each on
//! both stores.

mod common;

use common::*;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

store_tests! {
    login_answers_a_refresh_token,
    refresh_lifetime_is_configurable with |c| c.refresh_token_expire_days = 1,
    access_tokens_die_with_their_expired_session with |c| {
        c.refresh_token_expire_days = 1;
        c.access_token_expire_minutes = 3 * 24 * 60;
    },
    refresh_grant_as_form_issues_new_tokens_in_the_same_session,
    refresh_grant_as_json_issues_new_tokens_in_the_same_session,
    reusing_a_spent_refresh_token_ends_the_session,
    concurrent_refreshes_with_one_token_have_one_winner,
    unknown_and_empty_refresh_tokens_are_invalid,
    refresh_tokens_of_ended_sessions_are_invalid,
    refresh_token_expires_and_a_refresh_moves_the_expiry,
    grant_types_other_than_password_and_refresh_are_unsupported,
    grants_missing_their_fields_are_unprocessable,
    refresh_reads_the_user_now,
    users_me_is_the_caller,
    sessions_lists_the_caller_s_active_sessions_newest_first,
    sessions_keep_the_login_s_user_agent,
    sessions_last_used_at_moves_on_refresh,
    delete_session_ends_that_session_only,
    delete_session_of_anything_but_an_own_active_session_is_404,
    delete_session_validates_its_id_after_the_token,
    logout_ends_the_current_session_with_its_refresh_token,
    logout_all_ends_every_session_of_the_caller,
    admin_ends_every_session_of_a_user,
    change_password_keeps_the_current_session_only,
    change_password_rejects_wrong_or_invalid_passwords,
    change_password_failures_are_throttled_like_logins,
    an_ended_session_s_token_is_refused_before_its_request,
    token_sid_must_name_an_active_session_of_its_user,
    sessions_end_on_every_instance_sharing_the_store,
    concurrent_refreshes_on_two_instances_have_one_winner,
}

/// The tokens of the one refresh of `answers` that succeeded; every other
/// is 401 "Invalid refresh token".
fn one_winner(answers: &[Resp], round: usize) -> Tokens {
    let winners: Vec<&Resp> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "round {round}: {:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != 200) {
        r.assert_error(401, INVALID_REFRESH);
    }
    Tokens::of(&winners[0].json_status(200))
}

/// The refresh grant's answer for a spent, unknown or ended token.
const INVALID_REFRESH: &str = "Invalid refresh token";
/// 14 days in seconds, the default refresh lifetime.
const FOURTEEN_DAYS: i64 = 14 * 24 * 3600;

/// An access token and refresh token, as a login or refresh answered them.
#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
}

impl Tokens {
    /// The tokens of a 200 token answer, checking its shape.
    #[track_caller]
    fn of(body: &Value) -> Self {
        assert_eq!(
            keys(body),
            set(&[
                "access_token",
                "token_type",
                "expires_in",
                "refresh_token",
                "refresh_expires_in"
            ]),
            "{body}"
        );
        assert_eq!(body["token_type"], "bearer", "{body}");
        let access = body["access_token"].as_str().expect("access_token");
        let refresh = body["refresh_token"].as_str().expect("refresh_token");
        Self {
            access: access.to_owned(),
            refresh: refresh.to_owned(),
        }
    }

    /// The `sid` claim of the access token.
    fn sid(&self) -> i64 {
        sid_of(&self.access)
    }
}

/// A token's `sid` claim as a number.
#[track_caller]
fn sid_of(token: &str) -> i64 {
    let claims = decode_unverified(token).1;
    claims["sid"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no decimal sid in {claims}"))
}

/// A timestamp of a JSON answer.
#[track_caller]
fn ts(value: &Value) -> OffsetDateTime {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

/// Logs in with the form (must succeed); both tokens.
async fn login_tokens(app: &TestApp, email: &str, password: &str) -> Tokens {
    let body = app.login(email, password).await.json_status(200);
    Tokens::of(&body)
}

/// Logs in with the form and a `User-Agent` (must succeed); both tokens.
async fn login_with_agent(app: &TestApp, user: &TestUser, agent: &str) -> Tokens {
    let form = [("username", user.email.as_str()), ("password", PASSWORD)];
    let request = app
        .request(Method::POST, "/login")
        .header("User-Agent", agent)
        .form(&form);
    Tokens::of(&app.send(request).await.json_status(200))
}

/// The refresh grant as a form request.
fn refresh_request(app: &TestApp, refresh: &str) -> reqwest::RequestBuilder {
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    app.request(Method::POST, "/login").form(&form)
}

/// The refresh grant as a form.
async fn refresh(app: &TestApp, refresh: &str) -> Resp {
    app.send(refresh_request(app, refresh)).await
}

/// The refresh grant as JSON.
async fn refresh_json(app: &TestApp, refresh: &str) -> Resp {
    let body = json!({ "grant_type": "refresh_token", "refresh_token": refresh });
    app.send(app.request(Method::POST, "/login").json(&body))
        .await
}

/// The refresh grant (form), which must succeed; the new tokens.
async fn refresh_ok(app: &TestApp, token: &str) -> Tokens {
    Tokens::of(&refresh(app, token).await.json_status(200))
}

/// Asserts that `tokens` no longer work: the access token gets 401 "Could
/// not validate credentials" and the refresh token "Invalid refresh token".
async fn assert_dead(app: &TestApp, tokens: &Tokens) {
    app.get("/profile", &tokens.access)
        .await
        .assert_error(401, BAD_TOKEN);
    refresh(app, &tokens.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
}

/// Asserts that an access token works.
async fn assert_access(app: &TestApp, access: &str) {
    app.get("/profile", access).await.assert_status(200);
}

/// `GET /sessions` (must succeed), each checked for its shape.
async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let list = app.get("/sessions", token).await.json_status(200);
    let list = list
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .clone();
    for s in &list {
        assert_eq!(
            keys(s),
            set(common::support::SESSION_FIELDS),
            "SessionOut: {s}"
        );
        assert!(s["id"].as_i64().is_some_and(|id| id > 0), "{s}");
        for field in ["created_at", "last_used_at", "expires_at"] {
            assert_timestamp(&s[field]);
        }
        assert!(s["current"].is_boolean(), "{s}");
        assert!(
            s["user_agent"].is_null() || s["user_agent"].is_string(),
            "{s}"
        );
    }
    list
}

/// `POST path` with only a bearer token.
async fn post_empty(app: &TestApp, path: &str, token: &str) -> Resp {
    app.send(app.request(Method::POST, path).bearer_auth(token))
        .await
}

/// `PUT /users/me/password`.
async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> Resp {
    let body = json!({ "current_password": current, "new_password": new });
    app.put_json("/users/me/password", token, &body).await
}

async fn login_answers_a_refresh_token(app: TestApp) {
    let user = app.user("ann").await;
    let body = app.login(&user.email, PASSWORD).await.json_status(200);
    let first = Tokens::of(&body);
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(body["refresh_expires_in"], FOURTEEN_DAYS);
    assert!(first.refresh.len() >= 22, "128 bits: {}", first.refresh);
    assert!(
        first
            .refresh
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "base64url: {}",
        first.refresh
    );
    assert_ne!(first.refresh, first.access);
    // The JSON login answers the same shape; every login its own token
    // and its own session.
    let body = app.login_json(&user.email, PASSWORD).await.json_status(200);
    let second = Tokens::of(&body);
    assert_eq!(body["refresh_expires_in"], FOURTEEN_DAYS);
    assert_ne!(first.refresh, second.refresh);
    assert_ne!(first.sid(), second.sid());
    assert_ne!(first.sid(), sid_of(&user.token));
}

async fn refresh_lifetime_is_configurable(app: TestApp) {
    let user = app.user("bea").await;
    let body = app.login(&user.email, PASSWORD).await.json_status(200);
    assert_eq!(body["refresh_expires_in"], 24 * 3600);
    let tokens = Tokens::of(&body);
    let listed = sessions(&app, &tokens.access).await;
    let mine = listed
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session");
    assert_eq!(
        ts(&mine["expires_at"]),
        app.clock_now() + time::Duration::days(1)
    );
    let body = refresh(&app, &tokens.refresh).await.json_status(200);
    assert_eq!(body["refresh_expires_in"], 24 * 3600);
    let next = Tokens::of(&body);
    app.clock.advance(time::Duration::days(1));
    refresh(&app, &next.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
}

async fn access_tokens_die_with_their_expired_session(app: TestApp) {
    // Access tokens that outlive their session's refresh token: valid only
    // while the session is active, whatever their own `exp`.
    let user = app.user("bess").await;
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    app.clock.advance(time::Duration::hours(20));
    let next = refresh_ok(&app, &t.refresh).await;
    app.clock.advance(time::Duration::hours(4));
    // The first session (of `user()`) expired now, the refreshed one not.
    app.get("/profile", &user.token)
        .await
        .assert_error(401, BAD_TOKEN);
    assert_access(&app, &t.access).await;
    assert_access(&app, &next.access).await;
    app.clock.advance(time::Duration::hours(20));
    for token in [&t.access, &next.access] {
        app.get("/profile", token)
            .await
            .assert_error(401, BAD_TOKEN);
    }
    refresh(&app, &next.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
}

/// Checks a refresh answered by `send`: new tokens in the same session,
/// the new access token works, so does the old one, and the presented
/// refresh token is spent.
async fn check_refresh_rotates(app: &TestApp, json_body: bool) {
    let user = app.user("cleo").await;
    let first = login_tokens(app, &user.email, PASSWORD).await;
    let r = if json_body {
        refresh_json(app, &first.refresh).await
    } else {
        refresh(app, &first.refresh).await
    };
    let body = r.json_status(200);
    let next = Tokens::of(&body);
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(body["refresh_expires_in"], FOURTEEN_DAYS);
    assert_ne!(next.access, first.access);
    assert_ne!(next.refresh, first.refresh);
    assert!(next.refresh.len() >= 22, "{}", next.refresh);
    assert_eq!(next.sid(), first.sid(), "the same session");
    let claims = decode_unverified(&next.access).1;
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["exp"], app.now() + 1800);
    let profile = app.get("/profile", &next.access).await.json_status(200);
    assert_eq!(profile["user"]["id"], user.id);
    // The old access token is of the same session: it works until it expires.
    assert_access(app, &first.access).await;
    // The new refresh token works in turn.
    let third = refresh_ok(app, &next.refresh).await;
    assert_eq!(third.sid(), first.sid());
    for token in [&first.access, &next.access, &third.access] {
        assert_access(app, token).await;
    }
    // Still a single session.
    let listed = sessions(app, &third.access).await;
    let ids: Vec<i64> = listed.iter().map(id_of).collect();
    assert_eq!(ids, [first.sid(), sid_of(&user.token)]);
}

async fn refresh_grant_as_form_issues_new_tokens_in_the_same_session(app: TestApp) {
    check_refresh_rotates(&app, false).await;
}

async fn refresh_grant_as_json_issues_new_tokens_in_the_same_session(app: TestApp) {
    check_refresh_rotates(&app, true).await;
}

async fn reusing_a_spent_refresh_token_ends_the_session(app: TestApp) {
    let user = app.user("dina").await;
    let other = login_tokens(&app, &user.email, PASSWORD).await;
    let first = login_tokens(&app, &user.email, PASSWORD).await;
    let next = refresh_ok(&app, &first.refresh).await;
    assert_access(&app, &next.access).await;
    // The thief (or the victim) presents the spent token: 401, and the
    // session ends for everybody.
    refresh(&app, &first.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
    assert_dead(&app, &next).await;
    app.get("/profile", &first.access)
        .await
        .assert_error(401, BAD_TOKEN);
    refresh(&app, &first.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
    // Only that session: the user's others live on.
    assert_access(&app, &other.access).await;
    assert_access(&app, &user.token).await;
    let listed = sessions(&app, &other.access).await;
    assert!(
        listed.iter().all(|s| id_of(s) != first.sid()),
        "the ended session is not listed: {listed:?}"
    );
    let still = refresh_ok(&app, &other.refresh).await;
    assert_access(&app, &still.access).await;

    // Reuse of an older token (two rotations back) ends it too.
    let a = login_tokens(&app, &user.email, PASSWORD).await;
    let b = refresh_ok(&app, &a.refresh).await;
    let c = refresh_ok(&app, &b.refresh).await;
    refresh_json(&app, &a.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
    assert_dead(&app, &c).await;
}

async fn concurrent_refreshes_with_one_token_have_one_winner(app: TestApp) {
    let user = app.user("edna").await;
    for round in 0..3 {
        let tokens = login_tokens(&app, &user.email, PASSWORD).await;
        let requests = (0..10)
            .map(|_| refresh_request(&app, &tokens.refresh))
            .collect();
        let won = one_winner(&app.send_concurrently(requests).await, round);
        // The others counted as reuse: the session ended, with the
        // winner's new tokens.
        assert_eq!(won.sid(), tokens.sid());
        assert_dead(&app, &won).await;
        assert_dead(&app, &tokens).await;
        assert_access(&app, &user.token).await;
    }
}

async fn unknown_and_empty_refresh_tokens_are_invalid(app: TestApp) {
    let user = app.user("fay").await;
    let tokens = login_tokens(&app, &user.email, PASSWORD).await;
    let unknown = "A".repeat(43);
    let padded = format!("{} ", tokens.refresh);
    let upper = tokens.refresh.to_uppercase();
    let mut altered = tokens.refresh.clone();
    let last = if altered.ends_with('A') { "B" } else { "A" };
    altered.replace_range(altered.len() - 1.., last);
    for token in [
        unknown.as_str(),
        "",
        " ",
        "not-a-token",
        altered.as_str(),
        tokens.access.as_str(),
        padded.as_str(),
        upper.as_str(),
    ] {
        let r = refresh(&app, token).await;
        assert_eq!(r.error_detail(401), INVALID_REFRESH, "form {token:?}");
        let r = refresh_json(&app, token).await;
        assert_eq!(r.error_detail(401), INVALID_REFRESH, "JSON {token:?}");
    }
    // None of those touched the real session.
    let next = refresh_ok(&app, &tokens.refresh).await;
    assert_access(&app, &next.access).await;
    assert_access(&app, &tokens.access).await;
}

async fn refresh_tokens_of_ended_sessions_are_invalid(app: TestApp) {
    let admin = app.admin().await;
    let user = app.user("gail").await;

    // POST /logout.
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    post_empty(&app, "/logout", &t.access)
        .await
        .assert_status(204);
    assert_dead(&app, &t).await;

    // DELETE /sessions/{id}, from another session of the user.
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    app.delete(&format!("/sessions/{}", t.sid()), &user.token)
        .await
        .assert_status(204);
    assert_dead(&app, &t).await;

    // After a refresh, the ended session's newest token is dead too.
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    let t = refresh_ok(&app, &t.refresh).await;
    app.delete(&format!("/sessions/{}", t.sid()), &user.token)
        .await
        .assert_status(204);
    assert_dead(&app, &t).await;

    // An admin's kill switch.
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    app.delete(&format!("/users/{}/sessions", user.id), &admin.token)
        .await
        .assert_status(204);
    assert_dead(&app, &t).await;

    // POST /logout/all.
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    let u = login_tokens(&app, &user.email, PASSWORD).await;
    post_empty(&app, "/logout/all", &u.access)
        .await
        .assert_status(204);
    assert_dead(&app, &t).await;
    assert_dead(&app, &u).await;

    // The user deleted.
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    let u = refresh_ok(&app, &t.refresh).await;
    app.delete(&format!("/users/{}", user.id), &u.access)
        .await
        .assert_status(204);
    assert_dead(&app, &u).await;
    refresh(&app, &t.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
    // Registered again, the email is a new user whose old tokens stay dead.
    app.register_ok(&user.email, PASSWORD).await;
    assert_dead(&app, &u).await;
    assert_access(&app, &admin.token).await;
}

async fn refresh_token_expires_and_a_refresh_moves_the_expiry(app: TestApp) {
    let user = app.user("hana").await;
    let login_time = app.clock_now();
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    let listed = sessions(&app, &t.access).await;
    assert_eq!(
        ts(&listed[0]["expires_at"]),
        login_time + time::Duration::days(14)
    );
    // Just before expiry a refresh works, and moves the expiry 14 days on.
    app.clock
        .advance(time::Duration::seconds(FOURTEEN_DAYS - 1));
    let refreshed_at = app.clock_now();
    let next = refresh_ok(&app, &t.refresh).await;
    let listed = sessions(&app, &next.access).await;
    let mine = listed
        .iter()
        .find(|s| id_of(s) == t.sid())
        .expect("the session goes on");
    assert_eq!(mine["current"], true);
    assert_eq!(ts(&mine["created_at"]), login_time);
    assert_eq!(ts(&mine["last_used_at"]), refreshed_at);
    assert_eq!(
        ts(&mine["expires_at"]),
        refreshed_at + time::Duration::days(14)
    );
    // The user's other session (from `user()`, never refreshed) has
    // expired meanwhile: past 14 days it is gone from the list.
    app.clock.advance(time::Duration::seconds(1));
    let listed = sessions(&app, &next.access).await;
    assert_eq!(
        listed.iter().map(id_of).collect::<Vec<_>>(),
        [t.sid()],
        "only the refreshed session is active"
    );
    // Idle for 14 days: the refresh token expires, exactly.
    app.clock
        .advance(time::Duration::seconds(FOURTEEN_DAYS - 2));
    let last = refresh_ok(&app, &next.refresh).await;
    app.clock.advance(time::Duration::days(14));
    refresh(&app, &last.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
    app.clock.advance(time::Duration::days(30));
    refresh_json(&app, &last.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
    // A new login is a new session.
    let again = login_tokens(&app, &user.email, PASSWORD).await;
    assert_ne!(again.sid(), t.sid());
    assert_access(&app, &again.access).await;
}

async fn grant_types_other_than_password_and_refresh_are_unsupported(app: TestApp) {
    let user = app.user("ida").await;
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    // Absent or `password`: the password login.
    for grant in [None, Some("password")] {
        let mut form = vec![("username", user.email.as_str()), ("password", PASSWORD)];
        form.extend(grant.map(|g| ("grant_type", g)));
        let r = app
            .send(app.request(Method::POST, "/login").form(&form))
            .await;
        Tokens::of(&r.json_status(200));
        let mut body = json!({ "username": user.email, "password": PASSWORD });
        if let Some(g) = grant {
            body["grant_type"] = json!(g);
        }
        let r = app
            .send(app.request(Method::POST, "/login").json(&body))
            .await;
        Tokens::of(&r.json_status(200));
    }
    // Any other value, the empty one included (API.md: "any other value").
    for grant in [
        "",
        "client_credentials",
        "authorization_code",
        "REFRESH_TOKEN",
        "Password",
        "refresh-token",
        "implicit",
    ] {
        // With fields for both grants, so that only the type is wrong.
        let form = [
            ("grant_type", grant),
            ("username", user.email.as_str()),
            ("password", PASSWORD),
            ("refresh_token", t.refresh.as_str()),
        ];
        let r = app
            .send(app.request(Method::POST, "/login").form(&form))
            .await;
        assert_eq!(
            r.error_detail(400),
            "Unsupported grant type",
            "form {grant:?}"
        );
        let body = json!({
            "grant_type": grant,
            "username": user.email,
            "password": PASSWORD,
            "refresh_token": t.refresh,
        });
        let r = app
            .send(app.request(Method::POST, "/login").json(&body))
            .await;
        assert_eq!(
            r.error_detail(400),
            "Unsupported grant type",
            "JSON {grant:?}"
        );
    }
    // The refresh token was not spent by any of those.
    refresh_ok(&app, &t.refresh).await;
}

async fn grants_missing_their_fields_are_unprocessable(app: TestApp) {
    let user = app.user("jill").await;
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    let form = |fields: &[(&str, &str)]| {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        app.request(Method::POST, "/login").form(&fields)
    };
    let json_req = |body: Value| app.request(Method::POST, "/login").json(&body);

    // The refresh grant without its token.
    app.send(form(&[("grant_type", "refresh_token")]))
        .await
        .assert_invalid("refresh_token");
    app.send(form(&[
        ("grant_type", "refresh_token"),
        ("username", &user.email),
        ("password", PASSWORD),
    ]))
    .await
    .assert_invalid("refresh_token");
    app.send(json_req(json!({ "grant_type": "refresh_token" })))
        .await
        .assert_invalid("refresh_token");
    app.send(json_req(
        json!({ "grant_type": "refresh_token", "refresh_token": null }),
    ))
    .await
    .assert_invalid("refresh_token");
    // A refresh token of the wrong JSON type.
    app.send(json_req(
        json!({ "grant_type": "refresh_token", "refresh_token": 12345 }),
    ))
    .await
    .assert_invalid("refresh_token");

    // The password grant without its password (a refresh token does not
    // stand in for it), or without its username.
    app.send(form(&[("username", &user.email)]))
        .await
        .assert_invalid("password");
    app.send(form(&[
        ("grant_type", "password"),
        ("username", &user.email),
        ("refresh_token", &t.refresh),
    ]))
    .await
    .assert_invalid("password");
    app.send(json_req(json!({ "username": user.email })))
        .await
        .assert_invalid("password");
    app.send(form(&[("password", PASSWORD)]))
        .await
        .assert_invalid("username");
    app.send(json_req(json!({ "refresh_token": t.refresh })))
        .await
        .assert_invalid("username");
    // None of those spent the refresh token.
    refresh_ok(&app, &t.refresh).await;
}

async fn refresh_reads_the_user_now(app: TestApp) {
    let admin = app.admin().await;
    let user = app.user("kate").await;
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    app.get("/users", &t.access)
        .await
        .assert_error(403, FORBIDDEN);
    app.patch_json(
        &format!("/users/{}/role", user.id),
        &admin.token,
        &json!({ "role": "admin" }),
    )
    .await
    .assert_status(200);
    // The old access token has the new role at once; a refresh just works.
    app.get("/users", &t.access).await.assert_status(200);
    let next = refresh_ok(&app, &t.refresh).await;
    app.get("/users", &next.access).await.assert_status(200);
    let me = app.get("/users/me", &next.access).await.json_status(200);
    assert_eq!(me["role"], "admin");
    app.patch_json(
        &format!("/users/{}/role", user.id),
        &admin.token,
        &json!({ "role": "user" }),
    )
    .await
    .assert_status(200);
    app.get("/users", &next.access)
        .await
        .assert_error(403, FORBIDDEN);
    let last = refresh_ok(&app, &next.refresh).await;
    app.get("/users", &last.access)
        .await
        .assert_error(403, FORBIDDEN);
    // Deleted: the refresh token is invalid.
    app.delete(&format!("/users/{}", user.id), &admin.token)
        .await
        .assert_status(204);
    refresh(&app, &last.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
}

async fn users_me_is_the_caller(app: TestApp) {
    let user = app.user("lena").await;
    let other = app.user("lola").await;
    let me = app.get("/users/me", &user.token).await.json_status(200);
    assert_user_out(&me);
    assert_eq!(me["id"], user.id);
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["role"], "user");
    assert_eq!(
        me,
        app.get(&format!("/users/{}", user.id), &other.token)
            .await
            .json_status(200)
    );
    let them = app.get("/users/me/", &other.token).await.json_status(200);
    assert_eq!(them["id"], other.id);
    let admin = app.admin().await;
    let me = app.get("/users/me", &admin.token).await.json_status(200);
    assert_eq!(
        (me["id"].as_i64(), &me["role"]),
        (Some(admin.id), &json!("admin"))
    );
    app.get_anon("/users/me")
        .await
        .assert_error(401, NOT_AUTHENTICATED);
    app.get("/users/me", "not-a-token")
        .await
        .assert_error(401, BAD_TOKEN);
    post_empty(&app, "/logout", &user.token)
        .await
        .assert_status(204);
    app.get("/users/me", &user.token)
        .await
        .assert_error(401, BAD_TOKEN);
}

async fn sessions_lists_the_caller_s_active_sessions_newest_first(app: TestApp) {
    let user = app.user("mia").await;
    let other = app.user("max").await;
    let first_sid = sid_of(&user.token);
    let second = login_tokens(&app, &user.email, PASSWORD).await;
    app.clock.advance(time::Duration::seconds(5));
    let third = login_tokens(&app, &user.email, PASSWORD).await;
    let _others = login_tokens(&app, &other.email, PASSWORD).await;

    let listed = sessions(&app, &second.access).await;
    let ids: Vec<i64> = listed.iter().map(id_of).collect();
    assert_eq!(ids, [third.sid(), second.sid(), first_sid], "newest first");
    let current: Vec<i64> = listed
        .iter()
        .filter(|s| s["current"] == true)
        .map(id_of)
        .collect();
    assert_eq!(current, [second.sid()], "current: {listed:?}");
    for s in &listed {
        assert_eq!(s["created_at"], s["last_used_at"], "never refreshed: {s}");
        assert_eq!(
            ts(&s["expires_at"]),
            ts(&s["created_at"]) + time::Duration::days(14)
        );
    }
    assert_eq!(ts(&listed[0]["created_at"]), app.clock_now());
    // Another token of the same session is current too; other sessions' not.
    let current_of = |list: &[Value]| -> Vec<i64> {
        list.iter()
            .filter(|s| s["current"] == true)
            .map(id_of)
            .collect()
    };
    let mut claims = app.claims(user.id);
    claims["sid"] = json!(third.sid().to_string());
    let forged = app.forge(&claims);
    assert_eq!(current_of(&sessions(&app, &forged).await), [third.sid()]);
    assert_eq!(current_of(&sessions(&app, &user.token).await), [first_sid]);
    // Another user's sessions never appear, nor theirs here.
    let theirs = sessions(&app, &other.token).await;
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    assert!(
        theirs.iter().all(|s| !ids.contains(&id_of(s))),
        "{theirs:?}"
    );
    // Ended sessions are not listed.
    app.delete(&format!("/sessions/{}", third.sid()), &user.token)
        .await
        .assert_status(204);
    let ids: Vec<i64> = sessions(&app, &second.access)
        .await
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, [second.sid(), first_sid]);
    app.get_anon("/sessions")
        .await
        .assert_error(401, NOT_AUTHENTICATED);
    app.get("/sessions", &third.access)
        .await
        .assert_error(401, BAD_TOKEN);
}

async fn sessions_keep_the_login_s_user_agent(app: TestApp) {
    let user = app.user("nora").await;
    let long = format!("Mozilla/5.0 {}", "x".repeat(300));
    let cut: String = long.chars().take(256).collect();
    let short = "curl/8.5.0";
    let a = login_with_agent(&app, &user, &long).await;
    let b = login_with_agent(&app, &user, short).await;
    let exact: String = "y".repeat(256);
    let c = login_with_agent(&app, &user, &exact).await;
    let listed = sessions(&app, &a.access).await;
    let agent_of = |sid: i64| -> Value {
        listed
            .iter()
            .find(|s| id_of(s) == sid)
            .map(|s| s["user_agent"].clone())
            .unwrap_or_else(|| panic!("session {sid} in {listed:?}"))
    };
    assert_eq!(agent_of(a.sid()), json!(cut));
    assert_eq!(agent_of(b.sid()), json!(short));
    assert_eq!(agent_of(c.sid()), json!(exact));
    // The test client sends no User-Agent: null.
    assert_eq!(agent_of(sid_of(&user.token)), Value::Null);
    // A refresh keeps the login's agent, whatever it sends.
    let request = refresh_request(&app, &b.refresh).header("User-Agent", "another/1.0");
    let next = Tokens::of(&app.send(request).await.json_status(200));
    let listed = sessions(&app, &next.access).await;
    let b_now = listed
        .iter()
        .find(|s| id_of(s) == b.sid())
        .expect("session b");
    assert_eq!(b_now["user_agent"], short);
}

async fn sessions_last_used_at_moves_on_refresh(app: TestApp) {
    let user = app.user("olive").await;
    let login_time = app.clock_now();
    let t = login_tokens(&app, &user.email, PASSWORD).await;
    app.clock.advance(time::Duration::seconds(90));
    let next = refresh_ok(&app, &t.refresh).await;
    let listed = sessions(&app, &next.access).await;
    let mine = listed
        .iter()
        .find(|s| id_of(s) == t.sid())
        .expect("the session");
    assert_eq!(ts(&mine["created_at"]), login_time);
    assert_eq!(
        ts(&mine["last_used_at"]),
        login_time + time::Duration::seconds(90)
    );
    assert_eq!(
        ts(&mine["expires_at"]),
        login_time + time::Duration::seconds(90) + time::Duration::days(14)
    );
    // Using an access token is not a refresh: last_used_at stays.
    app.clock.advance(time::Duration::seconds(30));
    assert_access(&app, &next.access).await;
    let listed = sessions(&app, &next.access).await;
    let mine = listed
        .iter()
        .find(|s| id_of(s) == t.sid())
        .expect("the session");
    assert_eq!(
        ts(&mine["last_used_at"]),
        login_time + time::Duration::seconds(90)
    );
    // The other session was not touched.
    let other = listed
        .iter()
        .find(|s| id_of(s) == sid_of(&user.token))
        .expect("the first session");
    assert_eq!(ts(&other["last_used_at"]), login_time);
}

async fn delete_session_ends_that_session_only(app: TestApp) {
    let user = app.user("pia").await;
    let other = app.user("pam").await;
    let a = login_tokens(&app, &user.email, PASSWORD).await;
    let b = login_tokens(&app, &user.email, PASSWORD).await;
    let theirs = login_tokens(&app, &other.email, PASSWORD).await;
    let r = app
        .delete(&format!("/sessions/{}", a.sid()), &b.access)
        .await;
    r.assert_status(204);
    assert!(r.text.is_empty(), "204 has no body: {:?}", r.text);
    assert_dead(&app, &a).await;
    assert_access(&app, &b.access).await;
    assert_access(&app, &user.token).await;
    assert_access(&app, &theirs.access).await;
    // Ending the current session works too (like a logout).
    app.delete(&format!("/sessions/{}/", b.sid()), &b.access)
        .await
        .assert_status(204);
    assert_dead(&app, &b).await;
    assert_access(&app, &user.token).await;
    let still = refresh_ok(&app, &theirs.refresh).await;
    assert_access(&app, &still.access).await;
}

async fn delete_session_of_anything_but_an_own_active_session_is_404(app: TestApp) {
    let user = app.user("quin").await;
    let other = app.user("quil").await;
    let theirs = login_tokens(&app, &other.email, PASSWORD).await;
    let not_found = |id: i64| format!("Session with id: {id} does not exist");
    // Another user's session: 404, and it lives on.
    app.delete(&format!("/sessions/{}", theirs.sid()), &user.token)
        .await
        .assert_error(404, &not_found(theirs.sid()));
    assert_access(&app, &theirs.access).await;
    let theirs = refresh_ok(&app, &theirs.refresh).await;
    assert_access(&app, &theirs.access).await;
    // Nonexistent ids.
    for id in [theirs.sid() + 1000, i64::MAX] {
        app.delete(&format!("/sessions/{id}"), &user.token)
            .await
            .assert_error(404, &not_found(id));
    }
    // An already ended one.
    let ended = login_tokens(&app, &user.email, PASSWORD).await;
    app.delete(&format!("/sessions/{}", ended.sid()), &user.token)
        .await
        .assert_status(204);
    app.delete(&format!("/sessions/{}", ended.sid()), &user.token)
        .await
        .assert_error(404, &not_found(ended.sid()));
    // An expired one (the current token must outlive it: refresh that).
    let current = login_tokens(&app, &user.email, PASSWORD).await;
    app.clock
        .advance(time::Duration::days(14) - time::Duration::seconds(1));
    let current = refresh_ok(&app, &current.refresh).await;
    app.clock.advance(time::Duration::seconds(1));
    let expired = sid_of(&user.token);
    app.delete(&format!("/sessions/{expired}"), &current.access)
        .await
        .assert_error(404, &not_found(expired));
}

async fn delete_session_validates_its_id_after_the_token(app: TestApp) {
    let user = app.user("rae").await;
    for id in ["0", "-1", "abc", "1.5", "9223372036854775808", "%20"] {
        let path = format!("/sessions/{id}");
        let r = app.delete(&path, &user.token).await;
        assert_eq!(r.status, 422, "{path}: {}", r.text);
        r.error_detail(422);
        // Authentication is checked first.
        let r = app.send(app.request(Method::DELETE, &path)).await;
        assert_eq!(r.error_detail(401), NOT_AUTHENTICATED, "{path}");
    }
    let sid = sid_of(&user.token);
    app.send(app.request(Method::DELETE, &format!("/sessions/{sid}")))
        .await
        .assert_error(401, NOT_AUTHENTICATED);
    app.delete(&format!("/sessions/{sid}"), "not-a-token")
        .await
        .assert_error(401, BAD_TOKEN);
    assert_access(&app, &user.token).await;
    app.send(
        app.request(Method::PUT, &format!("/sessions/{sid}"))
            .bearer_auth(&user.token),
    )
    .await
    .assert_error(405, "Method Not Allowed");
}

async fn logout_ends_the_current_session_with_its_refresh_token(app: TestApp) {
    let user = app.user("sara").await;
    let other = app.user("sven").await;
    let a = login_tokens(&app, &user.email, PASSWORD).await;
    let b = login_tokens(&app, &user.email, PASSWORD).await;
    // A refreshed session's older access token logs it out too.
    let a2 = refresh_ok(&app, &a.refresh).await;
    post_empty(&app, "/logout", &a.access)
        .await
        .assert_status(204);
    assert_dead(&app, &a2).await;
    app.get("/profile", &a.access)
        .await
        .assert_error(401, BAD_TOKEN);
    post_empty(&app, "/logout", &a2.access)
        .await
        .assert_error(401, BAD_TOKEN);
    assert_access(&app, &b.access).await;
    assert_access(&app, &other.token).await;
    let ids: Vec<i64> = sessions(&app, &b.access).await.iter().map(id_of).collect();
    assert_eq!(ids, [b.sid(), sid_of(&user.token)]);
    refresh_ok(&app, &b.refresh).await;
}

async fn logout_all_ends_every_session_of_the_caller(app: TestApp) {
    let user = app.user("tess").await;
    let other = app.user("theo").await;
    let theirs = login_tokens(&app, &other.email, PASSWORD).await;
    let a = login_tokens(&app, &user.email, PASSWORD).await;
    let b = login_tokens(&app, &user.email, PASSWORD).await;
    let b = refresh_ok(&app, &b.refresh).await;
    let r = post_empty(&app, "/logout/all", &a.access).await;
    r.assert_status(204);
    assert!(r.text.is_empty(), "{:?}", r.text);
    assert_dead(&app, &a).await;
    assert_dead(&app, &b).await;
    app.get("/profile", &user.token)
        .await
        .assert_error(401, BAD_TOKEN);
    post_empty(&app, "/logout/all", &a.access)
        .await
        .assert_error(401, BAD_TOKEN);
    // Other users are unaffected.
    assert_access(&app, &other.token).await;
    let theirs = refresh_ok(&app, &theirs.refresh).await;
    assert_access(&app, &theirs.access).await;
    // The user may log in again.
    let again = login_tokens(&app, &user.email, PASSWORD).await;
    assert_eq!(sessions(&app, &again.access).await.len(), 1);
    app.send(app.request(Method::POST, "/logout/all"))
        .await
        .assert_error(401, NOT_AUTHENTICATED);
    post_empty(&app, "/logout/all/", &again.access)
        .await
        .assert_status(204);
    assert_dead(&app, &again).await;
}

async fn admin_ends_every_session_of_a_user(app: TestApp) {
    let admin = app.admin().await;
    let user = app.user("uma").await;
    let other = app.user("ugo").await;
    let a = login_tokens(&app, &user.email, PASSWORD).await;
    let path = format!("/users/{}/sessions", user.id);
    // Not for users, not even for themselves, nor for another user.
    app.delete(&path, &user.token)
        .await
        .assert_error(403, FORBIDDEN);
    app.delete(&path, &other.token)
        .await
        .assert_error(403, FORBIDDEN);
    app.delete(&format!("/users/{}/sessions", admin.id), &user.token)
        .await
        .assert_error(403, FORBIDDEN);
    assert_access(&app, &a.access).await;
    assert_access(&app, &admin.token).await;
    // A missing user.
    let missing = user.id + 1000;
    app.delete(&format!("/users/{missing}/sessions"), &admin.token)
        .await
        .assert_error(404, &format!("User with id: {missing} does not exist"));
    app.delete("/users/0/sessions", &admin.token)
        .await
        .assert_status(422);
    app.send(app.request(Method::DELETE, &path))
        .await
        .assert_error(401, NOT_AUTHENTICATED);
    // Every session of that user ends; the admin's and others' live on.
    let r = app.delete(&path, &admin.token).await;
    r.assert_status(204);
    assert!(r.text.is_empty(), "{:?}", r.text);
    assert_dead(&app, &a).await;
    app.get("/profile", &user.token)
        .await
        .assert_error(401, BAD_TOKEN);
    assert_access(&app, &admin.token).await;
    assert_access(&app, &other.token).await;
    // Again, with no sessions left: still 204. The user may log in again.
    app.delete(&path, &admin.token).await.assert_status(204);
    let again = login_tokens(&app, &user.email, PASSWORD).await;
    assert_access(&app, &again.access).await;
    // An admin may end their own sessions this way.
    let own = format!("/users/{}/sessions", admin.id);
    app.delete(&own, &admin.token).await.assert_status(204);
    app.get("/profile", &admin.token)
        .await
        .assert_error(401, BAD_TOKEN);
    assert_access(&app, &again.access).await;
}

async fn change_password_keeps_the_current_session_only(app: TestApp) {
    let user = app.user("vera").await;
    let other = app.user("vic").await;
    let current = login_tokens(&app, &user.email, PASSWORD).await;
    let current = refresh_ok(&app, &current.refresh).await;
    let elsewhere = login_tokens(&app, &user.email, PASSWORD).await;
    let theirs = login_tokens(&app, &other.email, PASSWORD).await;
    let new_password = "a brand new password";
    let r = change_password(&app, &current.access, PASSWORD, new_password).await;
    r.assert_status(204);
    assert!(r.text.is_empty(), "{:?}", r.text);
    // The current session goes on, its refresh token too.
    assert_access(&app, &current.access).await;
    assert_dead(&app, &elsewhere).await;
    app.get("/profile", &user.token)
        .await
        .assert_error(401, BAD_TOKEN);
    let ids: Vec<i64> = sessions(&app, &current.access)
        .await
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, [current.sid()]);
    let next = refresh_ok(&app, &current.refresh).await;
    assert_access(&app, &next.access).await;
    // The new password logs in, the old one does not.
    app.login(&user.email, PASSWORD)
        .await
        .assert_error(401, "Invalid Credentials");
    let fresh = login_tokens(&app, &user.email, new_password).await;
    assert_access(&app, &fresh.access).await;
    // Other users are unaffected.
    assert_access(&app, &theirs.access).await;
    login_tokens(&app, &other.email, PASSWORD).await;
    // And back: the current password is now the new one.
    change_password(&app, &fresh.access, PASSWORD, "yet another password")
        .await
        .assert_error(403, "Current password is incorrect");
    change_password(&app, &fresh.access, new_password, PASSWORD)
        .await
        .assert_status(204);
    assert_dead(&app, &next).await;
    login_tokens(&app, &user.email, PASSWORD).await;
}

async fn change_password_rejects_wrong_or_invalid_passwords(app: TestApp) {
    let user = app.user("wren").await;
    let other = login_tokens(&app, &user.email, PASSWORD).await;
    change_password(&app, &user.token, "wrong password", "a new password")
        .await
        .assert_error(403, "Current password is incorrect");
    change_password(&app, &user.token, "", "a new password")
        .await
        .assert_error(403, "Current password is incorrect");
    let too_long = format!("{PASSWORD}{}", "x".repeat(80));
    change_password(&app, &user.token, &too_long, "a new password")
        .await
        .assert_error(403, "Current password is incorrect");
    // The new password: 8 characters to 72 bytes.
    for new in ["1234567", "", &"a".repeat(73), &"é".repeat(37)] {
        change_password(&app, &user.token, PASSWORD, new)
            .await
            .assert_invalid("new_password");
    }
    // Missing or wrongly typed fields.
    for body in [
        json!({ "current_password": PASSWORD }),
        json!({ "current_password": PASSWORD, "new_password": null }),
        json!({ "current_password": PASSWORD, "new_password": 12345678 }),
    ] {
        app.put_json("/users/me/password", &user.token, &body)
            .await
            .assert_invalid("new_password");
    }
    for body in [
        json!({ "new_password": "a new password" }),
        json!({ "current_password": 5, "new_password": "a new password" }),
    ] {
        app.put_json("/users/me/password", &user.token, &body)
            .await
            .assert_invalid("current_password");
    }
    // Nothing changed: every session lives, the password is the same.
    assert_access(&app, &user.token).await;
    assert_access(&app, &other.access).await;
    refresh_ok(&app, &other.refresh).await;
    login_tokens(&app, &user.email, PASSWORD).await;
    // Authentication first.
    let body = json!({ "current_password": PASSWORD, "new_password": "a new password" });
    app.send(app.request(Method::PUT, "/users/me/password").json(&body))
        .await
        .assert_error(401, NOT_AUTHENTICATED);
    app.send(
        app.request(Method::PUT, "/users/me/password")
            .body("not json"),
    )
    .await
    .assert_error(401, NOT_AUTHENTICATED);
    app.put_json("/users/me/password", "not-a-token", &body)
        .await
        .assert_error(401, BAD_TOKEN);
    // The limits themselves are fine: 8 characters, 72 bytes.
    change_password(&app, &user.token, PASSWORD, "12345678")
        .await
        .assert_status(204);
    change_password(&app, &user.token, "12345678", &"é".repeat(36))
        .await
        .assert_status(204);
    login_tokens(&app, &user.email, &"é".repeat(36)).await;
}

async fn change_password_failures_are_throttled_like_logins(app: TestApp) {
    let user = app.user("xia").await;
    let bystander = app.user("xavi").await;
    for _ in 0..5 {
        change_password(&app, &user.token, "wrong password", "a new password")
            .await
            .assert_error(403, "Current password is incorrect");
    }
    let retry_after = |r: &Resp| -> u64 {
        r.header("retry-after")
            .unwrap_or_else(|| panic!("Retry-After: {:?}", r.headers))
            .parse()
            .expect("Retry-After in seconds")
    };
    // Throttled, even with the right current password.
    for current in ["wrong password", PASSWORD] {
        let r = change_password(&app, &user.token, current, "a new password").await;
        r.assert_error(429, "Too many login attempts");
        assert!((1..=900).contains(&retry_after(&r)), "{:?}", r.headers);
    }
    // And so is the login with that email.
    let r = app.login(&user.email, PASSWORD).await;
    r.assert_error(429, "Too many login attempts");
    assert!((1..=900).contains(&retry_after(&r)));
    // Other emails are not; the password did not change.
    login_tokens(&app, &bystander.email, PASSWORD).await;
    assert_access(&app, &user.token).await;
    app.clock.advance(time::Duration::seconds(900));
    login_tokens(&app, &user.email, PASSWORD).await;
    // Wrong logins count against the password route as well.
    for _ in 0..5 {
        app.login(&user.email, "wrong password")
            .await
            .assert_error(401, "Invalid Credentials");
    }
    let r = change_password(&app, &user.token, PASSWORD, "a new password").await;
    r.assert_error(429, "Too many login attempts");
    retry_after(&r);
}

async fn token_sid_must_name_an_active_session_of_its_user(app: TestApp) {
    let user = app.user("yoko").await;
    let other = app.user("yuri").await;
    let own = app.claims(user.id);
    // The control: the claims the service would issue verify.
    assert_access(&app, &app.forge(&own)).await;
    let mut claims = own.clone();
    claims.as_object_mut().expect("object").remove("sid");
    app.get("/profile", &app.forge(&claims))
        .await
        .assert_error(401, BAD_TOKEN);
    for sid in [
        json!("0"),
        json!("-1"),
        json!("abc"),
        json!(""),
        json!(" 1"),
        json!("1e3"),
        json!("9223372036854775808"),
        json!(null),
        json!(true),
    ] {
        let mut claims = own.clone();
        claims["sid"] = sid.clone();
        let r = app.get("/profile", &app.forge(&claims)).await;
        assert_eq!(r.error_detail(401), BAD_TOKEN, "sid {sid}");
    }
    // The sid of another user's session, with this user's sub.
    let mut claims = own.clone();
    claims["sid"] = json!(sid_of(&other.token).to_string());
    app.get("/profile", &app.forge(&claims))
        .await
        .assert_error(401, BAD_TOKEN);
    // A session that does not exist, and one that has ended.
    let mut claims = own.clone();
    claims["sid"] = json!((sid_of(&other.token) + 1000).to_string());
    app.get("/profile", &app.forge(&claims))
        .await
        .assert_error(401, BAD_TOKEN);
    let ended = login_tokens(&app, &user.email, PASSWORD).await;
    post_empty(&app, "/logout", &ended.access)
        .await
        .assert_status(204);
    let mut claims = own.clone();
    claims["sid"] = json!(ended.sid().to_string());
    app.get("/profile", &app.forge(&claims))
        .await
        .assert_error(401, BAD_TOKEN);
    // The user's own live sessions still verify.
    assert_access(&app, &user.token).await;
    assert_access(&app, &other.token).await;
}

async fn sessions_end_on_every_instance_sharing_the_store(app: TestApp) {
    let sibling = app.spawn_sibling(no_tweak).await;
    let user = app.user("zoe").await;
    let a = login_tokens(&app, &user.email, PASSWORD).await;
    let b = login_tokens(&sibling, &user.email, PASSWORD).await;
    // Tokens from one instance work on the other, refresh included.
    assert_access(&sibling, &a.access).await;
    let a = refresh_ok(&sibling, &a.refresh).await;
    assert_access(&app, &a.access).await;
    let b = refresh_ok(&app, &b.refresh).await;
    // Reuse on one instance ends the session on the other.
    let c = login_tokens(&app, &user.email, PASSWORD).await;
    let c2 = refresh_ok(&app, &c.refresh).await;
    refresh(&sibling, &c.refresh)
        .await
        .assert_error(401, INVALID_REFRESH);
    assert_dead(&app, &c2).await;
    // Ended on one, dead on the other.
    post_empty(&app, "/logout", &a.access)
        .await
        .assert_status(204);
    assert_dead(&sibling, &a).await;
    sibling
        .delete(&format!("/sessions/{}", b.sid()), &user.token)
        .await
        .assert_status(204);
    assert_dead(&app, &b).await;
    let ids: Vec<i64> = sessions(&sibling, &user.token)
        .await
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(ids, [sid_of(&user.token)]);
    post_empty(&sibling, "/logout/all", &user.token)
        .await
        .assert_status(204);
    app.get("/profile", &user.token)
        .await
        .assert_error(401, BAD_TOKEN);
    sibling.stop().await;
}

async fn concurrent_refreshes_on_two_instances_have_one_winner(app: TestApp) {
    let sibling = app.spawn_sibling(no_tweak).await;
    let user = app.user("zara").await;
    for round in 0..3 {
        let tokens = login_tokens(&app, &user.email, PASSWORD).await;
        let requests = (0..10)
            .map(|n| {
                let instance = if n % 2 == 0 { &app } else { &sibling };
                refresh_request(instance, &tokens.refresh)
            })
            .collect();
        let won = one_winner(&app.send_concurrently(requests).await, round);
        assert_dead(&app, &won).await;
        assert_dead(&sibling, &won).await;
    }
    assert_access(&sibling, &user.token).await;
    sibling.stop().await;
}

/// The password change and the post routes check a verified token against
/// the store in their own call; a request whose parameters or body are
/// refused before that call still answers 401 first when the token's
/// session has ended (API.md: authentication is checked first).
async fn an_ended_session_s_token_is_refused_before_its_request(app: TestApp) {
    let user = app.user("uma").await;
    let ended = login_tokens(&app, &user.email, PASSWORD).await;
    post_empty(&app, "/logout", &ended.access)
        .await
        .assert_status(204);
    let valid = json!({ "current_password": PASSWORD, "new_password": "a new password" });
    for body in [
        valid.clone(),
        json!({ "current_password": PASSWORD, "new_password": "short" }),
        json!({ "current_password": PASSWORD }),
    ] {
        app.put_json("/users/me/password", &ended.access, &body)
            .await
            .assert_error(401, BAD_TOKEN);
        // The same request with a live token is refused for its body.
        if body != valid {
            let r = app.put_json("/users/me/password", &user.token, &body).await;
            assert_eq!(r.status, 422, "{body}: {}", r.text);
        }
    }
    app.send(
        app.request(Method::PUT, "/users/me/password")
            .bearer_auth(&ended.access)
            .body("not json"),
    )
    .await
    .assert_error(401, BAD_TOKEN);
    for path in [
        "/posts?limit=0",
        "/posts?limit=101",
        "/posts?skip=-1",
        "/posts?before=0",
        "/posts?search=%00",
        "/posts?limit=abc",
        "/posts",
        "/posts/0",
        "/posts/abc",
        "/posts/1",
    ] {
        app.get(path, &ended.access)
            .await
            .assert_error(401, BAD_TOKEN);
    }
    // Nothing was counted against the user's password.
    login_tokens(&app, &user.email, PASSWORD).await;
}
