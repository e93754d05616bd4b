//! `/users` and `/profile`: registration, look-ups, the caller's own
//! account (`/users/me`, its password) and administration.

use poem::web::{Data, RemoteAddr};
use poem_openapi::param::{Path, Query};
use poem_openapi::{ApiResponse, OpenApi};

use super::error::{ApiError, Errors, id_range, status::*};
use super::json::{JsonOut, StrictJson};
use super::models::{PasswordBody, ProfileOut, RegisterBody, RoleBody, RoleName, UserOut};
use super::paging::next_link;
use super::security::{Auth, VerifiedToken, auth_first};
use super::{ApiTags, user_id};
use crate::domain::{EmailAddress, FieldError, Page, Password, Role, UserId, UserPage};
use crate::service::Service;

/// The user routes.
#[derive(Default)]
pub struct UsersApi;

fn default_limit() -> i64 {
    10
}

fn default_skip() -> i64 {
    0
}

/// A registered user.
#[derive(ApiResponse)]
enum CreatedResponse {
    /// The new user.
    #[oai(status = 201)]
    Created(JsonOut<UserOut>),
}

/// A user.
#[derive(ApiResponse)]
enum UserResponse {
    /// The user.
    #[oai(status = 200)]
    Ok(JsonOut<UserOut>),
}

/// Users.
#[derive(ApiResponse)]
enum ListResponse {
    /// A page of users, ascending id.
    #[oai(status = 200)]
    Ok(
        JsonOut<Vec<UserOut>>,
        /// On a full page, the next one (RFC 8288): the same query with
        /// `after` set to the page's last id and `skip` dropped, as in
        /// `</users?limit=10&after=42>; rel="next"`.
        #[oai(header = "Link")]
        Option<String>,
    ),
}

/// The caller's profile.
#[derive(ApiResponse)]
enum ProfileResponse {
    /// A welcome and the caller.
    #[oai(status = 200)]
    Ok(JsonOut<ProfileOut>),
}

/// A password changed.
#[derive(ApiResponse)]
enum PasswordResponse {
    /// Changed; every other session of the caller has ended.
    #[oai(status = 204)]
    NoContent,
}

/// A deletion.
#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted, with the user's posts and votes.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(tag = "ApiTags::Users")]
impl UsersApi {
    /// Register
    ///
    /// Emails are stored trimmed and lower-cased, and compared without
    /// regard to case.
    #[oai(path = "/users", method = "post")]
    async fn create(
        &self,
        service: Data<&Service>,
        body: StrictJson<RegisterBody>,
    ) -> Result<CreatedResponse, Errors<{ BODY | CONFLICT | UNAVAILABLE }>> {
        let email = EmailAddress::parse(&body.0.email)?;
        let password = Password::parse(&body.0.password)?;
        let user = service.register(email, password).await?;
        Ok(CreatedResponse::Created(JsonOut(user.into())))
    }

    /// The caller's profile
    #[oai(path = "/profile", method = "get")]
    async fn profile(&self, auth: Auth) -> Result<ProfileResponse, Errors<AUTHED>> {
        let user = auth.caller().user.clone();
        let message = format!("Welcome {}", user.email);
        Ok(ProfileResponse::Ok(JsonOut(ProfileOut {
            message,
            user: user.into(),
        })))
    }

    /// The caller
    #[oai(path = "/users/me", method = "get")]
    async fn me(&self, auth: Auth) -> Result<UserResponse, Errors<AUTHED>> {
        Ok(UserResponse::Ok(JsonOut(auth.caller().user.clone().into())))
    }

    /// Change the caller's password
    ///
    /// Needs the current password; a wrong one counts as a failed login
    /// (and is throttled like one). Every other session of the caller
    /// ends; the current one goes on.
    #[oai(path = "/users/me/password", method = "put", transform = "auth_first")]
    async fn change_password(
        &self,
        // Checked in the store call that counts the attempt (a password
        // change is two statements).
        token: VerifiedToken,
        service: Data<&Service>,
        remote: &RemoteAddr,
        body: StrictJson<PasswordBody>,
    ) -> Result<PasswordResponse, Errors<{ AUTHED | FORBIDDEN | BODY | THROTTLED }>> {
        let new = Password::parse(&body.0.new_password).map_err(|e| FieldError {
            field: "new_password",
            ..e
        })?;
        let addr = super::client_ip(remote);
        service
            .change_password(token.claims(), &body.0.current_password, new, addr)
            .await?;
        Ok(PasswordResponse::NoContent)
    }

    /// Read a user
    #[oai(path = "/users/:id", method = "get")]
    async fn get(
        &self,
        // Any user may read any user: the token is checked, nothing more.
        _auth: Auth,
        service: Data<&Service>,
        /// The user's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
    ) -> Result<UserResponse, Errors<{ AUTHED | NOT_FOUND | INVALID }>> {
        let user = service.get_user(user_id(id.0)?).await?;
        Ok(UserResponse::Ok(JsonOut(user.into())))
    }

    /// List users (admins)
    ///
    /// Ascending id. `after` is a cursor: only users with an id above it,
    /// and `skip` applies after it. A full page carries a `Link` header to
    /// the next one.
    #[oai(path = "/users", method = "get")]
    async fn list(
        &self,
        auth: Auth,
        service: Data<&Service>,
        /// Page size, 1 to 100.
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        limit: Query<i64>,
        /// Users to skip.
        #[oai(default = "default_skip", validator(minimum(value = "0")))]
        skip: Query<i64>,
        /// A user id: only users with an id above it (the cursor of the
        /// `Link` header).
        #[oai(validator(minimum(value = "1")))]
        after: Query<Option<i64>>,
    ) -> Result<ListResponse, Errors<{ AUTHED | FORBIDDEN | INVALID }>> {
        let page = Page::new(limit.0, skip.0)?;
        let after = after
            .0
            .map(|raw| UserId::new(raw).ok_or_else(|| ApiError::invalid(id_range("after"))))
            .transpose()?;
        let users = service
            .list_users(auth.caller(), UserPage { after, page })
            .await?;
        let link = next_link(
            "/users",
            page.limit(),
            users.len(),
            None,
            "after",
            users.last().map(|u| u.id.get()),
        );
        Ok(ListResponse::Ok(
            JsonOut(users.into_iter().map(UserOut::from).collect()),
            link,
        ))
    }

    /// Change a user's role (admins)
    ///
    /// Takes effect at once, for tokens already issued too.
    #[oai(path = "/users/:id/role", method = "patch")]
    async fn set_role(
        &self,
        auth: Auth,
        service: Data<&Service>,
        /// The user's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: StrictJson<RoleBody>,
    ) -> Result<UserResponse, Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | BODY }>> {
        let id = user_id(id.0)?;
        let role = match body.0.role {
            RoleName::User => Role::User,
            RoleName::Admin => Role::Admin,
        };
        let user = service.set_role(auth.caller(), id, role).await?;
        Ok(UserResponse::Ok(JsonOut(user.into())))
    }

    /// Delete a user (themself, or an admin)
    ///
    /// The user's posts and votes go with it, and its tokens stop working.
    #[oai(path = "/users/:id", method = "delete")]
    async fn delete(
        &self,
        auth: Auth,
        service: Data<&Service>,
        /// The user's id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
    ) -> Result<DeletedResponse, Errors<{ AUTHED | FORBIDDEN | NOT_FOUND | INVALID }>> {
        service.delete_user(auth.caller(), user_id(id.0)?).await?;
        Ok(DeletedResponse::NoContent)
    }
}
