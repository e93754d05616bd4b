//! `UserStore` over PostgreSQL: users, credentials, roles, deletion with
//! cascade, password changes.

use async_trait::async_trait;
use tokio_postgres::error::SqlState;

use super::{PgStore, errors::bad_row, queries, rows};
use crate::domain::{
    EmailAddress, NewUser, PasswordHash, Role, SessionId, StoreError, User, UserId, UserPage,
};
use crate::ports::{CreateUserError, KeepAdmin, UserStore};

/// The unique constraint on the (normalised) email.
const EMAIL_KEY: &str = "users_email_key";

#[async_trait]
impl UserStore for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.ping_raw().await.map_err(|e| e.into_store("ping"))
    }

    async fn create(&self, new: NewUser) -> Result<User, CreateUserError> {
        let now = self.clock.now();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [
            &new.email.as_str(),
            &new.password_hash.expose(),
            &new.role.as_str(),
            &now,
        ];
        match self.query_opt(queries::INSERT_USER, &params).await {
            Ok(Some(row)) => Ok(rows::user(&row, &rows::USER)?),
            Ok(None) => Err(StoreError::Unavailable("create user: no row returned".into()).into()),
            Err(e) if e.violates(&SqlState::UNIQUE_VIOLATION, EMAIL_KEY) => {
                Err(CreateUserError::EmailTaken)
            }
            Err(e) => Err(e.into_store("create user").into()),
        }
    }

    async fn get(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = self
            .query_opt(queries::USER_BY_ID, &[&id.get()])
            .await
            .map_err(|e| e.into_store("get user"))?;
        row.map(|r| rows::user(&r, &rows::USER)).transpose()
    }

    async fn get_credentials(
        &self,
        email: &EmailAddress,
    ) -> Result<Option<(User, PasswordHash)>, StoreError> {
        let row = self
            .query_opt(queries::CREDENTIALS, &[&email.as_str()])
            .await
            .map_err(|e| e.into_store("get credentials"))?;
        row.map(|r| rows::credentials(&r)).transpose()
    }

    async fn list(&self, UserPage { after, page }: UserPage) -> Result<Vec<User>, StoreError> {
        // Ids are positive: above 0 is every user.
        let after = after.map_or(0, UserId::get);
        let found = self
            .query(queries::LIST_USERS, &[&page.limit(), &page.skip(), &after])
            .await
            .map_err(|e| e.into_store("list users"))?;
        found.iter().map(|r| rows::user(r, &rows::USER)).collect()
    }

    async fn set_role(&self, id: UserId, role: Role) -> Result<KeepAdmin<User>, StoreError> {
        let found = self
            .query(queries::SET_ROLE_LOCKED, &[&id.get(), &role.as_str()])
            .await
            .map_err(|e| e.into_store("set role"))?;
        let Some(row) = found.first() else {
            return Ok(KeepAdmin::NotFound);
        };
        let changed: bool = row.try_get("changed").map_err(|e| bad_row("users", e))?;
        Ok(if changed {
            KeepAdmin::Done(rows::user(row, &rows::USER)?)
        } else {
            KeepAdmin::LastAdmin
        })
    }

    async fn set_password(
        &self,
        id: UserId,
        hash: PasswordHash,
        keep: SessionId,
    ) -> Result<bool, StoreError> {
        let changed = self
            .query_opt(
                queries::SET_PASSWORD,
                &[&id.get(), &hash.expose(), &keep.get()],
            )
            .await
            .map_err(|e| e.into_store("set password"))?;
        Ok(changed.is_some())
    }

    async fn delete(&self, id: UserId) -> Result<KeepAdmin<()>, StoreError> {
        let found = self
            .query(queries::DELETE_USER_LOCKED, &[&id.get()])
            .await
            .map_err(|e| e.into_store("delete user"))?;
        let row = found
            .first()
            .ok_or_else(|| StoreError::Unavailable("delete user: no row".into()))?;
        let read = |name| {
            row.try_get::<_, bool>(name)
                .map_err(|e| bad_row("users", e))
        };
        Ok(match (read("deleted")?, read("existed")?) {
            (true, _) => KeepAdmin::Done(()),
            (false, true) => KeepAdmin::LastAdmin,
            (false, false) => KeepAdmin::NotFound,
        })
    }
}
